"""Idempotency drills (``--redeliver FRACTION``): deliver some successful tasks once more.

Delivery is at-least-once, so a handler must be safe to run twice. With a fraction above 0 the
dispatcher hands every successful attempt to :meth:`Redeliveries.offer`, which keeps that share
of them and sends the very same request again ``DELAY_S`` later
on the engine clock: same URL, body, task name and ``X-CloudTasks-*`` headers (retry and
execution counts, ETA), as a production duplicate looks. The duplicate's answer changes nothing
(the task is already done); it is recorded in the attempt log with ``redelivery: true``.
Pending duplicates live in memory only: a restart or ``reset`` drops them.

Which tasks get a duplicate is decided by a hash of the task's name (:func:`chosen`), not by a
random draw: at a given fraction a named task is always or never redelivered, so a test that
fails on a duplicate fails again when rerun.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import zlib
from typing import TYPE_CHECKING

from tasksctl.engine.attempt_log import Attempt
from tasksctl.engine.delivery import deliver
from tasksctl.engine.dispatch_build import build_delivery

if TYPE_CHECKING:
    from tasksctl.engine.clock import Timer
    from tasksctl.engine.dispatcher import Dispatcher
    from tasksctl.engine.rows import AttemptRow

log = logging.getLogger("tasksctl.engine.redeliver")

DELAY_S = 0.5
OUTCOME = "redelivered"


def chosen(task_name: str, fraction: float) -> bool:
    """Whether ``task_name`` is in the redelivered ``fraction`` (a stable hash of the name)."""
    if fraction <= 0:
        return False
    return fraction >= 1 or zlib.crc32(task_name.encode()) / 2**32 < fraction


class Redeliveries:
    """The pending duplicates of one dispatcher, sent when the engine clock reaches them."""

    def __init__(self, dispatcher: Dispatcher, fraction: float = 0.0) -> None:
        self.d = dispatcher
        self.fraction = fraction
        self._heap: list[tuple[int, int, str, AttemptRow]] = []  # due, seq, queue, row
        self._seq = itertools.count()
        self._timer: Timer | None = None
        self._sending: dict[str, int] = {}  # queue name -> duplicates on the wire
        self._tasks: set[asyncio.Task[None]] = set()

    def offer(self, queue_name: str, row: AttemptRow, finished_us: int) -> None:
        """A task succeeded: maybe schedule its duplicate (``row`` as it was dispatched)."""
        if not chosen(f"{queue_name}/tasks/{row.task_id}", self.fraction):
            return
        due = finished_us + int(DELAY_S * 1_000_000)
        heapq.heappush(self._heap, (due, next(self._seq), queue_name, row))
        if self._heap[0][0] == due:
            self._arm()

    def pending(self, queue_name: str) -> int:
        """Duplicates of ``queue_name`` not yet answered."""
        waiting = sum(1 for item in self._heap if item[2] == queue_name)
        return waiting + self._sending.get(queue_name, 0)

    def next_due_us(self) -> int | None:
        return self._heap[0][0] if self._heap else None

    def busy(self, now_us: int) -> bool:
        """A duplicate is due by ``now_us`` or on the wire."""
        return bool(self._sending) or (bool(self._heap) and self._heap[0][0] <= now_us)

    def clear(self) -> None:
        self._heap.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def stop(self) -> None:
        self.clear()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=1.0)

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._heap:
            self._timer = self.d.clock.call_at(self._heap[0][0], self._fire)

    def _fire(self) -> None:
        self._timer = None
        now = self.d.clock.now_us()
        loop = asyncio.get_running_loop()
        while self._heap and self._heap[0][0] <= now:
            _, _, queue_name, row = heapq.heappop(self._heap)
            self._sending[queue_name] = self._sending.get(queue_name, 0) + 1
            task = loop.create_task(self._send(queue_name, row), name="redelivery")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._arm()

    async def _send(self, queue_name: str, row: AttemptRow) -> None:
        d = self.d
        try:
            worker = d.workers.get(queue_name)
            if worker is None or worker.queue is None or d.stopping:
                return  # the queue is gone: nothing to duplicate into
            built = build_delivery(row, worker.queue, d.config.app_engine_host)
            if built.delivery is None:
                return
            result = await deliver(d.session(), built.delivery, keys=d.keys(), clock=d.clock)
            sent = built.delivery
            attempt = Attempt(
                queue=worker.queue.name, task=built.task_name, schedule_us=int(row.schedule_us),
                dispatch_us=round(result.started_at * 1e6), status=result.status,
                error=result.error, retry_count=sent.retry_count,
                execution_count=sent.execution_count, redelivery=True, outcome=OUTCOME,
            )  # fmt: skip
            d.attempt_log.add(attempt)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("redelivery in %s failed", queue_name)
        finally:
            left = self._sending.get(queue_name, 1) - 1
            if left > 0:
                self._sending[queue_name] = left
            else:
                self._sending.pop(queue_name, None)
