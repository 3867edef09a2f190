"""The engine's dispatcher: one scheduler per queue delivering due tasks over HTTP.

Each :class:`QueueWorker` loops: reload the queue's settings when told they changed; if the
queue is not RUNNING, wait; wait for a free concurrency slot and a token (flow.QueueFlow); read
a bounded batch of due task ids from the ``(queue_id, schedule_us)`` index, skipping the ones in
flight; start one attempt per task; when nothing is due, sleep until the next schedule time or
until woken (``on_tasks_changed``, RunTask, a slot freed). Only in-flight row ids live in
memory, so a backlog of a million tasks costs disk, not memory.

Leases are memory-only: a task in flight at ``kill -9`` is still in the database and is
dispatched again after restart (at-least-once); a 2xx deletes the row in the same commit that
makes it durable, so a completed task is never dispatched again.

Rules chosen (see ``apply_outcome`` for the recording side):

* RunTask dispatches at once, bypassing pause, token bucket and concurrency cap, and even when
  the task is already in flight (the RunTask reference: "even if the task is already running").
  It answers with the task as dispatched (``dispatch_count`` includes this attempt, which has
  no response yet). On failure the next schedule time is the RunTask call time plus the retry
  delay. The scheduler never claims a task while any attempt of it is in flight.
* Queue ``http_target`` overrides: header overrides replace task headers of the same name;
  ``http_method`` replaces the method; ``oidc_token``/``oauth_token`` replace the task's auth;
  ``uri_override`` parts (scheme, host, port, path, query) apply always in ``ALWAYS`` mode and,
  in ``IF_NOT_EXISTS`` (the default), only where the task URL lacks that part.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple

from tasksctl.engine import dispatch_records as drec
from tasksctl.engine import records, time_control
from tasksctl.engine.attempt_log import Attempt, AttemptLog
from tasksctl.engine.clock import Clock, RealClock
from tasksctl.engine.delivery import AttemptResult, deliver, make_session
from tasksctl.engine.dispatch_build import build_delivery
from tasksctl.engine.flow import QueueFlow
from tasksctl.engine.launch_gate import ApiActivity, LaunchGate
from tasksctl.engine.oidc import SigningKeys
from tasksctl.engine.outcome_rates import OutcomeRates
from tasksctl.engine.redeliver import Redeliveries
from tasksctl.engine.rows import AttemptRow
from tasksctl.engine.self_target import self_dispatch_problem
from tasksctl.engine.storage import StoreClosed
from tasksctl.engine.validation import STATE_RUNNING, set_timestamp_us
from tasksctl.errors import NotFound

if TYPE_CHECKING:
    import aiohttp

    from tasksctl.engine.config import EngineConfig
    from tasksctl.engine.storage import Storage

log = logging.getLogger("tasksctl.engine.dispatcher")

BATCH = 100
STOP_GRACE_S = 2.0
FAILED_KEEP_MIN_S = 600.0
STATS_WINDOW = 1000
# Answers received but not yet recorded, across all queues, beyond which no queue launches more:
# without this back-pressure a saturated dispatcher queues thousands of outcome writes ahead of
# the API's own writes, and CreateTask/ResumeQueue calls stall for seconds.
MAX_UNRECORDED = 500
UNRECORDED_PAUSE_S = 0.005


class RecentAttempt(NamedTuple):
    """One recorded attempt, for the side port's live figures (``/v1/stats``)."""

    at: float  # monotonic seconds
    outcome: str  # dispatch_records.apply_outcome's answer: done, retry, gave_up, gone
    latency_ms: float


