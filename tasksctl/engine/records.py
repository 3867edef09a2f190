"""Row-level operations on the engine database: queues, tasks, tombstones, LROs, IAM, CMEK.

Each function takes a ``sqlite3.Connection``. Writers run inside the store's group transaction
(see ``store.Store.write``), so their checks and writes are atomic; they raise
``tasksctl.errors`` classes for expected failures. Readers run on the read connection.
"""

from __future__ import annotations

import random
import sqlite3
from typing import Any

from google.cloud import tasks_v2

from tasksctl.engine.rows import FoundTask, ListedTasks, QueueRow, TaskRow
from tasksctl.engine.sql import query
from tasksctl.engine.task_ids import TaskIdCodec
from tasksctl.errors import AlreadyExists, FailedPrecondition, NotFound

QueuePb: Any = tasks_v2.Queue.pb()
TaskPb: Any = tasks_v2.Task.pb()

NOT_FOUND = "Requested entity was not found."
ALREADY_EXISTS = "Requested entity already exists"
TASK_TOMBSTONED = "The task cannot be created because a task with this name existed too recently."
QUEUE_TOMBSTONED = (
    "The queue cannot be created because a queue with this name existed too recently."
)

KIND_TASK = "task"
KIND_QUEUE = "queue"

# The statements are in sql/queries.sql.
# --- queues ---------------------------------------------------------------------------------
SELECT_QUEUE = query("select_queue")
SELECT_QUEUE_ID = query("select_queue_id")
INSERT_QUEUE = query("insert_queue")
UPDATE_QUEUE = query("update_queue")
DELETE_QUEUE = query("delete_queue")
LIST_QUEUES = query("list_queues")
LIST_QUEUES_BY_STATE = query("list_queues_by_state")
COUNT_QUEUES = query("count_queues")

# --- tasks ----------------------------------------------------------------------------------
INSERT_TASK = query("insert_task")
SELECT_NAMED_TASK = query("select_named_task")
SELECT_GENERATED_TASK = query("select_generated_task")
NAMED_TASK_EXISTS = query("named_task_exists")
DELETE_TASK_ROW = query("delete_task_row")
LIST_TASKS = query("list_tasks")
COUNT_TASKS = query("count_tasks")
TOMBSTONE_PURGED_TASKS = query("tombstone_purged_tasks")
PURGE_TASKS = query("purge_tasks")
DELETE_QUEUE_TASKS = query("delete_queue_tasks")
EARLIEST_TASK = query("earliest_task")

# --- meta and tombstones --------------------------------------------------------------------
SELECT_META = query("select_meta")
INSERT_META = query("insert_meta")
NEXT_TASK_ROWID = query("next_task_rowid")
SELECT_TOMBSTONE = query("select_tombstone")
UPSERT_TOMBSTONE = query("upsert_tombstone")
PRUNE_TOMBSTONES = query("prune_tombstones")

# --- operations, IAM, CMEK ------------------------------------------------------------------
INSERT_OPERATION = query("insert_operation")
SELECT_OPERATION = query("select_operation")
SELECT_OPERATION_BY_REQUEST = query("select_operation_by_request")
LIST_OPERATIONS = query("list_operations")
DELETE_OPERATION = query("delete_operation")
PRUNE_OPERATIONS = query("prune_operations")
# Finished batch operations are answerable by GetOperation (and a retried request_id) this long;
# each holds every task it created, so keeping them forever costs ~160 MB per million tasks.
OPERATION_KEEP_US = 3600 * 1_000_000
SELECT_POLICY = query("select_policy")
UPSERT_POLICY = query("upsert_policy")
DELETE_POLICY = query("delete_policy")
SELECT_CMEK = query("select_cmek")
UPSERT_CMEK = query("upsert_cmek")


def generate_task_id() -> str:
    """A random 19-digit decimal ID (used for operation names; tasks use ``task_ids``)."""
    return str(random.getrandbits(64) % 9_000_000_000_000_000_000 + 1_000_000_000_000_000_000)


