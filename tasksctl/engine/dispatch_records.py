"""The SQL the dispatcher needs, as functions taking a ``sqlite3.Connection`` (like records.py).

Readers run on the store's read connection; ``apply_outcome`` and ``reset_all`` run inside the
store's group transaction. Every write is conditional on the task row still existing, so the
result of an attempt for a task deleted or purged mid-flight never resurrects it.

Per-task attempt history lives in ``tasks.history`` (JSON ``{"x": executions, "a": [...]}``,
the last ``HISTORY_LIMIT`` attempts); when a task is given up it moves to ``failed_tasks``.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from google.cloud import tasks_v2

from tasksctl.engine import records
from tasksctl.engine.backoff import retry_delay, schedule_after, should_give_up
from tasksctl.engine.rows import AttemptRow, FailedTask, QueueCounts
from tasksctl.engine.sql import query, statements

AttemptPb: Any = tasks_v2.Attempt.pb()

HISTORY_LIMIT = 50
HEAD_KEEP = 256

DUE_IDS = query("due_ids")
NEXT_DUE = query("next_due")
SELECT_FOR_ATTEMPT = query("select_for_attempt")
SELECT_FOR_UPDATE = query("select_for_update")
UPDATE_FAILED_ATTEMPT = query("update_failed_attempt")
INSERT_FAILED = query("insert_failed")
LIST_FAILED = query("list_failed")
PRUNE_FAILED = query("prune_failed")
QUEUE_NAMES = query("queue_names")
COUNT_BACKLOG = query("count_backlog")
COUNT_DUE = query("count_due")
RESET_ALL = tuple(statements("reset_all"))

# google.rpc.Code for an HTTP status (the standard HTTP -> gRPC mapping).
_HTTP_TO_RPC = {400: 3, 401: 16, 403: 7, 404: 5, 409: 10, 416: 11, 429: 8, 499: 1, 501: 12,
                503: 14, 504: 4}  # fmt: skip
RPC_UNAVAILABLE = 14
RPC_DEADLINE_EXCEEDED = 4


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int
    max_retry_duration: float  # seconds, 0 = unlimited
    min_backoff: float
    max_backoff: float
    max_doublings: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt produced, as the write function needs it."""

    row_id: int
    queue_name: str
    task_name: str
    named: bool
    url: str
    method: str
    schedule_us: int  # the schedule time the attempt was made for
    status: int | None
    ok: bool
    error: str | None
    started_us: int
    finished_us: int
    latency_ms: float
    head: bytes
    reschedule_from_us: int  # retry delay counts from here (end of attempt, or RunTask call)


def due_ids(conn: sqlite3.Connection, queue_id: int, now_us: int, limit: int) -> list[int]:
    return [int(r[0]) for r in conn.execute(DUE_IDS, (queue_id, now_us, limit))]


def next_due(conn: sqlite3.Connection, queue_id: int, now_us: int) -> int | None:
    value = conn.execute(NEXT_DUE, (queue_id, now_us)).fetchone()[0]
    return int(value) if value is not None else None


def task_for_attempt(conn: sqlite3.Connection, row_id: int) -> AttemptRow | None:
    row = conn.execute(SELECT_FOR_ATTEMPT, (row_id,)).fetchone()
    return AttemptRow._make(row) if row is not None else None


def load_history(text: str | None) -> dict[str, Any]:
    if not text:
        return {"x": 0, "a": []}
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def rpc_status(status: int | None, error: str | None) -> tuple[int, str]:
    """The ``Attempt.response_status`` (google.rpc code, message) for an attempt's result."""
    if status is None:
        text = error or "no response"
        code = RPC_DEADLINE_EXCEEDED if text.startswith("DEADLINE_EXCEEDED") else RPC_UNAVAILABLE
        return code, text
    if 200 <= status <= 299:
        return 0, "OK"
    default = 9 if 400 <= status <= 499 else 13 if status >= 500 else 2
    code = _HTTP_TO_RPC.get(status, default)
    message = f"HTTP status code {status}" + (f": {error}" if error else "")
    return code, message


def _attempt_pb(out: Outcome, *, full: bool) -> Any:
    attempt = AttemptPb()
    _set_ts(attempt.schedule_time, out.schedule_us)
    _set_ts(attempt.dispatch_time, out.started_us)
    if full:
        if out.status is not None:
            _set_ts(attempt.response_time, out.finished_us)
        code, message = rpc_status(out.status, out.error)
        attempt.response_status.code = code
        attempt.response_status.message = message
    return attempt


