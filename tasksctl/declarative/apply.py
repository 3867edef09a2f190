"""Run a Plan with the official client: CreateQueue, UpdateQueue(update_mask), Pause/Resume, Delete.

Actions run in plan order and stop at the first error, which is raised as ``ApplyError`` saying
what had already been done (nothing is rolled back: every completed RPC is a consistent state,
and running apply again continues from there). A dry run calls no RPC at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import field_mask_pb2

from tasksctl.declarative.plan import (
    CREATE,
    DELETE,
    KINDS,
    PAST_TENSE,
    PAUSE,
    RESUME,
    UPDATE,
    Action,
    Plan,
)
from tasksctl.declarative.spec import QueueFile
from tasksctl.errors import TasksctlError, from_api_exception

_PAST = {kind: verb.lower() for kind, verb in PAST_TENSE.items()}


@dataclass
class ApplyResult:
    """What an apply did (or, for a dry run, would do)."""

    plan: Plan
    completed: list[Action] = field(default_factory=list)
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        """True when something changed, or would change on a dry run (exit code 2 in CI)."""
        return bool(self.completed) or (self.dry_run and self.plan.has_changes)

    def count(self, kind: str) -> int:
        return sum(1 for action in self.completed if action.kind == kind)

    def summary(self) -> str:
        """``Apply complete: 1 created, 0 updated, ...`` or the plan summary for a dry run."""
        if self.dry_run:
            return self.plan.summary() + " (dry run: nothing was changed)"
        if not self.completed:
            return "No changes. The queues match the file."
        return "Apply complete: " + ", ".join(f"{self.count(k)} {_PAST[k]}" for k in KINDS) + "."


class ApplyError(TasksctlError):
    """Applying the queue file failed part-way."""

    def __init__(
        self, action: Action, cause: TasksctlError, completed: list[Action], remaining: int
    ):
        self.action = action
        self.cause = cause
        self.completed = list(completed)
        self.exit_code = cause.exit_code
        self.grpc_status = cause.grpc_status
        done = (
            "already done: " + ", ".join(f"{_PAST[a.kind]} {a.queue_id}" for a in completed)
            if completed
            else "nothing was changed before it"
        )
        left = f"; {remaining} more action(s) not attempted" if remaining else ""
        super().__init__(
            f"{action.kind} queue [{action.name}] failed: {cause.cli_message()} ({done}{left})"
        )


def apply_plan(
    client: Any,
    plan: Plan,
    *,
    dry_run: bool = False,
    on_action: Callable[[Action], None] | None = None,
) -> ApplyResult:
    """Execute ``plan`` with a ``tasks_v2.CloudTasksClient``; ``on_action`` runs after each RPC."""
    result = ApplyResult(plan, dry_run=dry_run)
    if dry_run:
        return result
    for index, action in enumerate(plan.actions):
        try:
            execute(client, action)
        except Exception as exc:
            cause = exc if isinstance(exc, TasksctlError) else from_api_exception(exc)
            if cause is None:
                raise
            remaining = len(plan.actions) - index - 1
            raise ApplyError(action, cause, result.completed, remaining) from exc
        result.completed.append(action)
        if on_action is not None:
            on_action(action)
    return result


def execute(client: Any, action: Action) -> None:
    """The one RPC behind an action."""
    if action.kind == CREATE:
        client.create_queue(parent=action.parent, queue=action.queue)
    elif action.kind == UPDATE:
        mask = field_mask_pb2.FieldMask(paths=list(action.update_mask))
        client.update_queue(queue=action.queue, update_mask=mask)
    elif action.kind == PAUSE:
        client.pause_queue(name=action.name)
    elif action.kind == RESUME:
        client.resume_queue(name=action.name)
    elif action.kind == DELETE:
        client.delete_queue(name=action.name)
    else:  # pragma: no cover
        raise ValueError(f"unknown action {action.kind}")


def fetch_current(client: Any, scope: Iterable[tuple[str, str]]) -> list[Any]:
    """Every live queue in the given (project, location) pairs (ListQueues, all pages)."""
    queues: list[Any] = []
    for project, location in sorted(set(scope)):
        queues.extend(client.list_queues(parent=f"projects/{project}/locations/{location}"))
    return queues


def plan_file(client: Any, queue_file: QueueFile, *, prune: bool = False) -> Plan:
    """Fetch the live queues a loaded file covers and compute its plan."""
    from tasksctl.declarative.plan import compute_plan

    current = fetch_current(client, queue_file.scope)
    return compute_plan(queue_file.queues, current, prune=prune, scope=queue_file.scope)