# ---------------------------------------------------------------------------------------------
# Queues


def find_queue(conn: sqlite3.Connection, name: str) -> QueueRow | None:
    row = conn.execute(SELECT_QUEUE, (name,)).fetchone()
    return QueueRow(row[0], QueuePb.FromString(row[1])) if row else None


def get_queue(conn: sqlite3.Connection, name: str) -> QueueRow:
    row = find_queue(conn, name)
    if row is None:
        raise NotFound(NOT_FOUND)
    return row


def insert_queue(conn: sqlite3.Connection, queue: Any, parent: str, now: int) -> Any:
    """Create a queue; ALREADY_EXISTS if present, FAILED_PRECONDITION if tombstoned."""
    if conn.execute(SELECT_QUEUE_ID, (queue.name,)).fetchone():
        raise AlreadyExists(ALREADY_EXISTS)
    if is_tombstoned(conn, KIND_QUEUE, queue.name, now):
        raise FailedPrecondition(QUEUE_TOMBSTONED)
    conn.execute(INSERT_QUEUE, (queue.name, parent, queue.state, queue.SerializeToString(), now))
    return queue


def save_queue(conn: sqlite3.Connection, row: QueueRow) -> Any:
    queue = row.queue
    purge_us = queue.purge_time.seconds * 1_000_000 + queue.purge_time.nanos // 1000
    conn.execute(UPDATE_QUEUE, (queue.state, queue.SerializeToString(), purge_us, row.id))
    return queue


def set_queue_state(conn: sqlite3.Connection, name: str, state: int) -> Any:
    row = get_queue(conn, name)
    row.queue.state = state
    return save_queue(conn, row)


def purge_queue(conn: sqlite3.Connection, name: str, now: int, dedup_us: int) -> Any:
    """Delete every task created before now; their explicit names are tombstoned."""
    row = get_queue(conn, name)
    if dedup_us > 0:
        conn.execute(TOMBSTONE_PURGED_TASKS, (f"{name}/tasks/", now + dedup_us, row.id, now + 1))
    conn.execute(PURGE_TASKS, (row.id, now + 1))
    row.queue.purge_time.seconds, micros = divmod(now, 1_000_000)
    row.queue.purge_time.nanos = micros * 1000
    return save_queue(conn, row)


def delete_queue(
    conn: sqlite3.Connection,
    name: str,
    now: int,
    tombstone_us: int,
    queue_ids: dict[str, int] | None = None,
) -> None:
    row = get_queue(conn, name)
    if queue_ids is not None:
        queue_ids.pop(name, None)
    conn.execute(DELETE_QUEUE_TASKS, (row.id,))
    conn.execute(DELETE_QUEUE, (row.id,))
    conn.execute(DELETE_POLICY, (name,))
    if tombstone_us > 0:
        conn.execute(UPSERT_TOMBSTONE, (KIND_QUEUE, name, now + tombstone_us))


def list_queues(
    conn: sqlite3.Connection, parent: str, after: str, limit: int, state: int | None
) -> list[Any]:
    if state is None:
        rows = conn.execute(LIST_QUEUES, (parent, after, limit))
    else:
        rows = conn.execute(LIST_QUEUES_BY_STATE, (parent, after, state, limit))
    return [QueuePb.FromString(blob) for (blob,) in rows]


def earliest_schedule(conn: sqlite3.Connection, queue_id: int) -> int | None:
    value = conn.execute(EARLIEST_TASK, (queue_id,)).fetchone()[0]
    return int(value) if value is not None else None


def counts(conn: sqlite3.Connection) -> tuple[int, int]:
    """(queues, tasks) in the whole database."""
    return (
        int(conn.execute(COUNT_QUEUES).fetchone()[0]),
        int(conn.execute(COUNT_TASKS).fetchone()[0]),
    )


# ---------------------------------------------------------------------------------------------
# Tasks


