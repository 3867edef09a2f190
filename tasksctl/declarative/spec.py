"""The ``queues.yaml`` format: field table, typed queue specs, and a loader with line numbers.

Format (keys are snake_case and nested like the Cloud Tasks v2 ``Queue`` message)::

    project: my-project          # optional; default: the CLI's project
    location: us-central1        # optional; default: the CLI's location
    queues:
      - name: email              # queue ID, required
        project: other           # optional per-queue override
        location: europe-west1   # optional per-queue override
        state: running           # running | paused (default running)
        rate_limits: {max_dispatches_per_second: 10, max_concurrent_dispatches: 5}
        retry_config: {max_attempts: 5, max_retry_duration: 1h, min_backoff: 1s,
                       max_backoff: 10m, max_doublings: 4}
        stackdriver_logging_config: {sampling_ratio: 0.5}
        app_engine_routing_override: {service: api, version: v1, instance: "1"}
        http_target:
          uri_override: {scheme: https, host: example.com, port: 443, path: /x,
                         query: "a=b", mode: always}
          http_method: POST
          header_overrides: {X-Env: prod}
          oidc_token: {service_account_email: sa@p.iam.gserviceaccount.com, audience: https://x}
          # or oauth_token: {service_account_email: ..., scope: ...}

Top-level keys starting with ``x-`` are ignored, so a file can hold YAML anchors
(``x-defaults: &defaults``) that queues merge in with ``<<: *defaults``.

**The file is authoritative.** For every queue it lists, a setting the file leaves out means the
service default (``DEFAULTS`` below), and an omitted ``http_target`` or
``app_engine_routing_override`` means none: applying the file resets a live queue's other values.
That is what "make the queues match the file" means, and it is what makes a second apply a no-op.

Durations take ``100ms``, ``10s``, ``1.5m``, ``2h``, ``1d`` or a bare number of seconds;
``max_attempts`` takes an integer >= -1 or ``unlimited`` (-1). A null value (``max_attempts:``)
counts as not given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yaml.nodes import Node, ScalarNode

from tasksctl.declarative.fields import (
    DEFAULTS,
    FIELD_TREE,
    FIELDS_BY_PATH,
    STATE_RUNNING,
    STATES,
    FieldDef,
    ValueProblem,
    format_duration_nanos,
    parse_value,
    text_value,
)
from tasksctl.declarative.yamlsrc import Reader, SpecError, compose, join, line_of, show
from tasksctl.resources import LOCATION_ID_RE, PROJECT_ID_RE, QUEUE_ID_RE

FORMAT_TASKSCTL = "tasksctl"
FORMAT_APPENGINE = "appengine"

TOP_KEYS = ("project", "location", "queues")
QUEUE_KEYS = ("name", "project", "location", "state")


@dataclass(frozen=True)
class QueueSpec:
    """One queue as the file wants it. ``values`` holds only the settings the file gives."""

    project: str
    location: str
    queue_id: str
    state: str = STATE_RUNNING
    values: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    line: int = 0

    @property
    def name(self) -> str:
        """Full resource name ``projects/P/locations/L/queues/Q``."""
        return f"projects/{self.project}/locations/{self.location}/queues/{self.queue_id}"

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.location}"

    def effective(self, path: str) -> Any:
        """The value the queue should end up with: the file's, else the service default."""
        value = self.values.get(path)
        return FIELDS_BY_PATH[path].default if value is None else value


@dataclass(frozen=True)
class QueueFile:
    """A loaded file: its queues, the (project, location) pairs it covers, and warnings."""

    source: str
    format: str
    queues: tuple[QueueSpec, ...]
    scope: frozenset[tuple[str, str]]
    warnings: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------
# Loading


def load_file(
    path: str | Path, default_project: str | None = None, default_location: str | None = None
) -> QueueFile:
    """Read and validate a queues file (tasksctl format or App Engine ``queue.yaml``).

    Raises SpecError (a UsageError, exit 2) with a one-line ``file:line: field: problem``.
    """
    from tasksctl.bounded_input import QUEUE_FILE_MAX_BYTES, read_text

    text = read_text(path, QUEUE_FILE_MAX_BYTES, "queues file", unreadable=f"cannot read {path}")
    return load_text(text, str(path), default_project, default_location)


def load_text(
    text: str,
    source: str = "queues.yaml",
    default_project: str | None = None,
    default_location: str | None = None,
) -> QueueFile:
    """Validate queue-file text; ``source`` names the file in error messages."""
    from tasksctl.bounded_input import nesting_guard

    with nesting_guard(source):
        return _load_text(text, source, default_project, default_location)


