"""The gRPC servicer for ``google.cloud.tasks.v2.CloudTasks``, served without code generation.

Handlers take and return raw protobuf messages (``tasks_v2.X.pb()``), which is several times
cheaper than proto-plus wrappers. They translate only: validation lives in ``validation`` and
``task_validation``, transactional behaviour in ``records`` (run on the store's writer thread).
Errors are ``tasksctl.errors`` exceptions, mapped to gRPC status codes in one place (``rpc``).

Hooks for the dispatcher:
- ``on_tasks_changed(queue_name, earliest_schedule_us)`` is called after every committed change
  that adds tasks or changes a queue (``earliest_schedule_us`` is None when the queue itself
  changed or tasks went away);
- ``run_task_hook(task_name, task)`` (async) is awaited by RunTask; it dispatches the task now
  and returns the task as it should be answered. Without it RunTask only returns the task.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import grpc
from google.cloud import tasks_v2
from google.protobuf import empty_pb2

from tasksctl.engine import records
from tasksctl.engine.admin import AdminRpcs
from tasksctl.engine.batches import BatchRpcs
from tasksctl.engine.clock import Clock, RealClock
from tasksctl.engine.config import EngineConfig
from tasksctl.engine.launch_gate import ApiActivity
from tasksctl.engine.rows import ListedTasks, QueueRow
from tasksctl.engine.rpc import decode_token, encode_token, generic_handlers, rpc
from tasksctl.engine.storage import Storage
from tasksctl.engine.task_validation import check_view, prepare_new_task, task_view
from tasksctl.engine.validation import (
    QUEUES_MAX_PAGE,
    STATE_PAUSED,
    STATE_RUNNING,
    TASKS_MAX_PAGE,
    check_queue_name,
    invalid,
    merge_queue_update,
    page_size,
    parse_queue_filter,
    prepare_new_queue,
)
from tasksctl.resources import QueueName, parse_location_name, parse_queue_name, parse_task_name

log = logging.getLogger("tasksctl.engine.server")

SERVICE = "google.cloud.tasks.v2.CloudTasks"

TaskPb: Any = tasks_v2.Task.pb()
QueuePb: Any = tasks_v2.Queue.pb()
ListQueuesResponse: Any = tasks_v2.ListQueuesResponse.pb()
ListTasksResponse: Any = tasks_v2.ListTasksResponse.pb()
EMPTY = empty_pb2.Empty()

# Stay under the client's default 4 MB receive limit when listing tasks with big bodies.
MAX_LIST_BYTES = 3 * 1024 * 1024

TasksChanged = Callable[[str, int | None], None]
RunTaskHook = Callable[[str, Any], Awaitable[Any]]


class DispatchHooks(Protocol):
    """What the servicer asks of a dispatcher (``dispatcher.Dispatcher``)."""

    def on_tasks_changed(self, queue_name: str, earliest_us: int | None) -> None:
        """A change committed; ``earliest_us`` None = the queue or its task set changed."""
        ...

    async def run_task(self, task_name: str, task: Any) -> Any:
        """RunTask: dispatch ``task`` now; the task as it should be answered."""
        ...


class CloudTasksService(BatchRpcs, AdminRpcs):
    """Queue and task RPCs; batches come from BatchRpcs; IAM, CMEK, operations, locations from
    AdminRpcs."""

    def __init__(self, store: Storage, config: EngineConfig, clock: Clock | None = None) -> None:
        self.store = store
        self.clock: Clock = clock or RealClock()
        self.dedup_us = int(config.dedup_window * 1_000_000)
        self.queue_tombstone_us = int(config.queue_tombstone_seconds * 1_000_000)
        self.on_tasks_changed: TasksChanged = _ignore_change
        self.run_task_hook: RunTaskHook | None = None
        # API calls in progress; the dispatcher yields to them (launch_gate.py).
        self.api_activity = ApiActivity()
        self._queue_names: dict[str, tuple[QueueName, str]] = {}

    def attach_dispatcher(self, hooks: DispatchHooks) -> None:
        """Tell ``hooks`` about every committed change; RunTask dispatches through it."""
        self.on_tasks_changed = hooks.on_tasks_changed
        self.run_task_hook = hooks.run_task

    def forget_queue_names(self) -> None:
        """Drop the parsed-name cache (after the engine was emptied)."""
        self._queue_names.clear()

    # -- helpers ----------------------------------------------------------------------------

    def _queue(self, text: str, field: str) -> tuple[QueueName, str]:
        """Parse a queue name (cached: the hot path sees the same parents again and again)."""
        cached = self._queue_names.get(text)
        if cached is None:
            if not text:
                raise invalid(field, "a queue name is required")
            parsed = parse_queue_name(text, field)
            cached = (parsed, str(parsed))
            if len(self._queue_names) > 10_000:
                self._queue_names.clear()
            self._queue_names[text] = cached
        return cached

    # -- queues -----------------------------------------------------------------------------

    @rpc
    async def ListQueues(self, request: Any, context: Any) -> Any:
        parent = str(parse_location_name(request.parent, "parent"))
        state = parse_queue_filter(request.filter)
        size = page_size(request.page_size, QUEUES_MAX_PAGE)
        after = decode_token(request.page_token) if request.page_token else ""
        queues = self.store.read(lambda c: records.list_queues(c, parent, after, size + 1, state))
        response = ListQueuesResponse()
        response.queues.extend(queues[:size])
        if len(queues) > size:
            response.next_page_token = encode_token(queues[size - 1].name)
        return response

    @rpc
    async def GetQueue(self, request: Any, context: Any) -> Any:
        _, name = self._queue(request.name, "name")
        return self.store.read(lambda c: records.get_queue(c, name)).queue

    @rpc
    async def CreateQueue(self, request: Any, context: Any) -> Any:
        now = self.clock.now_us
        parent = str(parse_location_name(request.parent, "parent"))
        queue = prepare_new_queue(parent, request.queue)
        result = await self.store.write(lambda c: records.insert_queue(c, queue, parent, now()))
        self.on_tasks_changed(result.name, None)
        return result

    @rpc
    async def UpdateQueue(self, request: Any, context: Any) -> Any:
        now = self.clock.now_us
        body = request.queue
        queue_name = check_queue_name(body.name)
        name, parent = str(queue_name), str(queue_name.parent)
        paths = list(request.update_mask.paths)

        def update(conn: sqlite3.Connection) -> Any:
            row = records.find_queue(conn, name)
            merged = merge_queue_update(row.queue if row else None, body, paths)
            if row is None:
                return records.insert_queue(conn, merged, parent, now())
            row.queue = merged
            return records.save_queue(conn, row)

        result = await self.store.write(update)
        self.on_tasks_changed(name, None)
        return result

    @rpc
    async def DeleteQueue(self, request: Any, context: Any) -> Any:
        now = self.clock.now_us
        _, name = self._queue(request.name, "name")
        tombstone = self.queue_tombstone_us
        ids = self.store.queue_ids
        await self.store.write(lambda c: records.delete_queue(c, name, now(), tombstone, ids))
        self._queue_names.pop(request.name, None)
        self.on_tasks_changed(name, None)
        return EMPTY

    @rpc
    async def PurgeQueue(self, request: Any, context: Any) -> Any:
        now = self.clock.now_us
        _, name = self._queue(request.name, "name")
        dedup = self.dedup_us
        result = await self.store.write(lambda c: records.purge_queue(c, name, now(), dedup))
        self.on_tasks_changed(name, None)
        return result

    @rpc
    async def PauseQueue(self, request: Any, context: Any) -> Any:
        return await self._set_state(request.name, STATE_PAUSED)

    @rpc
    async def ResumeQueue(self, request: Any, context: Any) -> Any:
        return await self._set_state(request.name, STATE_RUNNING)

    async def _set_state(self, text: str, state: int) -> Any:
        _, name = self._queue(text, "name")
        result = await self.store.write(lambda c: records.set_queue_state(c, name, state))
        self.on_tasks_changed(name, None)
        return result

    # -- tasks ------------------------------------------------------------------------------

    @rpc
    async def CreateTask(self, request: Any, context: Any) -> Any:
        now = self.clock.now_us
        parent, queue_name = self._queue(request.parent, "parent")
        view = check_view(request.response_view)
        task = request.task
        new = prepare_new_task(parent, queue_name, task, now())
        named = new.task_id is not None
        store = self.store
        codec, ids = store.task_ids, store.queue_ids
        while True:
            rowid = store.allocate_task_rowid()
            task_id = new.task_id or codec.encode(rowid)
            task.name = f"{queue_name}/tasks/{task_id}"
            blob = task.SerializeToString()

            def insert(
                conn: sqlite3.Connection,
                rowid: int = rowid,
                task_id: str = task_id,
                blob: bytes = blob,
            ) -> bool:
                return records.insert_task(
                    conn, queue_name, rowid, task_id, named, blob,
                    new.schedule_us, new.create_us, codec, ids,
                )  # fmt: skip

            if await store.write(insert, savepoint=False):
                break
        self.on_tasks_changed(queue_name, new.schedule_us)
        return task_view(task, view)

    @rpc
    async def GetTask(self, request: Any, context: Any) -> Any:
        view = check_view(request.response_view)
        name = parse_task_name(request.name, "name")
        queue_name = str(name.parent)
        codec = self.store.task_ids
        task = self.store.read(lambda c: records.get_task(c, queue_name, name.task, codec))
        return task_view(task, view)

    @rpc
    async def ListTasks(self, request: Any, context: Any) -> Any:
        view = check_view(request.response_view)
        _, queue_name = self._queue(request.parent, "parent")
        size = page_size(request.page_size, TASKS_MAX_PAGE)
        after = (-1, -1)
        if request.page_token:
            token_schedule, _, token_row = decode_token(request.page_token).partition(":")
            try:
                after = (int(token_schedule), int(token_row))
            except ValueError:
                raise invalid("page_token", "the page token is not valid") from None

        def query(conn: sqlite3.Connection) -> tuple[QueueRow, ListedTasks]:
            row = records.get_queue(conn, queue_name)
            return row, records.list_tasks(conn, row.id, after, size + 1)

        _, listed = self.store.read(query)
        response = ListTasksResponse()
        total = 0
        last: tuple[int, int] | None = None
        for index, task in enumerate(listed.tasks[:size]):
            task_view(task, view)
            total += task.ByteSize()
            if index and total > MAX_LIST_BYTES:
                break
            response.tasks.append(task)
            last = listed.keys[index]
        if last is not None and len(response.tasks) < len(listed.tasks):
            response.next_page_token = encode_token(f"{last[0]}:{last[1]}")
        return response

    @rpc
    async def DeleteTask(self, request: Any, context: Any) -> Any:
        now = self.clock.now_us
        name = parse_task_name(request.name, "name")
        queue_name, dedup, codec = str(name.parent), self.dedup_us, self.store.task_ids
        await self.store.write(
            lambda c: records.delete_task(c, queue_name, name.task, now(), dedup, codec)
        )
        self.on_tasks_changed(queue_name, None)
        return EMPTY

    @rpc
    async def RunTask(self, request: Any, context: Any) -> Any:
        now = self.clock.now_us
        view = check_view(request.response_view)
        name = parse_task_name(request.name, "name")
        queue_name, codec = str(name.parent), self.store.task_ids
        task = self.store.read(lambda c: records.get_task(c, queue_name, name.task, codec))
        if self.run_task_hook is not None:
            task = await self.run_task_hook(str(name), task)
        self.on_tasks_changed(queue_name, now())
        return task_view(task, view)

    # -- registration -----------------------------------------------------------------------

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        """Every RPC of CloudTasks, Operations and Locations as generic handlers."""
        req = tasks_v2
        tasks_methods = {
            "ListQueues": (req.ListQueuesRequest.pb(), ListQueuesResponse),
            "GetQueue": (req.GetQueueRequest.pb(), QueuePb),
            "CreateQueue": (req.CreateQueueRequest.pb(), QueuePb),
            "UpdateQueue": (req.UpdateQueueRequest.pb(), QueuePb),
            "DeleteQueue": (req.DeleteQueueRequest.pb(), empty_pb2.Empty),
            "PurgeQueue": (req.PurgeQueueRequest.pb(), QueuePb),
            "PauseQueue": (req.PauseQueueRequest.pb(), QueuePb),
            "ResumeQueue": (req.ResumeQueueRequest.pb(), QueuePb),
            "ListTasks": (req.ListTasksRequest.pb(), ListTasksResponse),
            "GetTask": (req.GetTaskRequest.pb(), TaskPb),
            "CreateTask": (req.CreateTaskRequest.pb(), TaskPb),
            "DeleteTask": (req.DeleteTaskRequest.pb(), empty_pb2.Empty),
            "RunTask": (req.RunTaskRequest.pb(), TaskPb),
            **self.batch_tasks_methods(),
            **self.admin_tasks_methods(),
        }
        return generic_handlers(self, {SERVICE: tasks_methods, **self.admin_services()})


def _ignore_change(queue_name: str, earliest_us: int | None) -> None:
    """The default ``on_tasks_changed``: nothing listens until a dispatcher is attached."""