def queue_id_of(
    conn: sqlite3.Connection, queue_name: str, queue_ids: dict[str, int] | None = None
) -> int:
    """The queue's row id (NOT_FOUND if missing); ``queue_ids`` caches it across calls."""
    queue_id = queue_ids.get(queue_name) if queue_ids is not None else None
    if queue_id is None:
        row = conn.execute(SELECT_QUEUE_ID, (queue_name,)).fetchone()
        if row is None:
            raise NotFound(NOT_FOUND)
        queue_id = int(row[0])
        if queue_ids is not None:
            queue_ids[queue_name] = queue_id
    return queue_id


def insert_task(
    conn: sqlite3.Connection,
    queue_name: str,
    rowid: int,
    task_id: str,
    named: bool,
    blob: bytes,
    schedule_us: int,
    create_us: int,
    codec: TaskIdCodec,
    queue_ids: dict[str, int] | None = None,
) -> bool:
    """Insert a serialized task with a row id from ``Store.allocate_task_rowid``.

    Returns False, writing nothing, in the one case the caller must retry with a new row id:
    a generated ID that a caller had already chosen as an explicit name in this queue. The
    only write is the final INSERT, so no SAVEPOINT is needed around this function.
    """
    queue_id = queue_id_of(conn, queue_name, queue_ids)
    if named:
        if is_tombstoned(conn, KIND_TASK, f"{queue_name}/tasks/{task_id}", create_us):
            raise AlreadyExists(TASK_TOMBSTONED)
        if _find_generated(conn, queue_id, task_id, codec) is not None:
            raise AlreadyExists(ALREADY_EXISTS)
    elif conn.execute(NAMED_TASK_EXISTS, (queue_id, task_id)).fetchone():
        return False
    try:
        conn.execute(
            INSERT_TASK, (rowid, queue_id, task_id, int(named), schedule_us, create_us, blob)
        )
    except sqlite3.IntegrityError:
        raise AlreadyExists(ALREADY_EXISTS) from None
    return True


def _find_generated(
    conn: sqlite3.Connection, queue_id: int, task_id: str, codec: TaskIdCodec
) -> TaskRow | None:
    rowid = codec.decode(task_id)
    if rowid is None:
        return None
    row = conn.execute(SELECT_GENERATED_TASK, (rowid, queue_id, task_id)).fetchone()
    return TaskRow._make(row) if row is not None else None


def find_task_row(
    conn: sqlite3.Connection, queue_id: int, task_id: str, codec: TaskIdCodec
) -> FoundTask | None:
    """The task's row and whether it was named, or None."""
    row = conn.execute(SELECT_NAMED_TASK, (queue_id, task_id)).fetchone()
    if row is not None:
        return FoundTask(TaskRow._make(row), True)
    generated = _find_generated(conn, queue_id, task_id, codec)
    return FoundTask(generated, False) if generated is not None else None


def compose_task(row: TaskRow) -> Any:
    """Build a Task from its row: the stored blob plus its mutable columns."""
    return _compose(
        row.task, row.schedule_us, row.dispatch_count, row.response_count,
        row.first_attempt, row.last_attempt,
    )  # fmt: skip


def _compose(
    blob: bytes,
    schedule_us: int,
    dispatch_count: int,
    response_count: int,
    first_attempt: bytes | None,
    last_attempt: bytes | None,
) -> Any:
    task = TaskPb.FromString(blob)
    task.schedule_time.seconds, micros = divmod(int(schedule_us), 1_000_000)
    task.schedule_time.nanos = micros * 1000
    task.dispatch_count = int(dispatch_count)
    task.response_count = int(response_count)
    if first_attempt:
        task.first_attempt.ParseFromString(first_attempt)
    if last_attempt:
        task.last_attempt.ParseFromString(last_attempt)
    return task


def get_task(conn: sqlite3.Connection, queue_name: str, task_id: str, codec: TaskIdCodec) -> Any:
    found = find_task_row(conn, queue_id_of(conn, queue_name), task_id, codec)
    if found is None:
        raise NotFound(NOT_FOUND)
    return compose_task(found.row)


