"""Per-queue flow control: token bucket, derived burst size, 429/503 slowdown, concurrency cap.

Every class takes the time as an argument (``now``, seconds on ``time.monotonic()``'s clock) so
the rules can be tested without sleeping; none of them reads a clock or sleeps itself, except
:meth:`ConcurrencyLimit.acquire`, which waits for a free slot.

Token bucket (``RateLimits`` reference): "Each queue has a token bucket that holds tokens, up to
the maximum specified by ``max_burst_size``. Each time a task is dispatched, a token is removed
from the bucket. Tasks will be dispatched until the queue's bucket runs out of tokens. The bucket
will be continuously refilled with new tokens based on ``max_dispatches_per_second``."
:class:`TokenBucket` refills continuously (fractional rates such as 0.5/s work), starts full, and
:meth:`TokenBucket.set_rate` first settles the tokens earned at the old rate, so an UpdateQueue
applies at once without losing or inventing tokens.

Derived ``max_burst_size`` (output only; "Cloud Tasks will pick the value of max_burst_size based
on the value of max_dispatches_per_second"). Google does not publish the formula. Observed values:
500/s reports 100 (Google's own ``gcloud tasks queues describe`` sample for a default queue) and
1/s reports 10 (queues described in public projects). :func:`derive_max_burst_size` uses
``clamp(ceil(10 * rate), 1, 100)``, which matches both points, never drops below one token (so
0.05/s still dispatches) and is monotonic in the rate.

System throttling (Queue.rate_limits / HttpRequest reference): "The queue's actual dispatch rate
is the result of ... System throttling due to 429 (Too Many Requests) or 503 (Service Unavailable)
responses from the worker, high error rates, or to smooth sudden large traffic spikes"; "if the
worker returns 429, 503, or the rate of errors is high, Cloud Tasks will use a higher backoff
rate"; and for App Engine targets "503 ... will cause Cloud Tasks' traffic congestion control to
temporarily throttle the queue's dispatches. Unlike other types of task targets, a 429 ... from an
app handler does not cause traffic congestion control to throttle the queue." Google gives no
numbers; :class:`Slowdown` implements this documented rule of our own:

* 429 or 503 (503 only, for App Engine targets): effective rate x 0.5;
* any other 5xx ("high error rates"): effective rate x 0.75;
* never below ``min(configured rate, 1/s)``; at most one decrease per round trip: an answer to a
  request that started before the last decrease was already sent at the old rate and is ignored,
  so a burst of concurrent 503s halves the rate once, not fifty times;
* each 2xx answer lets the rate grow back exponentially in time, doubling per second elapsed
  since the previous change (``rate * 2 ** (dt / 1 s)``), up to the configured rate; 3xx/4xx
  (other than 429), connection errors and deadlines leave the rate alone (the retry schedule
  already backs those tasks off);
* a new configured rate applies at once: if not throttled the effective rate is the new rate,
  otherwise it is capped by it.

While throttled the bucket's capacity follows the effective rate too (``derive_max_burst_size``),
so an overloaded target is not hit with a full burst after an idle spell.

Concurrency (``max_concurrent_dispatches``): "After this threshold has been reached, Cloud Tasks
stops dispatching tasks until the number of concurrent requests decreases."
:class:`ConcurrencyLimit` is a counting gate whose cap can change at run time; lowering it below
the current in-flight count admits nothing new until enough requests finish, so the cap is never
exceeded.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque

MAX_DERIVED_BURST = 100
BURST_SECONDS = 10.0
MIN_THROTTLED_RATE = 1.0
THROTTLE_FACTOR = 0.5
ERROR_FACTOR = 0.75
RECOVERY_DOUBLING_SECONDS = 1.0
# A token due within this many seconds counts as present: float rounding must never leave the
# caller sleeping for a few ulps in a loop, and sub-microsecond timing means nothing here.
TOKEN_SLACK_SECONDS = 1e-6


def derive_max_burst_size(rate: float) -> int:
    """The ``max_burst_size`` reported for ``max_dispatches_per_second = rate``."""
    if not math.isfinite(rate) or rate <= 0:
        return 1
    # round() first so 0.3 * 10 = 3.0000000000000004 does not become 4.
    return max(1, min(MAX_DERIVED_BURST, math.ceil(round(rate * BURST_SECONDS, 9))))


class TokenBucket:
    """A continuously refilled token bucket; one token per dispatch."""

    __slots__ = ("_burst", "_rate", "_stamp", "_tokens")

    def __init__(self, rate: float, burst: int, now: float, *, full: bool = True) -> None:
        self._rate = max(0.0, rate)
        self._burst = max(1, burst)
        self._tokens = float(self._burst) if full else 0.0
        self._stamp = now

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def burst(self) -> int:
        return self._burst

    def tokens(self, now: float) -> float:
        """Tokens available at ``now`` (fractional)."""
        self._refill(now)
        return self._tokens

    def _refill(self, now: float) -> None:
        elapsed = now - self._stamp
        if elapsed > 0:
            self._tokens = min(float(self._burst), self._tokens + elapsed * self._rate)
            self._stamp = now

    def _missing(self) -> float:
        """Fraction of a token still missing, with the slack applied (<= 0: one is there)."""
        return 1.0 - self._tokens - self._rate * TOKEN_SLACK_SECONDS - 1e-12

    def try_take(self, now: float) -> bool:
        """Take one token if a whole one is available."""
        self._refill(now)
        if self._missing() <= 0:
            self._tokens = max(0.0, self._tokens - 1.0)
            return True
        return False

    def time_until_token(self, now: float) -> float:
        """Seconds until a whole token is available (0 if one is; ``inf`` at rate 0)."""
        self._refill(now)
        if self._missing() <= 0:
            return 0.0
        if self._rate <= 0:
            return math.inf
        return (1.0 - self._tokens) / self._rate

    def set_rate(self, rate: float, burst: int, now: float) -> None:
        """Change rate and capacity at ``now``, keeping the tokens earned so far (capped)."""
        self._refill(now)
        self._stamp = max(self._stamp, now)
        self._rate = max(0.0, rate)
        self._burst = max(1, burst)
        self._tokens = min(self._tokens, float(self._burst))


def _is_throttle(status: int, app_engine: bool) -> bool:
    return status == 503 or (status == 429 and not app_engine)


class Slowdown:
    """The documented 429/503 back-off of a queue's effective rate (see the module docstring)."""

    __slots__ = ("_changed_at", "_configured", "_decreased_at", "_effective")

    def __init__(self, configured_rate: float) -> None:
        self._configured = max(0.0, configured_rate)
        self._effective = self._configured
        self._changed_at = -math.inf
        self._decreased_at = -math.inf

    @property
    def configured_rate(self) -> float:
        return self._configured

    @property
    def effective_rate(self) -> float:
        return self._effective

    @property
    def throttled(self) -> bool:
        return self._effective < self._configured

    def floor(self) -> float:
        return min(self._configured, MIN_THROTTLED_RATE)

    def set_configured_rate(self, rate: float) -> None:
        """Apply a new ``max_dispatches_per_second`` at once."""
        was_throttled = self.throttled
        self._configured = max(0.0, rate)
        if was_throttled:
            self._effective = max(self.floor(), min(self._effective, self._configured))
        else:
            self._effective = self._configured

    def on_response(
        self, status: int | None, started_at: float, now: float, *, app_engine: bool = False
    ) -> bool:
        """Feed one attempt's outcome; returns True when the effective rate changed.

        ``started_at`` is when that attempt was sent and ``now`` when its answer arrived, both on
        the monotonic clock. ``status`` None (no HTTP answer) changes nothing.
        """
        if status is None:
            return False
        if 200 <= status <= 299:
            return self._recover(now)
        if _is_throttle(status, app_engine):
            return self._decrease(THROTTLE_FACTOR, started_at, now)
        if 500 <= status <= 599:
            return self._decrease(ERROR_FACTOR, started_at, now)
        return False

    def _decrease(self, factor: float, started_at: float, now: float) -> bool:
        if started_at < self._decreased_at:
            return False  # sent before the last decrease: already accounted for
        new = max(self.floor(), self._effective * factor)
        self._decreased_at = now
        self._changed_at = now
        if new == self._effective:
            return False
        self._effective = new
        return True

    def _recover(self, now: float) -> bool:
        if not self.throttled:
            return False
        elapsed = max(0.0, now - self._changed_at)
        grown = self._effective * 2.0 ** min(elapsed / RECOVERY_DOUBLING_SECONDS, 64.0)
        old, self._effective = self._effective, min(self._configured, grown)
        self._changed_at = now
        return self._effective != old


