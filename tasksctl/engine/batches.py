"""The servicer's batch RPCs: BatchCreateTasks and BatchDeleteTasks (long-running operations).

Each batch runs in one write of the store's group transaction, so its operation is already
done when the RPC answers; it is stored (``records.insert_operation``) for GetOperation and for
a retried ``request_id``, until it expires (``records.OPERATION_KEEP_US``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from google.cloud import tasks_v2
from google.longrunning import operations_pb2
from google.protobuf import empty_pb2

from tasksctl.engine import records
from tasksctl.engine.clock import Clock
from tasksctl.engine.operations import (
    CREATE_PARTIALLY_SUCCEEDED,
    DELETE_PARTIALLY_SUCCEEDED,
    BatchCreateMetadata,
    BatchDeleteMetadata,
    finished_operation,
    operation_name,
    status_of,
    timestamp,
)
from tasksctl.engine.rpc import rpc
from tasksctl.engine.storage import Storage
from tasksctl.engine.task_validation import check_view, prepare_new_task, task_view
from tasksctl.engine.validation import invalid
from tasksctl.errors import NotFound, TasksctlError
from tasksctl.resources import QueueName, parse_task_name

BatchCreateResponse: Any = tasks_v2.BatchCreateTasksResponse.pb()
EMPTY = empty_pb2.Empty()

MAX_BATCH_CREATE = 100
MAX_BATCH_DELETE = 1000


class BatchRpcs:
    """Mixin for ``server.CloudTasksService`` (which provides the attributes below)."""

    store: Storage
    clock: Clock
    dedup_us: int
    on_tasks_changed: Callable[[str, int | None], None]

    def _queue(self, text: str, field: str) -> tuple[QueueName, str]:  # pragma: no cover
        raise NotImplementedError

    @rpc
    async def BatchCreateTasks(self, request: Any, context: Any) -> Any:
        now = self.clock.now_us
        parent, queue_name = self._queue(request.parent, "parent")
        count = len(request.requests)
        if not 1 <= count <= MAX_BATCH_CREATE:
            raise invalid("requests", f"must hold 1 to {MAX_BATCH_CREATE} requests, got {count}")
        started = now()
        failed: dict[int, Any] = {}
        prepared: list[tuple[int, Any, int]] = []
        for index, item in enumerate(request.requests):
            if (
                item.parent
                and self._queue(item.parent, f"requests[{index}].parent")[1] != queue_name
            ):
                raise invalid(f"requests[{index}].parent", "must be the batch's parent queue")
            try:
                view = check_view(item.response_view)
                new = prepare_new_task(parent, queue_name, item.task, started)
            except TasksctlError as err:
                failed[index] = status_of(err.grpc_status, err.message)
                continue
            prepared.append((index, new, view))
        location = str(parent.parent)
        store = self.store
        codec = store.task_ids

        def run(conn: sqlite3.Connection) -> Any:
            if request.request_id:
                existing = records.find_operation_by_request(
                    conn, "BatchCreateTasks", queue_name, request.request_id
                )
                if existing is not None:
                    return _operation_from(existing)
            if not records.queue_exists(conn, queue_name):
                raise NotFound(records.NOT_FOUND)
            response = BatchCreateResponse()
            for index, new, view in prepared:
                while True:
                    rowid = store.allocate_task_rowid()
                    task_id = new.task_id or codec.encode(rowid)
                    new.task.name = f"{queue_name}/tasks/{task_id}"
                    try:
                        inserted = records.insert_task(
                            conn, queue_name, rowid, task_id, new.task_id is not None,
                            new.task.SerializeToString(), new.schedule_us, new.create_us, codec,
                        )  # fmt: skip
                    except TasksctlError as err:
                        failed[index] = status_of(err.grpc_status, err.message)
                        break
                    if inserted:
                        response.tasks.append(task_view(new.task, view))
                        break
            metadata = BatchCreateMetadata(start_time=timestamp(started), end_time=timestamp(now()))
            return _store_operation(
                conn, "BatchCreateTasks", location, queue_name, request.request_id, metadata,
                response, failed, count, CREATE_PARTIALLY_SUCCEEDED, now(),
            )  # fmt: skip

        operation = await self.store.write(run)
        if len(failed) < count:
            self.on_tasks_changed(
                queue_name, min((p[1].schedule_us for p in prepared), default=None)
            )
        return operation

    @rpc
    async def BatchDeleteTasks(self, request: Any, context: Any) -> Any:
        now = self.clock.now_us
        parent, queue_name = self._queue(request.parent, "parent")
        count = len(request.names)
        if not 1 <= count <= MAX_BATCH_DELETE:
            raise invalid("names", f"must hold 1 to {MAX_BATCH_DELETE} task names, got {count}")
        started = now()
        failed: dict[int, Any] = {}
        task_ids: list[tuple[int, str]] = []
        for index, text in enumerate(request.names):
            try:
                name = parse_task_name(text, f"names[{index}]")
                if name.parent != parent:
                    raise invalid(f"names[{index}]", "the task is not in the batch's parent queue")
            except TasksctlError as err:
                failed[index] = status_of(err.grpc_status, err.message)
                continue
            task_ids.append((index, name.task))
        dedup, location, codec = self.dedup_us, str(parent.parent), self.store.task_ids

        def run(conn: sqlite3.Connection) -> Any:
            if request.request_id:
                existing = records.find_operation_by_request(
                    conn, "BatchDeleteTasks", queue_name, request.request_id
                )
                if existing is not None:
                    return _operation_from(existing)
            if not records.queue_exists(conn, queue_name):
                raise NotFound(records.NOT_FOUND)
            for index, task_id in task_ids:
                try:
                    records.delete_task(conn, queue_name, task_id, now(), dedup, codec)
                except TasksctlError as err:
                    failed[index] = status_of(err.grpc_status, err.message)
            metadata = BatchDeleteMetadata(start_time=timestamp(started), end_time=timestamp(now()))
            return _store_operation(
                conn, "BatchDeleteTasks", location, queue_name, request.request_id, metadata,
                EMPTY, failed, count, DELETE_PARTIALLY_SUCCEEDED, now(),
            )  # fmt: skip

        operation = await self.store.write(run)
        self.on_tasks_changed(queue_name, None)
        return operation

    def batch_tasks_methods(self) -> dict[str, tuple[Any, Any]]:
        return {
            "BatchCreateTasks": (tasks_v2.BatchCreateTasksRequest.pb(), operations_pb2.Operation),
            "BatchDeleteTasks": (tasks_v2.BatchDeleteTasksRequest.pb(), operations_pb2.Operation),
        }


def _store_operation(
    conn: sqlite3.Connection,
    kind: str,
    location: str,
    queue_name: str,
    request_id: str,
    metadata: Any,
    response: Any,
    failed: dict[int, Any],
    count: int,
    partial: int,
    now_us: int,
) -> Any:
    """The finished operation of batch RPC ``kind``, stored for GetOperation and retries."""
    operation = finished_operation(
        operation_name(location), metadata, response, failed, count, f"{kind}Metadata", partial
    )
    records.insert_operation(
        conn, operation.name, kind, queue_name, request_id or None,
        operation.SerializeToString(), now_us,
    )  # fmt: skip
    return operation


def _operation_from(blob: bytes) -> Any:
    return operations_pb2.Operation.FromString(blob)
