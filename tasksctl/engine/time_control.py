"""Moving the manual clock synchronously: every attempt due on the way is made, in time order.

:func:`advance_to` steps the :class:`~tasksctl.engine.clock.ManualClock` from one due time to
the next (tasks of running queues, pending ``--redeliver`` duplicates), and at each step waits
until the dispatcher has made every attempt due at that instant and committed its outcome;
a retry that falls due before the target is made at its own virtual time in a later step. So a
task failing for a simulated hour goes through its whole backoff schedule in one call. Paused
queues are skipped (their tasks wait, as in production). Rate limits and dispatch deadlines are
real durations: a queue limited to 1/s with 100 tasks due takes 100 real seconds to settle.

:func:`make_clock` builds the engine's clock from ``EngineConfig`` (``--clock``,
``--clock-start``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from functools import partial
from typing import TYPE_CHECKING

from tasksctl.engine import dispatch_records as drec
from tasksctl.engine.clock import Clock, ManualClock, RealClock

if TYPE_CHECKING:
    from tasksctl.engine.config import EngineConfig
    from tasksctl.engine.dispatcher import Dispatcher

CLOCK_REAL = "real"
CLOCK_MANUAL = "manual"
CLOCKS = (CLOCK_REAL, CLOCK_MANUAL)
SETTLE_POLL_S = 0.001


class ClockNotManual(Exception):
    """The engine runs on the real clock, which cannot be moved."""


class ClockBackwards(ValueError):
    """A requested time lies before the clock's current time."""


def make_clock(config: EngineConfig) -> Clock:
    """``RealClock`` for ``--clock real``; a ``ManualClock`` at ``--clock-start`` or now."""
    if config.clock == CLOCK_MANUAL:
        start = config.clock_start_us
        return ManualClock(time.time_ns() // 1000 if start is None else start)
    return RealClock()


def restart(clock: Clock, config: EngineConfig) -> None:
    """After a reset, a manual clock starts again at ``--clock-start``, or the real now."""
    if isinstance(clock, ManualClock):
        start = config.clock_start_us
        clock.restart(time.time_ns() // 1000 if start is None else start)


def clock_mode(clock: Clock) -> str:
    return CLOCK_MANUAL if isinstance(clock, ManualClock) else CLOCK_REAL


def manual(clock: Clock) -> ManualClock:
    if not isinstance(clock, ManualClock):
        raise ClockNotManual(
            "the engine runs on the real clock; start it with --clock manual to move time"
        )
    return clock


def _due_one(conn: sqlite3.Connection, queue_id: int, now_us: int) -> list[int]:
    return drec.due_ids(conn, queue_id, now_us, 1)


def _next_due(conn: sqlite3.Connection, queue_id: int, now_us: int) -> int | None:
    return drec.next_due(conn, queue_id, now_us)


def _idle(d: Dispatcher, now_us: int) -> bool:
    """Nothing of the dispatcher is due at ``now_us``, in flight, or waiting to be recorded."""
    if d.unrecorded or d.redeliveries.busy(now_us):
        return False
    for worker in list(d.workers.values()):
        if worker.in_flight or worker.dirty:
            return False
        if not worker.running:
            continue
        if d.store.read(partial(_due_one, queue_id=worker.queue_id, now_us=now_us)):
            return False
    return True


def next_due_us(d: Dispatcher, now_us: int) -> int | None:
    """The earliest time after ``now_us`` at which something is due (running queues only)."""
    times = [t for t in (d.redeliveries.next_due_us(),) if t is not None]
    for worker in list(d.workers.values()):
        if worker.running:
            nxt = d.store.read(partial(_next_due, queue_id=worker.queue_id, now_us=now_us))
            if nxt is not None:
                times.append(nxt)
    later = [t for t in times if t > now_us]
    return min(later) if later else None


async def settle(d: Dispatcher) -> None:
    """Wait until the dispatcher is idle at the clock's current time."""
    d.wake_all()
    while not _idle(d, d.clock.now_us()):
        await asyncio.sleep(SETTLE_POLL_S)


class TimeControl:
    """Serialises clock moves of one engine and counts the attempts each move made."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.d = dispatcher
        self._lock = asyncio.Lock()

    @property
    def mode(self) -> str:
        return clock_mode(self.d.clock)

    async def advance_to(self, target_us: int) -> int:
        """Move the manual clock to ``target_us``; returns how many attempts were made."""
        clock = manual(self.d.clock)
        async with self._lock:
            if target_us < clock.now_us():
                raise ClockBackwards("the clock only moves forward")
            before = self.d.attempt_log.total
            await settle(self.d)
            while (nxt := next_due_us(self.d, clock.now_us())) is not None and nxt <= target_us:
                clock.set(nxt)
                await settle(self.d)
            if target_us > clock.now_us():
                clock.set(target_us)
                await settle(self.d)
            return self.d.attempt_log.total - before

    async def advance(self, seconds: float) -> int:
        if seconds < 0:
            raise ClockBackwards("the clock only moves forward")
        return await self.advance_to(self.d.clock.now_us() + round(seconds * 1_000_000))
