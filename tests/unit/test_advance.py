"""engine/time_control.py in-process: a synchronous advance steps a ManualClock from due time to
due time and returns only when every attempt due by its target has been made and recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from google.cloud import tasks_v2

from tasksctl.engine.clock import RealClock
from tasksctl.engine.config import EngineConfig
from tasksctl.engine.dispatcher import Dispatcher
from tasksctl.engine.time_control import ClockBackwards, ClockNotManual, TimeControl, make_clock
from tests.unit.engine_parts import CONTEXT, LOCATION, Parts, engine_parts
from tests.unit.loop_sink import LoopSink, Received

QUEUE = f"{LOCATION}/queues/tq"
S = 1_000_000  # microseconds per second


def pb(cls: Any, **fields: Any) -> Any:
    return cls.pb()(**fields)


async def make_queue(parts: Parts, **retry: Any) -> None:
    queue: dict[str, Any] = {"name": QUEUE}
    if retry:
        queue["retry_config"] = retry
    await parts.service.CreateQueue(
        pb(tasks_v2.CreateQueueRequest, parent=LOCATION, queue=queue), CONTEXT
    )


async def make_task(parts: Parts, url: str, at_us: int) -> Any:
    task = {
        "http_request": {"url": url},
        "schedule_time": {"seconds": at_us // S, "nanos": at_us % S * 1000},
    }
    return await parts.service.CreateTask(
        pb(tasks_v2.CreateTaskRequest, parent=QUEUE, task=task), CONTEXT
    )


def drain(sink: LoopSink) -> list[Received]:
    got = []
    while not sink.received.empty():
        got.append(sink.received.get_nowait())
    return got


async def test_one_advance_makes_every_retry_at_its_own_time(tmp_path: Path) -> None:
    async with engine_parts(tmp_path, dispatch=True) as parts, LoopSink(parts.clock) as sink:
        assert parts.dispatcher is not None
        control = TimeControl(parts.dispatcher)
        await make_queue(
            parts, max_attempts=6, min_backoff={"seconds": 1}, max_backoff={"seconds": 4},
            max_doublings=1,
        )  # fmt: skip
        sink.plan("/fail", 500)
        start = parts.clock.now_us() + 60 * S
        await make_task(parts, sink.url_for("/fail"), start)

        made = await control.advance_to(start + 3600 * S)

        # 1s, then doubled once to 2s, then linear steps of 2s (4s) capped at 4s: 1, 2, 4, 4, 4.
        offsets = [0, 1, 3, 7, 11, 15]
        got = drain(sink)
        assert [r.clock_us - start for r in got] == [o * S for o in offsets]
        assert [r.headers["X-CloudTasks-TaskRetryCount"] for r in got] == [str(i) for i in range(6)]
        assert made == 6
        assert parts.clock.now_us() == start + 3600 * S
        attempts = parts.dispatcher.attempt_log.of_queue(QUEUE)
        assert [a.outcome for a in attempts] == ["retry"] * 5 + ["gave_up"]
        assert [a.dispatch_us - start for a in attempts] == [o * S for o in offsets]


async def test_an_advance_stops_short_of_a_task_due_after_its_target(tmp_path: Path) -> None:
    async with engine_parts(tmp_path, dispatch=True) as parts, LoopSink(parts.clock) as sink:
        assert parts.dispatcher is not None
        control = TimeControl(parts.dispatcher)
        await make_queue(parts)
        due = parts.clock.now_us() + 2 * 86_400 * S
        await make_task(parts, sink.url_for("/later"), due)
        assert await control.advance_to(due - 1) == 0
        assert drain(sink) == []
        assert await control.advance(0.000001) == 1
        [got] = drain(sink)
        assert got.clock_us == due


async def test_a_paused_queue_is_skipped(tmp_path: Path) -> None:
    async with engine_parts(tmp_path, dispatch=True) as parts, LoopSink(parts.clock) as sink:
        assert parts.dispatcher is not None
        control = TimeControl(parts.dispatcher)
        await make_queue(parts)
        await parts.service.PauseQueue(pb(tasks_v2.PauseQueueRequest, name=QUEUE), CONTEXT)
        await make_task(parts, sink.url_for("/p"), parts.clock.now_us() + S)
        assert await control.advance(86_400) == 0
        assert drain(sink) == []


async def test_a_redelivery_falls_due_within_the_advance(tmp_path: Path) -> None:
    async with (
        engine_parts(tmp_path, dispatch=True, redeliver=1.0) as parts,
        LoopSink(parts.clock) as sink,
    ):
        assert parts.dispatcher is not None
        control = TimeControl(parts.dispatcher)
        await make_queue(parts)
        due = parts.clock.now_us() + 10 * S
        await make_task(parts, sink.url_for("/twice"), due)
        assert await control.advance(60) == 2
        first, second = drain(sink)
        assert second.clock_us - first.clock_us == S // 2
        assert second.headers["X-CloudTasks-TaskName"] == first.headers["X-CloudTasks-TaskName"]


async def test_the_clock_only_moves_forward(tmp_path: Path) -> None:
    async with engine_parts(tmp_path, dispatch=True) as parts:
        assert parts.dispatcher is not None
        control = TimeControl(parts.dispatcher)
        with pytest.raises(ClockBackwards):
            await control.advance_to(parts.clock.now_us() - 1)
        with pytest.raises(ClockBackwards):
            await control.advance(-1)


async def test_a_real_clock_cannot_be_moved(tmp_path: Path) -> None:
    async with engine_parts(tmp_path) as parts:
        dispatcher = Dispatcher(parts.store, parts.config, RealClock())
        with pytest.raises(ClockNotManual, match="--clock manual"):
            await TimeControl(dispatcher).advance(1)


def test_make_clock_follows_the_flags() -> None:
    assert isinstance(make_clock(EngineConfig()), RealClock)
    manual = make_clock(EngineConfig(clock="manual", clock_start_us=1_893_456_000 * S))
    assert manual.now_us() == 1_893_456_000 * S
