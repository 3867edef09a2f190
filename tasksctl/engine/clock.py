"""The engine's wall clock: the one object every time decision of the engine asks.

Schedule and create times, retry due times, ``max_retry_duration``, the dedup window and queue
tombstones, operation expiry, store pruning, attempt records and the times in
``X-CloudTasks-*`` headers all read :meth:`Clock.now_us`; a wait for a wall time ("wake me when
this task is due") goes through :meth:`Clock.call_at`. :class:`RealClock` is the system clock;
:class:`ManualClock` stands still until a test moves it, and wakes the waits it passes.

Rate limits (``flow``) and dispatch deadlines are durations, not wall times: they stay on the
event loop's monotonic clock whatever the Clock.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol


class Timer(Protocol):
    """A pending :meth:`Clock.call_at`; ``cancel`` is safe after it ran."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """Wall time in microseconds since the epoch, and waits for a wall time."""

    def now_us(self) -> int:
        """The current time, integer microseconds since the epoch."""
        ...

    def time(self) -> float:
        """The current time, seconds since the epoch."""
        ...

    def call_at(self, when_us: int, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` on the running event loop once the time is ``when_us`` or later."""
        ...


class RealClock:
    """The system clock (``time.time_ns``); waits are the event loop's ``call_later``."""

    def now_us(self) -> int:
        return time.time_ns() // 1000

    def time(self) -> float:
        return time.time()

    def call_at(self, when_us: int, callback: Callable[[], None]) -> Timer:
        delay = max(0.0, (when_us - self.now_us()) / 1e6)
        return asyncio.get_running_loop().call_later(delay, callback)


# 2026-01-01T00:00:00Z: a fixed, realistic start for tests.
MANUAL_START_US = 1_767_225_600_000_000


class _ManualTimer:
    __slots__ = ("callback", "cancelled", "when_us")

    def __init__(self, when_us: int, callback: Callable[[], None]) -> None:
        self.when_us = when_us
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """A clock for tests: time stands still until :meth:`set` or :meth:`advance`.

    Moving the clock runs (synchronously, in due order) every ``call_at`` callback whose time
    has come, so a dispatcher sleeping until a schedule time wakes exactly when the test moves
    the clock there, and never earlier. Use it from the event-loop thread only.
    """

    def __init__(self, start_us: int = MANUAL_START_US) -> None:
        self._now_us = start_us
        self._timers: list[tuple[int, int, _ManualTimer]] = []
        self._order = itertools.count()

    def now_us(self) -> int:
        return self._now_us

    def time(self) -> float:
        return self._now_us / 1e6

    def call_at(self, when_us: int, callback: Callable[[], None]) -> Timer:
        if when_us <= self._now_us:
            return asyncio.get_running_loop().call_soon(callback)
        timer = _ManualTimer(when_us, callback)
        heapq.heappush(self._timers, (when_us, next(self._order), timer))
        return timer

    def set(self, now_us: int) -> None:
        """Move the clock to ``now_us`` (never backwards) and run the timers now due."""
        if now_us < self._now_us:
            raise ValueError(f"a ManualClock does not go back: {now_us} < {self._now_us}")
        self._now_us = now_us
        while self._timers and self._timers[0][0] <= now_us:
            _, _, timer = heapq.heappop(self._timers)
            if not timer.cancelled:
                timer.cancelled = True
                timer.callback()

    def restart(self, now_us: int) -> None:
        """Put the clock at ``now_us``, backwards too: only for an emptied engine (reset).

        Pending waits keep their times and run when the clock reaches them again.
        """
        self._now_us = now_us

    def advance(self, seconds: float = 0.0, *, us: int = 0) -> None:
        """Move the clock forward by ``seconds`` plus ``us`` microseconds."""
        self.set(self._now_us + round(seconds * 1e6) + us)

    def next_timer_us(self) -> int | None:
        """The earliest pending ``call_at`` time (what something is waiting for), or None."""
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    async def sleep_until(self, when_us: int) -> None:
        """Return once the clock has been moved to ``when_us`` or later."""
        await sleep_until(self, when_us)


async def sleep_until(clock: Clock, when_us: int) -> None:
    """Wait until ``clock`` reads ``when_us`` or later (a RealClock sleeps, a ManualClock waits)."""
    waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def wake() -> None:
        if not waiter.done():
            waiter.set_result(None)

    timer = clock.call_at(when_us, wake)
    try:
        await waiter
    finally:
        timer.cancel()
