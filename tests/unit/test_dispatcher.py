"""engine/dispatcher.py in-process: a ManualClock, a temporary store and a real loopback sink.

Tasks go out when the engine clock reaches their schedule time and not a microsecond before;
retries wait exactly their backoff on that clock; the headers carry what Cloud Tasks sends.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from google.cloud import tasks_v2

from tasksctl.engine import dispatch_records as drec
from tasksctl.engine import records
from tasksctl.engine.delivery import format_eta
from tests.unit.engine_parts import CONTEXT, LOCATION, Parts, engine_parts, until
from tests.unit.loop_sink import LoopSink

QUEUE = f"{LOCATION}/queues/dq"


def pb(cls: Any, **fields: Any) -> Any:
    return cls.pb()(**fields)


def us(ts: Any) -> int:
    return int(ts.seconds) * 1_000_000 + int(ts.nanos) // 1000


async def make_queue(parts: Parts, **retry: Any) -> None:
    queue: dict[str, Any] = {"name": QUEUE}
    if retry:
        queue["retry_config"] = retry
    request = pb(tasks_v2.CreateQueueRequest, parent=LOCATION, queue=queue)
    await parts.service.CreateQueue(request, CONTEXT)


async def make_task(parts: Parts, url: str, at_us: int | None = None, name: str = "") -> Any:
    task: dict[str, Any] = {"http_request": {"url": url, "body": b"hello"}}
    if at_us is not None:
        task["schedule_time"] = {"seconds": at_us // 1_000_000, "nanos": at_us % 1_000_000 * 1000}
    if name:
        task["name"] = f"{QUEUE}/tasks/{name}"
    request = pb(tasks_v2.CreateTaskRequest, parent=QUEUE, task=task)
    return await parts.service.CreateTask(request, CONTEXT)


async def get_task(parts: Parts, name: str) -> Any:
    request = pb(tasks_v2.GetTaskRequest, name=name, response_view=tasks_v2.Task.View.FULL)
    return await parts.service.GetTask(request, CONTEXT)


async def parked_at(parts: Parts, when_us: int) -> None:
    """Wait until the queue's scheduler sleeps until ``when_us`` on the engine clock."""
    await until(lambda: parts.clock.next_timer_us() == when_us)


async def quiet(sink: LoopSink, turns: int = 50) -> None:
    """Let the loop run a while and check that nothing reached the sink."""
    for _ in range(turns):
        await asyncio.sleep(0)
    assert sink.received.empty()


async def test_a_task_goes_out_when_the_clock_reaches_its_schedule_time(tmp_path: Path) -> None:
    async with engine_parts(tmp_path, dispatch=True) as parts, LoopSink(parts.clock) as sink:
        await make_queue(parts)
        due = parts.clock.now_us() + 3_600_000_000 + 250_000
        task = await make_task(parts, sink.url_for("/later"), at_us=due, name="t1")
        await parked_at(parts, due)
        parts.clock.set(due - 1)
        await quiet(sink)
        parts.clock.set(due)
        got = await sink.next()
        assert got.clock_us == due
        assert got.method == "POST" and got.path == "/later" and got.body == b"hello"
        headers = got.headers
        assert headers["X-CloudTasks-QueueName"] == "dq"
        assert headers["X-CloudTasks-TaskName"] == "t1"
        assert headers["X-CloudTasks-TaskRetryCount"] == "0"
        assert headers["X-CloudTasks-TaskExecutionCount"] == "0"
        assert headers["X-CloudTasks-TaskETA"] == format_eta(due / 1e6)
        assert headers["User-Agent"] == "Google-Cloud-Tasks"
        assert "X-CloudTasks-TaskPreviousResponse" not in headers
        # A 200 completes the task: its row goes in the same commit.
        await until(lambda: parts.store.read(records.counts) == (1, 0))
        assert task.name.endswith("/t1")


async def test_retries_wait_their_backoff_on_the_engine_clock(tmp_path: Path) -> None:
    async with engine_parts(tmp_path, dispatch=True) as parts, LoopSink(parts.clock) as sink:
        await make_queue(
            parts, min_backoff={"seconds": 10}, max_backoff={"seconds": 100}, max_doublings=3
        )
        sink.plan("/flaky", 503, 503, 200)
        start = parts.clock.now_us()
        task = await make_task(parts, sink.url_for("/flaky"))
        first = await sink.next()
        assert first.clock_us == start
        # 503 -> retry after min_backoff, counted from the end of the attempt (a manual clock
        # stands still while it runs).
        await parked_at(parts, start + 10_000_000)
        stored = await get_task(parts, task.name)
        assert stored.dispatch_count == 1 and stored.response_count == 1
        assert us(stored.schedule_time) == start + 10_000_000
        assert us(stored.first_attempt.dispatch_time) == start
        assert stored.last_attempt.response_status.code == 14  # UNAVAILABLE for a 503
        parts.clock.set(start + 10_000_000 - 1)
        await quiet(sink)
        parts.clock.set(start + 10_000_000)
        second = await sink.next()
        assert second.headers["X-CloudTasks-TaskRetryCount"] == "1"
        assert second.headers["X-CloudTasks-TaskExecutionCount"] == "0"  # 5xx do not count
        assert second.headers["X-CloudTasks-TaskPreviousResponse"] == "503"
        # Second failure: the delay doubles.
        await parked_at(parts, start + 30_000_000)
        parts.clock.set(start + 30_000_000)
        third = await sink.next()
        assert third.headers["X-CloudTasks-TaskRetryCount"] == "2"
        assert third.clock_us == start + 30_000_000


