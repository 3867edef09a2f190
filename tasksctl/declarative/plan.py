"""Compare the queues a file wants with the live ones and list the RPCs that reconcile them.

Rules:

- A queue in the file and not live → ``create`` (CreateQueue), then ``pause`` if the file says
  ``state: paused`` (state is output-only: only PauseQueue/ResumeQueue change it).
- A queue in both → ``update`` (UpdateQueue) when any setting differs, comparing the file's value
  *or the service default when the file omits it* with the live value (the file is
  authoritative, see ``spec``). Floats compare with a 1e-9 relative tolerance. ``pause`` comes
  before the update and ``resume`` after it, so a queue never dispatches with half-applied
  settings.
- A live queue absent from the file → ``delete`` only with ``prune=True`` and only inside the
  covered (project, location) scope.

Update masks name exactly the changed fields, in snake_case as the gRPC API expects. Scalars use
their leaf path (``rate_limits.max_dispatches_per_second``, ``retry_config.max_attempts``,
``http_target.oidc_token.audience``); values that only make sense whole use the message path,
as gcloud does: ``app_engine_routing_override``, ``http_target.uri_override``,
``http_target.header_overrides`` (a list), ``http_target.oidc_token``/``oauth_token`` when a token
is added or removed, and ``http_target`` when the file drops the HTTP target entirely.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from google.cloud import tasks_v2

from tasksctl.declarative.convert import live_state, queue_leaves, spec_to_queue
from tasksctl.declarative.fields import (
    FIELDS,
    FIELDS_BY_PATH,
    STATE_PAUSED,
    STATE_RUNNING,
    display_value,
    values_equal,
)
from tasksctl.declarative.spec import QueueSpec
from tasksctl.resources import parse_queue_name

CREATE = "create"
UPDATE = "update"
PAUSE = "pause"
RESUME = "resume"
DELETE = "delete"
KINDS = (CREATE, UPDATE, PAUSE, RESUME, DELETE)
# gcloud's confirmations: ``Created queue [NAME].``; summaries use them in lower case.
PAST_TENSE = {
    CREATE: "Created",
    UPDATE: "Updated",
    PAUSE: "Paused",
    RESUME: "Resumed",
    DELETE: "Deleted",
}


@dataclass(frozen=True)
class FieldChange:
    """One field going from ``old`` to ``new`` (normalized values; None = unset)."""

    path: str
    old: Any
    new: Any
    reset: bool = False  # the file omits the field: back to the service default / removed

    @property
    def old_text(self) -> str:
        return display_value(FIELDS_BY_PATH.get(self.path), self.old)

    @property
    def new_text(self) -> str:
        return display_value(FIELDS_BY_PATH.get(self.path), self.new)


@dataclass(frozen=True)
class Action:
    """One RPC of a plan. ``queue`` is the request body for create and update."""

    kind: str
    name: str
    queue: tasks_v2.Queue | None = None
    update_mask: tuple[str, ...] = ()
    changes: tuple[FieldChange, ...] = ()
    spec: QueueSpec | None = None

    @property
    def queue_id(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    @property
    def parent(self) -> str:
        return self.name.rsplit("/queues/", 1)[0]

    @property
    def project_location(self) -> tuple[str, str]:
        parsed = parse_queue_name(self.name)
        return parsed.project, parsed.location


@dataclass(frozen=True)
class Plan:
    """The ordered actions; no actions means the live queues already match the file."""

    actions: tuple[Action, ...] = ()

    @property
    def has_changes(self) -> bool:
        return bool(self.actions)

    def count(self, kind: str) -> int:
        return sum(1 for action in self.actions if action.kind == kind)

    def summary(self) -> str:
        """``Plan: 1 to create, 2 to update, 0 to pause, 0 to resume, 1 to delete.``"""
        if not self.actions:
            return "No changes. The queues match the file."
        counts = Counter(action.kind for action in self.actions)
        return "Plan: " + ", ".join(f"{counts[kind]} to {kind}" for kind in KINDS) + "."


def compute_plan(
    specs: Iterable[QueueSpec],
    current: Iterable[tasks_v2.Queue] | Mapping[str, tasks_v2.Queue],
    *,
    prune: bool = False,
    scope: Iterable[tuple[str, str]] | None = None,
) -> Plan:
    """The actions that make ``current`` match ``specs``.

    ``current`` holds the live queues (a list, or a dict keyed by full name) of at least the
    covered locations; ``scope`` is the set of (project, location) pairs where ``prune`` may
    delete (default: the pairs of ``specs``).
    """
    wanted = sorted(specs, key=lambda spec: spec.name)
    live_queues = list(current.values()) if isinstance(current, Mapping) else list(current)
    live_by_name = {str(queue.name): queue for queue in live_queues}
    actions: list[Action] = []
    for spec in wanted:
        live = live_by_name.get(spec.name)
        if live is None:
            actions.extend(_create(spec))
        else:
            actions.extend(_reconcile(spec, live))
    if prune:
        covered = set(scope) if scope is not None else {(s.project, s.location) for s in wanted}
        wanted_names = {spec.name for spec in wanted}
        for name in sorted(live_by_name):
            parsed = parse_queue_name(name)
            if name not in wanted_names and (parsed.project, parsed.location) in covered:
                actions.append(Action(DELETE, name))
    return Plan(tuple(actions))


def _create(spec: QueueSpec) -> list[Action]:
    changes = tuple(
        FieldChange(f.path, None, spec.values[f.path])
        for f in FIELDS
        if spec.values.get(f.path) is not None
    )
    actions = [Action(CREATE, spec.name, spec_to_queue(spec), (), changes, spec)]
    if spec.state == STATE_PAUSED:
        actions.append(_state_action(PAUSE, spec, STATE_RUNNING))
    return actions


def _reconcile(spec: QueueSpec, live: tasks_v2.Queue) -> list[Action]:
    leaves = queue_leaves(live)
    changes = diff_fields(spec, leaves)
    state = live_state(live)
    actions: list[Action] = []
    if spec.state == STATE_PAUSED and state != STATE_PAUSED:
        actions.append(_state_action(PAUSE, spec, state))
    if changes:
        mask = update_mask(changes, spec, leaves)
        body = spec_to_queue(spec, fill_defaults=True)
        actions.append(Action(UPDATE, spec.name, body, mask, changes, spec))
    if spec.state == STATE_RUNNING and state != STATE_RUNNING:
        actions.append(_state_action(RESUME, spec, state))
    return actions


def _state_action(kind: str, spec: QueueSpec, old_state: str) -> Action:
    return Action(
        kind, spec.name, changes=(FieldChange("state", old_state, spec.state),), spec=spec
    )


def diff_fields(spec: QueueSpec, leaves: Mapping[str, Any]) -> tuple[FieldChange, ...]:
    """Field-level differences between a spec and a live queue's leaves."""
    changes = []
    for fdef in FIELDS:
        new = spec.effective(fdef.path)
        live = leaves.get(fdef.path)
        old = fdef.default if live is None else live
        if not values_equal(fdef, old, new):
            reset = spec.values.get(fdef.path) is None
            changes.append(FieldChange(fdef.path, old, new, reset))
    return tuple(changes)


