"""engine/server.py in-process: handlers called directly on a temporary store and a ManualClock.

What the clock decides (dedup window, queue tombstones, create and schedule times, operation
expiry) is stepped here instead of waited out; errors come back as gRPC status codes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
from google.cloud import tasks_v2
from google.longrunning import operations_pb2

from tasksctl.engine import records
from tasksctl.engine.store import PRUNE_INTERVAL_US
from tests.unit.engine_parts import CONTEXT, LOCATION, Parts, RpcAbort, engine_parts

QUEUE = f"{LOCATION}/queues/q1"
DEDUP_S = 60.0
TOMBSTONE_S = 30.0


def pb(cls: Any, **fields: Any) -> Any:
    return cls.pb()(**fields)


async def create_queue(parts: Parts, name: str = QUEUE) -> Any:
    request = pb(tasks_v2.CreateQueueRequest, parent=LOCATION, queue={"name": name})
    return await parts.service.CreateQueue(request, CONTEXT)


async def create_task(parts: Parts, task_id: str = "", **task: Any) -> Any:
    body: dict[str, Any] = {"http_request": {"url": "http://127.0.0.1:9/x"}, **task}
    if task_id:
        body["name"] = f"{QUEUE}/tasks/{task_id}"
    request = pb(tasks_v2.CreateTaskRequest, parent=QUEUE, task=body)
    return await parts.service.CreateTask(request, CONTEXT)


async def delete_task(parts: Parts, task_id: str) -> None:
    request = pb(tasks_v2.DeleteTaskRequest, name=f"{QUEUE}/tasks/{task_id}")
    await parts.service.DeleteTask(request, CONTEXT)


async def code_of(awaitable: Any) -> grpc.StatusCode:
    with pytest.raises(RpcAbort) as caught:
        await awaitable
    return caught.value.code


async def test_queue_errors_map_to_status_codes(tmp_path: Path) -> None:
    async with engine_parts(tmp_path) as parts:
        get = parts.service.GetQueue
        missing = pb(tasks_v2.GetQueueRequest, name=QUEUE)
        assert await code_of(get(missing, CONTEXT)) == grpc.StatusCode.NOT_FOUND
        bad = pb(tasks_v2.GetQueueRequest, name="projects/p/queues/q")
        assert await code_of(get(bad, CONTEXT)) == grpc.StatusCode.INVALID_ARGUMENT
        created = await create_queue(parts)
        assert created.name == QUEUE
        assert (await get(missing, CONTEXT)).name == QUEUE
        assert await code_of(create_queue(parts)) == grpc.StatusCode.ALREADY_EXISTS


async def test_task_times_come_from_the_engine_clock(tmp_path: Path) -> None:
    async with engine_parts(tmp_path) as parts:
        await create_queue(parts)
        parts.clock.advance(us=123_456)
        now = parts.clock.now_us()
        task = await create_task(parts)
        assert task.schedule_time.seconds * 1_000_000 + task.schedule_time.nanos // 1000 == now
        assert task.create_time.seconds == now // 1_000_000  # truncated to the second
        assert task.create_time.nanos == 0
        # "at most 30 days in the future" is measured on the engine clock too.
        limit_s = now // 1_000_000 + 30 * 86400
        too_far = {"seconds": limit_s + 5}
        code = await code_of(create_task(parts, schedule_time=too_far))
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        parts.clock.advance(10)
        assert (await create_task(parts, schedule_time=too_far)).schedule_time.seconds == (
            limit_s + 5
        )


async def test_a_deleted_task_name_is_refused_for_the_dedup_window(tmp_path: Path) -> None:
    async with engine_parts(tmp_path, dedup_window=DEDUP_S) as parts:
        await create_queue(parts)
        await create_task(parts, "t1")
        assert await code_of(create_task(parts, "t1")) == grpc.StatusCode.ALREADY_EXISTS
        await delete_task(parts, "t1")
        deleted_at = parts.clock.now_us()
        assert await code_of(create_task(parts, "t1")) == grpc.StatusCode.ALREADY_EXISTS
        parts.clock.set(deleted_at + int(DEDUP_S * 1e6) - 1)
        assert await code_of(create_task(parts, "t1")) == grpc.StatusCode.ALREADY_EXISTS
        parts.clock.set(deleted_at + int(DEDUP_S * 1e6))
        assert (await create_task(parts, "t1")).name == f"{QUEUE}/tasks/t1"


async def test_a_deleted_queue_name_is_tombstoned(tmp_path: Path) -> None:
    async with engine_parts(tmp_path, queue_tombstone=TOMBSTONE_S) as parts:
        await create_queue(parts)
        await parts.service.DeleteQueue(pb(tasks_v2.DeleteQueueRequest, name=QUEUE), CONTEXT)
        deleted_at = parts.clock.now_us()
        assert await code_of(create_queue(parts)) == grpc.StatusCode.FAILED_PRECONDITION
        parts.clock.set(deleted_at + int(TOMBSTONE_S * 1e6) - 1)
        assert await code_of(create_queue(parts)) == grpc.StatusCode.FAILED_PRECONDITION
        parts.clock.set(deleted_at + int(TOMBSTONE_S * 1e6))
        assert (await create_queue(parts)).name == QUEUE


async def test_purge_deletes_tasks_created_before_now_and_tombstones_names(tmp_path: Path) -> None:
    async with engine_parts(tmp_path, dedup_window=DEDUP_S) as parts:
        await create_queue(parts)
        await create_task(parts, "named")
        await create_task(parts)
        parts.clock.advance(1)
        purge = pb(tasks_v2.PurgeQueueRequest, name=QUEUE)
        purged = await parts.service.PurgeQueue(purge, CONTEXT)
        assert purged.purge_time.seconds == parts.clock.now_us() // 1_000_000
        listed = await parts.service.ListTasks(pb(tasks_v2.ListTasksRequest, parent=QUEUE), CONTEXT)
        assert list(listed.tasks) == []
        assert await code_of(create_task(parts, "named")) == grpc.StatusCode.ALREADY_EXISTS


async def test_task_not_found_and_bad_names(tmp_path: Path) -> None:
    async with engine_parts(tmp_path) as parts:
        await create_queue(parts)
        get = parts.service.GetTask
        missing = pb(tasks_v2.GetTaskRequest, name=f"{QUEUE}/tasks/nope")
        assert await code_of(get(missing, CONTEXT)) == grpc.StatusCode.NOT_FOUND
        bad = pb(tasks_v2.GetTaskRequest, name=f"{QUEUE}/task/x")
        assert await code_of(get(bad, CONTEXT)) == grpc.StatusCode.INVALID_ARGUMENT
        target = {"http_request": {"url": "http://127.0.0.1:9/x"}}
        other_queue = pb(tasks_v2.CreateTaskRequest, parent=f"{LOCATION}/queues/no", task=target)
        code = await code_of(parts.service.CreateTask(other_queue, CONTEXT))
        assert code == grpc.StatusCode.NOT_FOUND
        created = await create_task(parts)
        assert (await get(pb(tasks_v2.GetTaskRequest, name=created.name), CONTEXT)) == created


async def test_batch_operations_expire_by_the_engine_clock(tmp_path: Path) -> None:
    async with engine_parts(tmp_path) as parts:
        await create_queue(parts)
        item = {"task": {"http_request": {"url": "http://127.0.0.1:9/x"}}}
        request = pb(tasks_v2.BatchCreateTasksRequest, parent=QUEUE, requests=[item, item])
        operation = await parts.service.BatchCreateTasks(request, CONTEXT)
        assert operation.done and not operation.HasField("error")
        get = operations_pb2.GetOperationRequest(name=operation.name)
        assert (await parts.service.GetOperation(get, CONTEXT)).name == operation.name
        # Still answerable just before an hour has passed (pruning runs with the next write).
        parts.clock.advance(us=records.OPERATION_KEEP_US - 1)
        await create_task(parts)
        assert (await parts.service.GetOperation(get, CONTEXT)).name == operation.name
        parts.clock.advance(us=PRUNE_INTERVAL_US)
        await create_task(parts)
        assert await code_of(parts.service.GetOperation(get, CONTEXT)) == (
            grpc.StatusCode.NOT_FOUND
        )


class Hooks:
    """A DispatchHooks that records what the servicer tells the dispatcher."""

    def __init__(self) -> None:
        self.changes: list[tuple[str, int | None]] = []
        self.runs: list[str] = []

    def on_tasks_changed(self, queue_name: str, earliest_us: int | None) -> None:
        self.changes.append((queue_name, earliest_us))

    async def run_task(self, task_name: str, task: Any) -> Any:
        self.runs.append(task_name)
        task.dispatch_count += 1
        return task


async def test_the_dispatcher_hooks_hear_every_committed_change(tmp_path: Path) -> None:
    async with engine_parts(tmp_path) as parts:
        hooks = Hooks()
        parts.service.attach_dispatcher(hooks)
        await create_queue(parts)
        assert hooks.changes == [(QUEUE, None)]
        later = {"seconds": parts.clock.now_us() // 1_000_000 + 60}
        task = await create_task(parts, schedule_time=later)
        assert hooks.changes[-1] == (QUEUE, later["seconds"] * 1_000_000)
        run = pb(tasks_v2.RunTaskRequest, name=task.name)
        answered = await parts.service.RunTask(run, CONTEXT)
        assert hooks.runs == [task.name]
        assert answered.dispatch_count == 1
        assert hooks.changes[-1] == (QUEUE, parts.clock.now_us())
        await code_of(create_task(parts, "x", schedule_time={"seconds": 1, "nanos": -1}))
        assert len(hooks.changes) == 3  # a refused request tells nobody