class ConcurrencyLimit:
    """A counting gate for ``max_concurrent_dispatches``; the cap may change at run time."""

    def __init__(self, limit: int) -> None:
        self._limit = max(0, limit)
        self._in_flight = 0
        self._peak = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def peak(self) -> int:
        """Highest in-flight count seen since creation or :meth:`reset_peak`."""
        return self._peak

    @property
    def available(self) -> int:
        return max(0, self._limit - self._in_flight)

    def reset_peak(self) -> None:
        self._peak = self._in_flight

    def try_acquire(self) -> bool:
        """Take a slot without waiting; False when the cap is reached or others wait first."""
        if self._in_flight < self._limit and not self._waiters:
            self._take()
            return True
        return False

    async def acquire(self) -> None:
        """Wait for a slot (first come, first served)."""
        if self.try_acquire():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # the slot was handed over just as we were cancelled
            else:
                self._remove_waiter(future)
            raise

    def release(self) -> None:
        """Give a slot back; hands it to the oldest waiter if the cap allows."""
        if self._in_flight <= 0:
            raise RuntimeError("ConcurrencyLimit.release() without a matching acquire")
        self._in_flight -= 1
        self._wake()

    def set_limit(self, limit: int) -> None:
        """Change the cap now; in-flight requests above a lowered cap simply finish."""
        self._limit = max(0, limit)
        self._wake()

    def _take(self) -> None:
        self._in_flight += 1
        self._peak = max(self._peak, self._in_flight)

    def _wake(self) -> None:
        while self._waiters and self._in_flight < self._limit:
            future = self._waiters.popleft()
            if not future.done():
                self._take()
                future.set_result(None)

    def _remove_waiter(self, future: asyncio.Future[None]) -> None:
        try:
            self._waiters.remove(future)
        except ValueError:
            pass
        self._wake()


