"""Send many tasks fast: ``BatchCreateTasks`` (up to 100 a call), or concurrent ``CreateTask``.

The first batch decides: a backend that answers ``UNIMPLEMENTED`` (an emulator without the
batch RPC) gets the rest as single ``CreateTask`` calls from a thread pool. Batches are sent a
few at a time from a thread pool as well (``--concurrency``, default 4; single creates get 8
times that many threads, at most 64); the gRPC channel multiplexes them.

``BatchCreateTasks`` answers a long-running operation whose metadata lists the requests that
failed (``failed_requests``: index -> status); every other request created its task. When every
request of a batch failed, the operation carries an error too, but the metadata still says why
each one failed, so the per-row outcome is read from the metadata either way.

A call that fails as a whole (the queue vanished, the engine went away) stops the import: its
rows and every row not yet sent are reported as failed with that error, so the rejects file
holds everything that still needs importing.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from tasksctl.task_flags import TaskInput

BATCH_SIZE = 100
DEFAULT_CONCURRENCY = 4
# Single creates in flight per batch call allowed: more requests in flight let the service
# (and the engine's group commit) do more per round trip. 4 batch calls -> 32 creates.
SINGLE_PER_BATCH = 8
MAX_SINGLE = 64
OPERATION_TIMEOUT = 300.0

CREATED = "created"
EXISTED = "existed"
FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    status: str  # CREATED | EXISTED | FAILED
    message: str = ""
    name: str = ""


Progress = Callable[[int], None]


class Sender:
    """Creates ``TaskInput`` items in one queue; ``run`` returns an ``Outcome`` per item."""

    def __init__(
        self,
        client: Any,
        queue_name: str,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        batch_size: int = BATCH_SIZE,
        progress: Progress | None = None,
    ) -> None:
        from tasksctl.client import import_tasks_v2

        self.client = client
        self.queue_name = queue_name
        self.concurrency = max(1, concurrency)
        self.batch_size = max(1, min(batch_size, BATCH_SIZE))
        self.progress = progress or (lambda n: None)
        self.tasks_v2 = import_tasks_v2()
        self.batch_supported = True
        self._stop_reason: str | None = None
        self._lock = threading.Lock()

    def run(self, items: Sequence[TaskInput]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(items)
        chunks = [
            list(range(start, min(start + self.batch_size, len(items))))
            for start in range(0, len(items), self.batch_size)
        ]
        if not chunks:
            return []
        self._batch(items, chunks[0], outcomes)  # decides whether batches are served
        rest = chunks[1:]
        if not self.batch_supported:
            rest = [[i] for i in range(len(items)) if outcomes[i] is None]
        workers = (
            self.concurrency
            if self.batch_supported
            else min(MAX_SINGLE, self.concurrency * SINGLE_PER_BATCH)
        )
        send = self._batch if self.batch_supported else self._single
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="import") as pool:
            for future in [pool.submit(send, items, chunk, outcomes) for chunk in rest]:
                future.result()
        return [o or Outcome(FAILED, "not sent") for o in outcomes]

    # -- one call --------------------------------------------------------------------------

    def _stopped(self, chunk: list[int], outcomes: list[Outcome | None]) -> bool:
        with self._lock:
            reason = self._stop_reason
        if reason is None:
            return False
        for index in chunk:
            outcomes[index] = Outcome(FAILED, f"not sent: the import stopped after {reason}")
        self.progress(len(chunk))
        return True

    def _fail_all(self, chunk: list[int], outcomes: list[Outcome | None], exc: Exception) -> None:
        message = describe_error(exc)
        with self._lock:
            if self._stop_reason is None:
                self._stop_reason = message
        for index in chunk:
            outcomes[index] = Outcome(FAILED, message)
        self.progress(len(chunk))

    def _batch(
        self, items: Sequence[TaskInput], chunk: list[int], outcomes: list[Outcome | None]
    ) -> None:
        from google.api_core import exceptions as core_exceptions

        from tasksctl.resources import utcnow

        if self._stopped(chunk, outcomes):
            return
        tasks_v2, parent = self.tasks_v2, self.queue_name
        now = utcnow()
        request = tasks_v2.BatchCreateTasksRequest.pb()(parent=parent, request_id=uuid.uuid4().hex)
        for index in chunk:
            entry = request.requests.add()
            entry.parent = parent
            entry.task.CopyFrom(items[index].to_pb(parent, now))
        try:
            operation = self.client.batch_create_tasks(
                request=tasks_v2.BatchCreateTasksRequest.wrap(request)
            )
        except core_exceptions.MethodNotImplemented:
            self.batch_supported = False
            return
        except core_exceptions.GoogleAPICallError as exc:
            self._fail_all(chunk, outcomes, exc)
            return
        try:
            response = operation.result(timeout=OPERATION_TIMEOUT)
        except core_exceptions.GoogleAPICallError:
            response = None  # every request failed; the metadata says why
        except Exception as exc:  # a timeout or a broken operation: the outcome is unknown
            self._fail_all(chunk, outcomes, exc)
            return
        failed = dict(operation.metadata.failed_requests.items()) if operation.metadata else {}
        created = iter(response.tasks) if response is not None else iter(())
        for position, index in enumerate(chunk):
            status = failed.get(position)
            if status is None:
                task = next(created, None)
                outcomes[index] = Outcome(CREATED, name=task.name if task is not None else "")
            elif status.code == 6:  # ALREADY_EXISTS
                outcomes[index] = Outcome(EXISTED, f"ALREADY_EXISTS: {status.message}")
            else:
                outcomes[index] = Outcome(FAILED, f"{code_name(status.code)}: {status.message}")
        self.progress(len(chunk))

    def _single(
        self, items: Sequence[TaskInput], chunk: list[int], outcomes: list[Outcome | None]
    ) -> None:
        from google.api_core import exceptions as core_exceptions

        from tasksctl.resources import utcnow

        if self._stopped(chunk, outcomes):
            return
        (index,) = chunk
        task = self.tasks_v2.Task.wrap(items[index].to_pb(self.queue_name, utcnow()))
        try:
            created = self.client.create_task(request={"parent": self.queue_name, "task": task})
        except core_exceptions.AlreadyExists as exc:
            outcomes[index] = Outcome(EXISTED, describe_error(exc))
        except core_exceptions.GoogleAPICallError as exc:
            if _is_fatal(exc):
                self._fail_all(chunk, outcomes, exc)
                return
            outcomes[index] = Outcome(FAILED, describe_error(exc))
        else:
            outcomes[index] = Outcome(CREATED, name=created.name)
        self.progress(1)


def describe_error(exc: BaseException) -> str:
    """``STATUS: message`` for an API error, as the CLI prints it."""
    from tasksctl.errors import TasksctlError, from_api_exception

    error = exc if isinstance(exc, TasksctlError) else from_api_exception(exc)
    if error is None:
        return f"{type(exc).__name__}: {exc}"
    text = error.cli_message()
    return " ".join(text.split())


def code_name(code: int) -> str:
    from google.rpc import code_pb2

    try:
        return str(code_pb2.Code.Name(code))
    except ValueError:
        return f"CODE_{code}"


def _is_fatal(exc: Any) -> bool:
    """Errors that will hit every other row too (no point sending them)."""
    from google.api_core import exceptions as core_exceptions

    return isinstance(
        exc,
        core_exceptions.NotFound
        | core_exceptions.PermissionDenied
        | core_exceptions.Unauthenticated
        | core_exceptions.ServiceUnavailable,
    )