def delete_task(
    conn: sqlite3.Connection,
    queue_name: str,
    task_id: str,
    now: int,
    dedup_us: int,
    codec: TaskIdCodec,
) -> None:
    """Delete a task; an explicitly named one keeps its name tombstoned for the window."""
    found = find_task_row(conn, queue_id_of(conn, queue_name), task_id, codec)
    if found is None:
        raise NotFound(NOT_FOUND)
    conn.execute(DELETE_TASK_ROW, (found.row.id,))
    if found.named and dedup_us > 0:
        tombstone(conn, KIND_TASK, f"{queue_name}/tasks/{task_id}", now + dedup_us)


def list_tasks(
    conn: sqlite3.Connection, queue_id: int, after: tuple[int, int], limit: int
) -> ListedTasks:
    """Up to ``limit`` tasks after the ``(schedule_us, row id)`` cursor, in schedule order."""
    # Unpacked by name rather than a TaskRow per row: a page holds up to a thousand rows.
    rows = conn.execute(LIST_TASKS, (queue_id, after[0], after[1], limit)).fetchall()
    return ListedTasks(
        [_compose(blob, sched, sent, answered, first, last) for _, blob, sched, sent, answered,
         first, last in rows],
        [(int(sched), int(row_id)) for row_id, _, sched, *_ in rows],
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Tombstones


def is_tombstoned(conn: sqlite3.Connection, kind: str, name: str, now: int) -> bool:
    row = conn.execute(SELECT_TOMBSTONE, (kind, name)).fetchone()
    return row is not None and int(row[0]) > now


def tombstone(conn: sqlite3.Connection, kind: str, name: str, expires_us: int) -> None:
    conn.execute(UPSERT_TOMBSTONE, (kind, name, expires_us))


def prune_tombstones(conn: sqlite3.Connection, now: int) -> int:
    return conn.execute(PRUNE_TOMBSTONES, (now,)).rowcount


def prune_operations(conn: sqlite3.Connection, now: int) -> int:
    """Forget batch operations older than :data:`OPERATION_KEEP_US`; returns how many."""
    return conn.execute(PRUNE_OPERATIONS, (now - OPERATION_KEEP_US,)).rowcount


# ---------------------------------------------------------------------------------------------
# Operations, IAM policies, CMEK configs (stored as serialized messages)


def insert_operation(
    conn: sqlite3.Connection,
    name: str,
    method: str,
    parent: str,
    request_id: str | None,
    blob: bytes,
    now: int,
) -> None:
    conn.execute(INSERT_OPERATION, (name, method, parent, request_id, blob, now))


def find_operation(conn: sqlite3.Connection, name: str) -> bytes | None:
    row = conn.execute(SELECT_OPERATION, (name,)).fetchone()
    return bytes(row[0]) if row else None


def find_operation_by_request(
    conn: sqlite3.Connection, method: str, parent: str, request_id: str
) -> bytes | None:
    row = conn.execute(SELECT_OPERATION_BY_REQUEST, (method, parent, request_id)).fetchone()
    return bytes(row[0]) if row else None


def list_operations(
    conn: sqlite3.Connection, prefix: str, after: str, limit: int
) -> list[tuple[str, bytes]]:
    return [(str(n), bytes(b)) for n, b in conn.execute(LIST_OPERATIONS, (prefix, after, limit))]


def delete_operation(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute(DELETE_OPERATION, (name,)).rowcount > 0


def find_blob(conn: sqlite3.Connection, sql: str, key: str) -> bytes | None:
    row = conn.execute(sql, (key,)).fetchone()
    return bytes(row[0]) if row else None


def put_blob(conn: sqlite3.Connection, sql: str, key: str, blob: bytes) -> None:
    conn.execute(sql, (key, blob))


def queue_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute(SELECT_QUEUE_ID, (name,)).fetchone() is not None