class QueueWorker:
    """The scheduler of one queue."""

    def __init__(self, dispatcher: Dispatcher, name: str) -> None:
        self.d = dispatcher
        self.name = name
        self.queue_id = 0
        self.queue: Any = None
        self.flow: QueueFlow | None = None
        self.policy: drec.RetryPolicy | None = None
        self.in_flight: dict[int, int] = {}  # row id -> attempts not yet recorded
        self.sending = 0  # HTTP requests on the wire (what /v1/stats reports as in flight)
        self.event = asyncio.Event()
        self.dirty = True
        self.next_due_us: int | None = None
        self.sleeping_until_us: int | None = 0
        self.task: asyncio.Task[None] | None = None
        self.attempts: set[asyncio.Task[None]] = set()
        self.recent: deque[RecentAttempt] = deque(maxlen=STATS_WINDOW)  # latency samples
        self.rates = OutcomeRates()  # outcome rates for /v1/stats, uncapped by a sample count

    @property
    def running(self) -> bool:
        return self.queue is not None and self.queue.state == STATE_RUNNING

    def wake(self) -> None:
        self.event.set()

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._loop(), name=f"queue {self.name}")

    def reload(self) -> bool:
        """Read the queue's settings; False when the queue no longer exists."""
        self.dirty = False
        row = self.d.store.read(lambda c: records.find_queue(c, self.name))
        if row is None:
            self.queue = None
            return False
        self.queue_id, self.queue = row.id, row.queue
        limits, retry = row.queue.rate_limits, row.queue.retry_config
        now = time.monotonic()
        rate = limits.max_dispatches_per_second
        if self.flow is None:
            self.flow = QueueFlow(rate, limits.max_concurrent_dispatches, now)
        self.flow.configure(rate, limits.max_concurrent_dispatches, now)
        self.policy = drec.RetryPolicy(
            max_attempts=retry.max_attempts,
            max_retry_duration=_seconds(retry.max_retry_duration),
            min_backoff=_seconds(retry.min_backoff),
            max_backoff=_seconds(retry.max_backoff),
            max_doublings=retry.max_doublings,
        )
        return True

    async def _loop(self) -> None:
        try:
            while not self.d.stopping:
                self.event.clear()
                if self.dirty and not self.reload():
                    break
                await self._step()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("scheduler of %s failed", self.name)
        finally:
            if self.d.workers.get(self.name) is self:
                del self.d.workers[self.name]

    async def _step(self) -> None:
        flow = self.flow
        assert flow is not None
        if not self.running:
            return await self._sleep(None)
        available = flow.slots.available
        if available <= 0:
            return await self._sleep(None)  # a finished attempt wakes us
        if self.d.unrecorded >= MAX_UNRECORDED:
            return await self._sleep(UNRECORDED_PAUSE_S)  # let the store catch up first
        room = self.d.gate.room()
        if room <= 0:
            return await self.d.gate.wait()  # API first: launch_gate.py
        mono = time.monotonic()
        wait = flow.delay_until_ready(mono)
        if wait > 0:
            return await self._sleep(wait)
        want = max(1, min(available, int(flow.bucket.tokens(mono)), BATCH, room))
        now = self.d.clock.now_us()
        read = self.d.store.read
        ids = read(lambda c: drec.due_ids(c, self.queue_id, now, len(self.in_flight) + want))
        ids = [i for i in ids if i not in self.in_flight][:want]
        if not ids:
            nxt = read(lambda c: drec.next_due(c, self.queue_id, now))
            self.next_due_us = nxt
            return await self._sleep_until(nxt)
        for row_id in ids:
            if not flow.try_take(time.monotonic()):
                break
            if not flow.slots.try_acquire():
                break
            row = read(partial(drec.task_for_attempt, row_id=row_id))
            if row is None:
                flow.slots.release()
                continue
            self.d.gate.take()
            self.launch(row, slot=True, reschedule_from_us=None)
        await asyncio.sleep(0)

    async def _sleep(self, seconds: float | None) -> None:
        """Wait for a wake-up, or at most ``seconds`` of real time (rate and back-pressure)."""
        if self.event.is_set():
            return
        if seconds is None:
            self.sleeping_until_us = None
            await self.event.wait()
            return
        self.sleeping_until_us = self.d.clock.now_us() + int(seconds * 1e6)
        handle = asyncio.get_running_loop().call_later(seconds, self.event.set)
        try:
            await self.event.wait()
        finally:
            handle.cancel()

    async def _sleep_until(self, when_us: int | None) -> None:
        """Wait for a wake-up, or until the engine clock reaches ``when_us`` (a due task)."""
        if when_us is None:
            return await self._sleep(None)
        if self.event.is_set():
            return
        self.sleeping_until_us = when_us
        timer = self.d.clock.call_at(when_us, self.event.set)
        try:
            await self.event.wait()
        finally:
            timer.cancel()

    def notify(self, earliest_us: int | None) -> None:
        """A change committed: ``earliest_us`` None = queue settings or task set changed."""
        if earliest_us is None:
            self.dirty = True
            self.event.set()
            return
        if not self.running and not self.dirty:
            return  # paused: new tasks change nothing until a settings change wakes it
        until = self.sleeping_until_us
        if until is None or earliest_us < until:
            self.event.set()

    def launch(self, row: AttemptRow, *, slot: bool, reschedule_from_us: int | None) -> Any:
        """Start one attempt of the task in ``row``; returns the Task as dispatched."""
        row_id = int(row.id)
        self.in_flight[row_id] = self.in_flight.get(row_id, 0) + 1
        task = asyncio.get_running_loop().create_task(
            self._attempt(row, slot, reschedule_from_us), name=f"attempt {row_id}"
        )
        self.attempts.add(task)
        task.add_done_callback(self.attempts.discard)
        return records.compose_task(row.task_row)

    async def _attempt(self, row: AttemptRow, slot: bool, reschedule_from_us: int | None) -> None:
        row_id = int(row.id)
        d = self.d
        recording = False
        try:
            built = build_delivery(row, self.queue, d.config.app_engine_host)
            config = d.config
            problem = built.problem or self_dispatch_problem(
                built.url, config.host, config.port, config.http_port
            )
            if problem is not None:
                if built.problem is not None and built.app_engine:
                    d.warn_app_engine_once()
                result = _failed_without_sending(problem, d.clock.time())
            else:
                assert built.delivery is not None
                self.sending += 1
                try:
                    result = await deliver(
                        d.session(), built.delivery, keys=d.keys(), clock=d.clock
                    )
                finally:
                    self.sending -= 1
            # The request is over: free its concurrency slot now rather than after the outcome's
            # commit. The row stays in in_flight until recorded, so it cannot be picked twice.
            if slot and self.flow is not None:
                self.flow.slots.release()
                slot = False
                self.event.set()
            d.unrecorded += 1
            recording = True
            if self.flow is not None:
                self.flow.on_response(
                    result.status, result.started_monotonic, time.monotonic(),
                    app_engine=built.app_engine,
                )  # fmt: skip
            # round, not int: the clock's float seconds may sit a hair below the microsecond
            started_us = round(result.started_at * 1e6)
            finished_us = round(result.finished_at * 1e6)
            out = drec.Outcome(
                row_id=row_id, queue_name=self.name, task_name=built.task_name,
                named=bool(row.named), url=built.url, method=built.method,
                schedule_us=int(row.schedule_us), status=result.status, ok=result.ok,
                error=result.error, started_us=started_us, finished_us=finished_us,
                latency_ms=result.latency * 1000, head=result.response_head,
                reschedule_from_us=reschedule_from_us or finished_us,
            )  # fmt: skip
            policy = self.policy
            assert policy is not None
            dedup, keep = d.dedup_us, d.failed_keep_us
            kind = await d.store.write(
                lambda c: drec.apply_outcome(c, out, policy, dedup, keep), background=True
            )
            recorded_at = time.monotonic()
            self.recent.append(RecentAttempt(recorded_at, kind, out.latency_ms))
            self.rates.add(kind, recorded_at)
            d.after_attempt(row, out, kind)
        except StoreClosed:
            pass
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("attempt of task row %d in %s failed", row_id, self.name)
        finally:
            if recording:
                d.unrecorded -= 1
            left = self.in_flight.get(row_id, 1) - 1
            if left > 0:
                self.in_flight[row_id] = left
            else:
                self.in_flight.pop(row_id, None)
            if slot and self.flow is not None:
                self.flow.slots.release()
            self.event.set()


