"""Cloud Tasks' retry schedule and stop rule, as pure functions.

Source: the v2 ``RetryConfig`` reference (the field comments shipped in
``google/cloud/tasks_v2/types/queue.py`` of google-cloud-tasks 2.26, and the REST reference).

Retry interval (``max_doublings``): "A task's retry interval starts at ``min_backoff``, then doubles
``max_doublings`` times, then increases linearly, and finally retries at intervals of
``max_backoff`` ... For example, if ``min_backoff`` is 10s, ``max_backoff`` is 300s, and
``max_doublings`` is 3, then the task will first be retried in 10s. The retry interval will double
three times, and then increase linearly by 2^3 * 10s. ... Thus, the requests will retry at 10s, 20s,
40s, 80s, 160s, 240s, 300s, 300s, ...."  App Engine's ``queue.yaml`` page gives the
``max_doublings: 0`` case: 10s, 20s, 30s, ..., 200s, 200s.

The interpretation implemented by :func:`retry_delay`, with ``k`` = retries already made
(``k = 0`` is the wait before the first retry) and ``d`` = ``max_doublings``::

    k <= d :  min_backoff * 2**k                    (start, then d doublings)
    k >  d :  min_backoff * 2**d * (k - d + 1)      (linear steps of 2**d * min_backoff)
    always capped at max_backoff

It reproduces both documented sequences exactly (10/300/3 -> 10, 20, 40, 80, 160, 240, 300, 300;
10/200/0 -> 10, 20, 30, ...) and the design example 0.1/1/2 -> 0.1, 0.2, 0.4, 0.8, 1.0, 1.0. The
wait counts from the end of the failed attempt; that is the caller's job.

Stop rule (``max_attempts`` / ``max_retry_duration``): "Cloud Tasks stops retrying only when
``max_attempts`` and ``max_retry_duration`` are both satisfied ... If ``max_attempts`` is set to -1
and ``max_retry_duration`` is set to 0, the task is retried until the maximum task retention limit
is reached." The REST reference adds: "If you want your task to retry infinitely, you must set
``max_attempts`` to -1 and ``max_retry_duration`` to 0", and the v2beta2 text of the same field says
the time limit applies together with ``max_attempts`` only "if specified". So an unlimited value
(-1 attempts, or a zero duration) is a limit that is *not set*, not a limit that is never reached:

* both set: give up when both are reached;
* only one set: give up when that one is reached (the defaults 100 attempts / 0 s therefore stop
  after 100 attempts, and ``max_attempts = 1`` disables retries, as in production);
* neither set: never give up (the task is kept until the engine's retention limit).
"""

from __future__ import annotations

from collections.abc import Iterator

UNLIMITED_ATTEMPTS = -1
# The latest time a retry is scheduled for: google.protobuf.Timestamp's maximum
# (9999-12-31T23:59:59.999999Z) in microseconds; it fits SQLite's INTEGER and every formatter.
MAX_SCHEDULE_US = 253_402_300_799_999_999


def retry_delay(
    retries_so_far: int, min_backoff: float, max_backoff: float, max_doublings: int
) -> float:
    """Seconds to wait after a failed attempt before retry number ``retries_so_far + 1``.

    ``retries_so_far`` counts retries already made, so it is ``attempts_made - 1`` right after a
    failure (0 after the first attempt failed). Negative inputs are treated as 0.
    """
    k = max(0, retries_so_far)
    doublings = max(0, max_doublings)
    base = max(0.0, min_backoff)
    cap = max(0.0, max_backoff)
    if k <= doublings:
        # Exponent bounded by k so huge max_doublings values never build a huge float first.
        delay = base * 2.0 ** min(k, 1023)
    else:
        step = base * 2.0 ** min(doublings, 1023)
        delay = step * (k - doublings + 1)
    return min(delay, cap)


def schedule_after(from_us: int, delay: float) -> int:
    """``from_us`` plus ``delay`` seconds, in microseconds, never past :data:`MAX_SCHEDULE_US`.

    Stored configurations that predate the range checks (a backoff of 10^15 s) once made this
    overflow SQLite's integer on every attempt; no input can now.
    """
    if not delay > 0:  # also NaN
        return min(from_us, MAX_SCHEDULE_US)
    room_s = (MAX_SCHEDULE_US - from_us) / 1_000_000
    if delay >= room_s:
        return MAX_SCHEDULE_US
    return from_us + int(delay * 1_000_000)


def retry_delays(
    count: int, min_backoff: float, max_backoff: float, max_doublings: int
) -> Iterator[float]:
    """The first ``count`` waits of the schedule (handy for docs, tests and the CLI)."""
    for k in range(count):
        yield retry_delay(k, min_backoff, max_backoff, max_doublings)


def should_give_up(
    attempts_made: int,
    max_attempts: int,
    first_attempt_time: float | None,
    now: float,
    max_retry_duration: float,
) -> bool:
    """True when a failed task must not be attempted again (see the module docstring).

    ``attempts_made`` includes the attempt that just failed. ``max_attempts`` < 0 means unlimited
    (the API only allows -1); ``max_retry_duration`` <= 0 means unlimited. ``first_attempt_time``
    and ``now`` are epoch seconds on the same clock; pass as ``now`` the time the next attempt would
    start (end of the failed attempt + :func:`retry_delay`) so that no attempt is ever made after
    the duration limit has passed, or the end of the failed attempt to allow one last attempt.
    """
    count_limited = max_attempts >= 0
    time_limited = max_retry_duration > 0
    if not count_limited and not time_limited:
        return False
    count_reached = not count_limited or attempts_made >= max_attempts
    time_reached = not time_limited or (
        first_attempt_time is not None and now - first_attempt_time >= max_retry_duration
    )
    return count_reached and time_reached