async def test_a_task_past_max_retry_duration_is_given_up(tmp_path: Path) -> None:
    async with engine_parts(tmp_path, dispatch=True) as parts, LoopSink(parts.clock) as sink:
        await make_queue(
            parts, min_backoff={"seconds": 10}, max_backoff={"seconds": 10},
            max_retry_duration={"seconds": 15}, max_attempts=-1,
        )  # fmt: skip
        sink.plan("/down", 500)
        start = parts.clock.now_us()
        await make_task(parts, sink.url_for("/down"), name="doomed")
        await sink.next()
        await parked_at(parts, start + 10_000_000)
        parts.clock.set(start + 10_000_000)
        await sink.next()
        # The next try would be at start+20s, past first attempt + 15s: given up, recorded.
        failed: list[Any] = []

        def read_failed() -> bool:
            failed[:] = parts.store.read(lambda c: drec.list_failed(c, QUEUE, start))
            return bool(failed)

        await until(read_failed)
        (record,) = failed
        assert record.name == f"{QUEUE}/tasks/doomed"
        assert record.gave_up_us == start + 10_000_000
        assert record.dispatch_count == 2
        assert [a["status"] for a in record.attempts] == [500, 500]
        parts.clock.advance(3600)
        await quiet(sink)


async def test_run_task_dispatches_now_whatever_the_schedule(tmp_path: Path) -> None:
    async with engine_parts(tmp_path, dispatch=True) as parts, LoopSink(parts.clock) as sink:
        await make_queue(parts)
        far = parts.clock.now_us() + 86_400_000_000
        task = await make_task(parts, sink.url_for("/now"), at_us=far)
        await parked_at(parts, far)
        await quiet(sink)
        run = pb(tasks_v2.RunTaskRequest, name=task.name)
        answered = await parts.service.RunTask(run, CONTEXT)
        assert answered.dispatch_count == 1
        assert us(answered.last_attempt.dispatch_time) == parts.clock.now_us()
        got = await sink.next()
        assert got.clock_us < far


async def test_a_paused_queue_holds_due_tasks_until_resumed(tmp_path: Path) -> None:
    async with engine_parts(tmp_path, dispatch=True) as parts, LoopSink(parts.clock) as sink:
        await make_queue(parts)
        await parts.service.PauseQueue(pb(tasks_v2.PauseQueueRequest, name=QUEUE), CONTEXT)
        await make_task(parts, sink.url_for("/held"))
        parts.clock.advance(60)
        await quiet(sink)
        await parts.service.ResumeQueue(pb(tasks_v2.ResumeQueueRequest, name=QUEUE), CONTEXT)
        got = await sink.next()
        assert got.path == "/held"


async def test_an_earlier_task_wakes_a_scheduler_parked_on_a_later_one(tmp_path: Path) -> None:
    async with engine_parts(tmp_path, dispatch=True) as parts, LoopSink(parts.clock) as sink:
        await make_queue(parts)
        now = parts.clock.now_us()
        await make_task(parts, sink.url_for("/late"), at_us=now + 100_000_000)
        await parked_at(parts, now + 100_000_000)
        await make_task(parts, sink.url_for("/early"), at_us=now + 10_000_000)
        await parked_at(parts, now + 10_000_000)
        parts.clock.set(now + 10_000_000)
        assert (await sink.next()).path == "/early"
        await parked_at(parts, now + 100_000_000)
        await quiet(sink)
        parts.clock.set(now + 100_000_000)
        assert (await sink.next()).path == "/late"


async def test_an_answer_for_a_task_deleted_in_flight_does_not_bring_it_back(
    tmp_path: Path,
) -> None:
    async with engine_parts(tmp_path, dispatch=True) as parts, LoopSink(parts.clock) as sink:
        await make_queue(parts, min_backoff={"seconds": 10}, max_backoff={"seconds": 10})
        sink.plan("/gone", 503)
        release = sink.hold("/gone")
        task = await make_task(parts, sink.url_for("/gone"))
        await sink.next()  # the attempt is on the wire, its answer held back
        delete = pb(tasks_v2.DeleteTaskRequest, name=task.name)
        await parts.service.DeleteTask(delete, CONTEXT)
        release.set()
        d = parts.dispatcher
        assert d is not None
        await until(lambda: not d.unrecorded and not any(w.in_flight for w in d.workers.values()))
        assert parts.store.read(records.counts) == (1, 0)
        parts.clock.advance(60)
        await quiet(sink)