def _load_text(
    text: str, source: str, default_project: str | None, default_location: str | None
) -> QueueFile:
    reader = Reader(source)
    root = compose(text, source)
    if root is None:
        raise SpecError(source, 1, "", "the file is empty; expected a top-level 'queues:' list")
    entries = reader.mapping(root, "")
    keys = {entry.key for entry in entries}
    if "queue" in keys and "queues" not in keys:
        from tasksctl.declarative import appengine

        return appengine.convert(reader, entries, root, default_project, default_location)
    if "queue" in keys:
        line = next(entry.line for entry in entries if entry.key == "queue")
        raise SpecError(
            source, line, "queue",
            "a file has either 'queues:' (tasksctl format) or 'queue:' (App Engine queue.yaml), "
            "not both",
        )  # fmt: skip
    return _load_tasksctl(reader, entries, root, default_project, default_location)


def _load_tasksctl(
    reader: Reader,
    entries: list[Any],
    root: Node,
    default_project: str | None,
    default_location: str | None,
) -> QueueFile:
    project, location, queue_nodes = default_project, default_location, None
    for entry in entries:
        if entry.key.startswith("x-"):
            continue
        if entry.key not in TOP_KEYS:
            raise reader.unknown_key(entry, "", TOP_KEYS)
        if entry.key == "project":
            project = resource_id(reader, entry.value, "project", "project")
        elif entry.key == "location":
            location = resource_id(reader, entry.value, "location", "location")
        else:
            queue_nodes = entry.value
    if queue_nodes is None:
        raise reader.fail(root, "", "missing top-level key 'queues' (a list of queues)")
    items = [] if _is_null(queue_nodes) else reader.sequence(queue_nodes, "queues")
    specs = [
        _load_queue(reader, node, f"queues[{index}]", project, location)
        for index, node in enumerate(items)
    ]
    check_duplicates(reader, specs, "queues")
    return QueueFile(
        reader.source, FORMAT_TASKSCTL, tuple(specs), scope_of(specs, project, location)
    )


def _load_queue(
    reader: Reader, node: Node, where: str, project: str | None, location: str | None
) -> QueueSpec:
    entries = reader.mapping(node, where)
    queue_id: str | None = None
    state = STATE_RUNNING
    values: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for entry in entries:
        key_where = join(where, entry.key)
        if entry.key == "name":
            queue_id = queue_id_value(reader, entry.value, key_where)
        elif entry.key == "project":
            project = resource_id(reader, entry.value, key_where, "project")
        elif entry.key == "location":
            location = resource_id(reader, entry.value, key_where, "location")
        elif entry.key == "state":
            raw = reader.value(entry.value, key_where, "running or paused")
            if not isinstance(raw, str) or raw.strip().lower() not in STATES:
                raise reader.fail(
                    entry.value, key_where, f"expected running or paused, got {show(raw)}"
                )
            state = raw.strip().lower()
        elif entry.key in FIELD_TREE:
            _load_tree(
                reader, entry.value, key_where, FIELD_TREE[entry.key], entry.key, values, lines
            )
            lines[entry.key] = entry.line
        else:
            raise reader.unknown_key(entry, where, (*QUEUE_KEYS, *FIELD_TREE))
    if queue_id is None:
        raise reader.fail(node, where, "missing required key 'name' (the queue ID)")
    check_queue(reader, values, lines, where, node)
    return make_spec(reader, node, where, project, location, queue_id, state, values)


def _load_tree(
    reader: Reader,
    node: Node,
    where: str,
    tree: dict[str, Any],
    prefix: str,
    values: dict[str, Any],
    lines: dict[str, int],
) -> None:
    if _is_null(node):
        return
    for entry in reader.mapping(node, where):
        sub = tree.get(entry.key)
        path, key_where = join(prefix, entry.key), join(where, entry.key)
        if sub is None:
            raise reader.unknown_key(entry, where, tree)
        if _is_null(entry.value):
            continue  # `key:` with no value counts as not given
        lines[path] = entry.line
        if isinstance(sub, dict):
            _load_tree(reader, entry.value, key_where, sub, path, values, lines)
            continue
        value = _leaf(reader, sub, entry.value, key_where)
        if value != ():  # `header_overrides: {}` is the same as none
            values[path] = value


def _leaf(reader: Reader, fdef: FieldDef, node: Node, where: str) -> Any:
    if fdef.kind == "headers":
        return _headers(reader, node, where)
    expected = {"rate": "a number", "ratio": "a number", "count": "an integer",
                "port": "an integer", "attempts": 'an integer or "unlimited"',
                "duration": "a duration like 10s", "text": "a string",
                "enum": "one of " + ", ".join(fdef.choices)}[fdef.kind]  # fmt: skip
    raw = reader.value(node, where, expected)
    try:
        return parse_value(fdef, raw, node)
    except ValueProblem as exc:
        raise reader.fail(node, where, str(exc)) from None