def _set_ts(ts: Any, value_us: int) -> None:
    ts.seconds, micros = divmod(value_us, 1_000_000)
    ts.nanos = micros * 1000


def _entry(out: Outcome) -> dict[str, Any]:
    return {
        "time_us": out.started_us,
        "status": out.status,
        "latency_ms": round(out.latency_ms, 3),
        "error": out.error,
        "response_head": out.head[:HEAD_KEEP].decode("utf-8", "replace"),
    }


def apply_outcome(
    conn: sqlite3.Connection,
    out: Outcome,
    policy: RetryPolicy,
    dedup_us: int,
    failed_keep_us: int,
) -> str:
    """Record one attempt; returns "done", "retry", "gave_up" or "gone" (row no longer there)."""
    if out.ok:
        if conn.execute(records.DELETE_TASK_ROW, (out.row_id,)).rowcount == 0:
            return "gone"
        if out.named and dedup_us > 0:
            records.tombstone(conn, records.KIND_TASK, out.task_name, out.finished_us + dedup_us)
        return "done"
    row = conn.execute(SELECT_FOR_UPDATE, (out.row_id,)).fetchone()
    if row is None:
        return "gone"
    stored_dispatches, stored_responses, first_blob, history_text = row
    dispatch_count = int(stored_dispatches) + 1
    response_count = int(stored_responses) + (out.status is not None)
    history = load_history(history_text)
    if out.status is not None and out.status < 500:
        history["x"] = int(history.get("x", 0)) + 1
    history["a"] = [*history["a"], _entry(out)][-HISTORY_LIMIT:]
    if first_blob:
        first_us = _first_dispatch_us(first_blob)
    else:
        first_blob = _attempt_pb(out, full=False).SerializeToString()
        first_us = out.started_us
    delay = retry_delay(
        dispatch_count - 1, policy.min_backoff, policy.max_backoff, policy.max_doublings
    )
    next_us = schedule_after(out.reschedule_from_us, delay)
    if should_give_up(
        dispatch_count, policy.max_attempts, first_us / 1e6, next_us / 1e6,
        policy.max_retry_duration,
    ):  # fmt: skip
        conn.execute(records.DELETE_TASK_ROW, (out.row_id,))
        if out.named and dedup_us > 0:
            records.tombstone(conn, records.KIND_TASK, out.task_name, out.finished_us + dedup_us)
        conn.execute(PRUNE_FAILED, (out.finished_us,))
        conn.execute(
            INSERT_FAILED,
            (out.queue_name, out.task_name, out.url, out.method, out.finished_us, dispatch_count,
             json.dumps(history["a"]), out.finished_us + failed_keep_us),
        )  # fmt: skip
        return "gave_up"
    conn.execute(
        UPDATE_FAILED_ATTEMPT,
        (dispatch_count, response_count, first_blob,
         _attempt_pb(out, full=True).SerializeToString(), next_us, json.dumps(history),
         out.row_id),
    )  # fmt: skip
    return "retry"


def _first_dispatch_us(blob: bytes) -> int:
    attempt = AttemptPb.FromString(blob)
    return int(attempt.dispatch_time.seconds * 1_000_000 + attempt.dispatch_time.nanos // 1000)


def list_failed(conn: sqlite3.Connection, queue_name: str, now_us: int) -> list[FailedTask]:
    """The failed-task records of a queue that have not expired, oldest first."""
    rows = conn.execute(LIST_FAILED, (queue_name, now_us)).fetchall()
    return [
        FailedTask(name, url, method, int(gave_up), int(count), json.loads(attempts))
        for name, url, method, gave_up, count, attempts in rows
    ]


def queue_names(conn: sqlite3.Connection) -> list[str]:
    return [str(r[0]) for r in conn.execute(QUEUE_NAMES)]


def queue_counts(conn: sqlite3.Connection, queue_id: int, now_us: int) -> QueueCounts:
    """Tasks stored and tasks due in a queue: index-only counts."""
    backlog = int(conn.execute(COUNT_BACKLOG, (queue_id,)).fetchone()[0])
    due = int(conn.execute(COUNT_DUE, (queue_id, now_us)).fetchone()[0])
    return QueueCounts(backlog, due)


def reset_all(conn: sqlite3.Connection) -> tuple[int, int]:
    """Empty the engine's data; returns (queues deleted, tasks deleted)."""
    queues, tasks = records.counts(conn)
    for statement in RESET_ALL:
        conn.execute(statement)
    return queues, tasks
