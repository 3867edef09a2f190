"""Typed rows that cross modules: what ``records`` and ``dispatch_records`` read from the store.

Each matches the column list of its query in ``sql/queries.sql`` (built with ``_make`` from the
database row, so the order here is the order there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple


@dataclass
class QueueRow:
    """A queue's row id and its stored Queue message (mutable: ``save_queue`` writes it back)."""

    id: int
    queue: Any


class TaskRow(NamedTuple):
    """The columns a Task is composed from (``select_named_task``, ``list_tasks``, ...)."""

    id: int
    task: bytes  # the serialized Task as created
    schedule_us: int
    dispatch_count: int
    response_count: int
    first_attempt: bytes | None  # serialized Attempt
    last_attempt: bytes | None


class FoundTask(NamedTuple):
    row: TaskRow
    named: bool  # the caller chose the name (dedup applies)


class ListedTasks(NamedTuple):
    """A page of ``list_tasks``: the composed Task messages and, for each, its cursor key."""

    tasks: list[Any]
    keys: list[tuple[int, int]]  # (schedule_us, row id), the ListTasks page-token cursor


class AttemptRow(NamedTuple):
    """A task as the dispatcher needs it for one attempt (``select_for_attempt``)."""

    id: int
    task: bytes
    schedule_us: int
    dispatch_count: int
    response_count: int
    first_attempt: bytes | None
    last_attempt: bytes | None
    history: str | None  # JSON, see dispatch_records.load_history
    named: int
    task_id: str

    @property
    def task_row(self) -> TaskRow:
        return TaskRow._make(self[:7])


class FailedTask(NamedTuple):
    """A task given up after its retries (``list_failed``), for ``tasks failed``."""

    name: str
    url: str
    method: str
    gave_up_us: int
    dispatch_count: int
    attempts: list[dict[str, Any]]  # oldest first, see dispatch_records._entry


class QueueCounts(NamedTuple):
    backlog: int  # tasks stored
    due: int  # tasks whose schedule time has come