def _headers(reader: Reader, node: Node, where: str) -> tuple[tuple[str, str], ...]:
    pairs: dict[str, str] = {}
    for entry in reader.mapping(node, where):
        key_where = f"{where}[{entry.key}]"
        if not entry.key.strip() or any(c in entry.key for c in " :\t\r\n"):
            raise reader.fail(entry.line, key_where, "not a valid header name")
        raw = reader.value(entry.value, key_where, "a string")
        try:
            pairs[entry.key] = text_value(raw, entry.value)
        except ValueProblem as exc:
            raise reader.fail(entry.value, key_where, str(exc)) from None
    return tuple(sorted(pairs.items()))


def check_queue(
    reader: Reader, values: dict[str, Any], lines: dict[str, int], where: str, node: Node
) -> None:
    """Rules that span fields: backoff order, one token kind, token emails present."""
    min_b = values.get("retry_config.min_backoff", DEFAULTS["retry_config.min_backoff"])
    max_b = values.get("retry_config.max_backoff", DEFAULTS["retry_config.max_backoff"])
    if min_b > max_b:
        low, high = format_duration_nanos(min_b), format_duration_nanos(max_b)
        if "retry_config.min_backoff" in values:
            at = "retry_config.min_backoff"
            default = "" if "retry_config.max_backoff" in values else ", the default"
            detail = f"min_backoff ({low}) must not exceed max_backoff ({high}{default})"
        else:
            at = "retry_config.max_backoff"
            detail = f"max_backoff ({high}) must not be less than min_backoff ({low}, the default)"
        raise reader.fail(lines.get(at) or node, join(where, at), detail)
    tokens = [t for t in ("oidc_token", "oauth_token") if f"http_target.{t}" in lines]
    if len(tokens) == 2:
        line = lines["http_target.oauth_token"]
        raise reader.fail(
            line, join(where, "http_target"),
            "oidc_token and oauth_token are mutually exclusive (a queue sends one kind of token)",
        )  # fmt: skip
    for token in tokens:
        email = f"http_target.{token}.service_account_email"
        if email not in values:
            raise reader.fail(
                lines[f"http_target.{token}"], join(where, f"http_target.{token}"),
                "missing required key 'service_account_email'",
            )  # fmt: skip


def make_spec(
    reader: Reader,
    node: Node,
    where: str,
    project: str | None,
    location: str | None,
    queue_id: str,
    state: str,
    values: dict[str, Any],
) -> QueueSpec:
    if not project:
        raise reader.fail(
            node, where,
            "no project: set 'project:' in the file or a default project (--project)",
        )  # fmt: skip
    if not location:
        raise reader.fail(
            node, where,
            "no location: set 'location:' in the file or a default location (--location)",
        )  # fmt: skip
    return QueueSpec(project, location, queue_id, state, values, reader.source, line_of(node))


def check_duplicates(reader: Reader, specs: list[QueueSpec], list_key: str) -> None:
    """Refuse the same project/location/queue twice, naming both lines."""
    seen: dict[str, tuple[int, int]] = {}
    for index, spec in enumerate(specs):
        if spec.name in seen:
            first_index, first_line = seen[spec.name]
            raise reader.fail(
                spec.line,
                f"{list_key}[{index}]",
                f"duplicate queue {spec.name} (also at line {first_line}, "
                f"{list_key}[{first_index}])",
            )
        seen[spec.name] = (index, spec.line)


def scope_of(
    specs: list[QueueSpec], project: str | None, location: str | None
) -> frozenset[tuple[str, str]]:
    """The (project, location) pairs a file covers, which is where ``--prune`` may delete.

    The pairs of the queues it lists; a file listing no queues covers its own (or the default)
    project and location, so ``queues: []`` with ``--prune`` empties that location.
    """
    if specs:
        return frozenset((spec.project, spec.location) for spec in specs)
    if project and location:
        return frozenset({(project, location)})
    return frozenset()


def queue_id_value(reader: Reader, node: Node, where: str) -> str:
    raw = reader.value(node, where, "a queue ID")
    try:
        text = text_value(raw, node)
    except ValueProblem as exc:
        raise reader.fail(node, where, str(exc)) from None
    if not QUEUE_ID_RE.match(text):
        raise reader.fail(
            node, where,
            f"{show(text)} is not a valid queue ID (letters, digits and hyphens, 1-100 characters)",
        )  # fmt: skip
    return text


def resource_id(reader: Reader, node: Node, where: str, kind: str) -> str:
    raw = reader.value(node, where, f"a {kind} ID")
    try:
        text = text_value(raw, node)
    except ValueProblem as exc:
        raise reader.fail(node, where, str(exc)) from None
    pattern = PROJECT_ID_RE if kind == "project" else LOCATION_ID_RE
    if not pattern.match(text):
        raise reader.fail(node, where, f"{show(text)} is not a valid {kind} ID")
    return text


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null"