def _failed_without_sending(error: str, now: float) -> AttemptResult:
    mono = time.monotonic()
    return AttemptResult(
        status=None, ok=False, started_at=now, finished_at=now, latency=0.0, response_head=b"",
        error=error, started_monotonic=mono,
    )  # fmt: skip


def _seconds(duration: Any) -> float:
    return float(duration.seconds + duration.nanos / 1e9)


class Dispatcher:
    """All queue workers, the shared HTTP session and the OIDC signing keys."""

    def __init__(
        self,
        store: Storage,
        config: EngineConfig,
        clock: Clock | None = None,
        activity: ApiActivity | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.clock: Clock = clock or RealClock()
        self.dedup_us = int(config.dedup_window * 1_000_000)
        self.failed_keep_us = int(max(config.dedup_window, FAILED_KEEP_MIN_S) * 1_000_000)
        self.workers: dict[str, QueueWorker] = {}
        self.unrecorded = 0  # attempts answered but not yet committed (back-pressure)
        self.gate = LaunchGate(activity)
        self.stopping = True
        self.started_monotonic = time.monotonic()
        self._session: aiohttp.ClientSession | None = None
        self._keys: SigningKeys | None = None
        self._warned_app_engine = False
        self.attempt_log = AttemptLog()
        self.redeliveries = Redeliveries(self, config.redeliver)

    # -- lifecycle --------------------------------------------------------------------------

    def keys(self) -> SigningKeys:
        if self._keys is None:
            self._keys = SigningKeys.load_or_create(self.config.data_dir)
        return self._keys

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = make_session()
        return self._session

    async def start(self) -> None:
        self.keys()
        self.session()
        self.stopping = False
        self.started_monotonic = time.monotonic()
        for name in self.store.read(drec.queue_names):
            self._worker(name)

    async def stop(self, grace: float = STOP_GRACE_S) -> None:
        """Stop claiming, give in-flight attempts ``grace`` seconds, cancel the rest."""
        self.stopping = True
        await self.redeliveries.stop()
        await self._drop_workers(grace)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _drop_workers(self, grace: float) -> None:
        workers = list(self.workers.values())
        self.workers.clear()
        for worker in workers:
            if worker.task is not None:
                worker.task.cancel()
        attempts = [a for w in workers for a in w.attempts]
        if attempts:
            _, pending = await asyncio.wait(attempts, timeout=grace)
            for attempt in pending:
                attempt.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        loops = [w.task for w in workers if w.task is not None]
        if loops:
            await asyncio.wait(loops, timeout=1.0)

    def _worker(self, name: str) -> QueueWorker | None:
        worker = self.workers.get(name)
        if worker is None and not self.stopping:
            worker = QueueWorker(self, name)
            self.workers[name] = worker
            worker.start()
        return worker

    def wake_all(self) -> None:
        """Make every queue's scheduler look at its tasks again."""
        for worker in list(self.workers.values()):
            worker.wake()

    def after_attempt(self, row: AttemptRow, out: drec.Outcome, kind: str) -> None:
        """An outcome was committed: log the attempt; a success may get a redelivery drill."""
        history = drec.load_history(row.history) if row.history else {}
        attempt = Attempt(
            queue=out.queue_name, task=out.task_name, schedule_us=out.schedule_us,
            dispatch_us=out.started_us, status=out.status, error=out.error,
            retry_count=int(row.dispatch_count), execution_count=int(history.get("x", 0)),
            redelivery=False, outcome=kind,
        )  # fmt: skip
        self.attempt_log.add(attempt)
        if kind == "done":
            self.redeliveries.offer(out.queue_name, row, out.finished_us)

    def warn_app_engine_once(self) -> None:
        if not self._warned_app_engine:
            self._warned_app_engine = True
            log.warning("App Engine task attempts fail: start the engine with --app-engine-host")

    # -- hooks called by the servicer --------------------------------------------------------

    def on_tasks_changed(self, queue_name: str, earliest_us: int | None) -> None:
        worker = self._worker(queue_name)
        if worker is not None:
            worker.notify(earliest_us)

    async def run_task(self, task_name: str, task: Any) -> Any:
        """RunTask: start an attempt now, whatever the queue's state; answer the task."""
        queue_name, _, task_id = task_name.partition("/tasks/")
        worker = self._worker(queue_name)
        if worker is None:
            return task  # shutting down
        if worker.dirty and not worker.reload():
            raise NotFound(records.NOT_FOUND)
        codec = self.store.task_ids

        def find(conn: Any) -> AttemptRow | None:
            found = records.find_task_row(conn, worker.queue_id, task_id, codec)
            return None if found is None else drec.task_for_attempt(conn, found.row.id)

        row = self.store.read(find)
        if row is None:
            raise NotFound(records.NOT_FOUND)
        called_us = self.clock.now_us()
        answered = worker.launch(row, slot=False, reschedule_from_us=called_us)
        answered.dispatch_count += 1
        if not answered.HasField("first_attempt"):
            set_timestamp_us(answered.first_attempt.dispatch_time, called_us)
        answered.last_attempt.Clear()
        set_timestamp_us(answered.last_attempt.dispatch_time, called_us)
        answered.last_attempt.schedule_time.CopyFrom(answered.schedule_time)
        return answered

    # -- side-port operations ----------------------------------------------------------------

    async def reset(self) -> tuple[int, int]:
        """Drop all dispatcher state and empty the database; (queues, tasks) deleted."""
        was_running = not self.stopping
        self.stopping = True
        await self._drop_workers(0.0)
        self.redeliveries.clear()
        self.attempt_log.clear()
        time_control.restart(self.clock, self.config)
        ids = self.store.queue_ids

        def wipe(conn: Any) -> tuple[int, int]:
            ids.clear()
            return drec.reset_all(conn)

        try:
            counts = await self.store.write(wipe)
        finally:
            self.store.queue_ids.clear()
            self.stopping = not was_running
        return counts