def update_mask(
    changes: Iterable[FieldChange], spec: QueueSpec, leaves: Mapping[str, Any]
) -> tuple[str, ...]:
    """The UpdateQueue mask paths for these changes (see the module docstring)."""
    wants_http = any(
        value is not None for path, value in spec.values.items() if path.startswith("http_target.")
    )
    paths: set[str] = set()
    for change in changes:
        path = change.path
        if path.startswith("app_engine_routing_override."):
            paths.add("app_engine_routing_override")
        elif path.startswith("http_target."):
            paths.add(_http_mask(path, wants_http, spec, leaves))
        else:
            paths.add(path)
    return tuple(sorted(paths))


def _http_mask(path: str, wants_http: bool, spec: QueueSpec, leaves: Mapping[str, Any]) -> str:
    if not wants_http:
        return "http_target"  # the file has no HTTP target: remove it whole
    rest = path.removeprefix("http_target.")
    if rest.startswith("uri_override."):
        return "http_target.uri_override"
    if rest.startswith(("oidc_token.", "oauth_token.")):
        token = rest.split(".", 1)[0]
        prefix = f"http_target.{token}."
        in_file = any(v is not None for p, v in spec.values.items() if p.startswith(prefix))
        in_live = any(v is not None for p, v in leaves.items() if p.startswith(prefix))
        return path if in_file and in_live else f"http_target.{token}"
    return path