class QueueFlow:
    """One queue's bucket, slowdown and concurrency gate kept consistent with each other.

    The dispatcher asks :meth:`delay_until_ready`, takes a token with :meth:`try_take` and a slot
    from :attr:`slots`, and reports every answer to :meth:`on_response`.
    """

    def __init__(self, rate: float, max_concurrent: int, now: float) -> None:
        self.slowdown = Slowdown(rate)
        self.bucket = TokenBucket(rate, derive_max_burst_size(rate), now)
        self.slots = ConcurrencyLimit(max_concurrent)

    @property
    def max_burst_size(self) -> int:
        """The value GetQueue reports: derived from the configured rate, not the throttled one."""
        return derive_max_burst_size(self.slowdown.configured_rate)

    @property
    def effective_rate(self) -> float:
        return self.slowdown.effective_rate

    def configure(self, rate: float, max_concurrent: int, now: float) -> None:
        """Apply UpdateQueue's rate limits at once."""
        self.slowdown.set_configured_rate(rate)
        self._sync_bucket(now)
        self.slots.set_limit(max_concurrent)

    def try_take(self, now: float) -> bool:
        return self.bucket.try_take(now)

    def delay_until_ready(self, now: float) -> float:
        """Seconds until the bucket holds a token (slots are awaited separately)."""
        return self.bucket.time_until_token(now)

    def on_response(
        self, status: int | None, started_at: float, now: float, *, app_engine: bool = False
    ) -> bool:
        """Feed an answer to the slowdown rule; True when the effective rate changed."""
        changed = self.slowdown.on_response(status, started_at, now, app_engine=app_engine)
        if changed:
            self._sync_bucket(now)
        return changed

    def _sync_bucket(self, now: float) -> None:
        rate = self.slowdown.effective_rate
        burst = min(self.max_burst_size, derive_max_burst_size(rate))
        self.bucket.set_rate(rate, burst, now)
