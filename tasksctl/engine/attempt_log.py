"""The attempt history tests read: every attempt the dispatcher made, newest last, in memory.

One small tuple per attempt in a bounded deque (``LIMIT`` attempts, the oldest dropped), cleared
by ``POST /v1/reset``. Times are the engine clock's (virtual under ``--clock manual``). Served as
``GET /v1/attempts?task=NAME`` or ``?queue=NAME`` (see ``clock_http``).
"""

from __future__ import annotations

from collections import deque
from typing import Any, NamedTuple

LIMIT = 100_000


class Attempt(NamedTuple):
    queue: str  # full queue name
    task: str  # full task name
    schedule_us: int  # the schedule time the attempt was made for (X-CloudTasks-TaskETA)
    dispatch_us: int  # engine clock when the request was sent
    status: int | None  # HTTP status; None without an answer
    error: str | None
    retry_count: int  # X-CloudTasks-TaskRetryCount
    execution_count: int  # X-CloudTasks-TaskExecutionCount
    redelivery: bool  # an --redeliver drill, not a scheduled attempt
    outcome: str  # done, retry, gave_up, gone, redelivered


class AttemptLog:
    """A bounded, in-memory record of attempts with a running total."""

    def __init__(self, limit: int = LIMIT) -> None:
        self._items: deque[Attempt] = deque(maxlen=limit)
        self.total = 0

    def add(self, attempt: Attempt) -> None:
        self._items.append(attempt)
        self.total += 1

    def clear(self) -> None:
        self._items.clear()

    def of_task(self, name: str) -> list[Attempt]:
        return [a for a in self._items if a.task == name]

    def of_queue(self, name: str) -> list[Attempt]:
        return [a for a in self._items if a.queue == name]


def to_json(attempt: Attempt, rfc3339: Any) -> dict[str, Any]:
    """The JSON form served on the side port (``rfc3339`` formats microseconds)."""
    return {
        "queue": attempt.queue,
        "task": attempt.task,
        "schedule_time": rfc3339(attempt.schedule_us),
        "dispatch_time": rfc3339(attempt.dispatch_us),
        "status": attempt.status,
        "error": attempt.error,
        "retry_count": attempt.retry_count,
        "execution_count": attempt.execution_count,
        "redelivery": attempt.redelivery,
        "outcome": attempt.outcome,
    }
