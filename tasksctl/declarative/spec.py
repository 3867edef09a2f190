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

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yaml.nodes import Node, ScalarNode

from tasksctl.declarative.yamlsrc import Reader, SpecError, compose, join, line_of, show
from tasksctl.errors import UsageError
from tasksctl.resources import (
    LOCATION_ID_RE,
    PROJECT_ID_RE,
    QUEUE_ID_RE,
    parse_duration,
)

NANOS = 1_000_000_000
INT32_MAX = 2**31 - 1
MAX_DURATION_SECONDS = 315_576_000_000  # the protobuf Duration limit (10,000 years)

FORMAT_TASKSCTL = "tasksctl"
FORMAT_APPENGINE = "appengine"

STATE_RUNNING = "running"
STATE_PAUSED = "paused"
STATES = (STATE_RUNNING, STATE_PAUSED)

HTTP_METHODS = ("POST", "GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS")
URI_SCHEMES = ("http", "https")
URI_MODES = ("always", "if_not_exists")


@dataclass(frozen=True)
class FieldDef:
    """One settable leaf of a queue. ``default`` is the service default (None: absent)."""

    path: str
    kind: str  # rate | count | attempts | duration | ratio | text | enum | port | headers
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple[str, ...] = ()
    description: str = ""


def _seconds(value: float) -> int:
    return round(value * NANOS)


FIELDS: tuple[FieldDef, ...] = (
    FieldDef("rate_limits.max_dispatches_per_second", "rate", 500.0, 0, 500, True,
             description="Maximum rate of dispatches (tasks/second), > 0 and <= 500."),
    FieldDef("rate_limits.max_concurrent_dispatches", "count", 1000, 1, 5000,
             description="Maximum number of tasks in flight, 1-5000."),
    FieldDef("retry_config.max_attempts", "attempts", 100, -1, INT32_MAX,
             description='Attempts per task including the first; -1 or "unlimited".'),
    FieldDef("retry_config.max_retry_duration", "duration", 0, 0,
             description="Time limit for retrying, from the first attempt; 0 = unlimited."),
    FieldDef("retry_config.min_backoff", "duration", _seconds(0.1), 0, None, True,
             description="Shortest wait before a retry (> 0)."),
    FieldDef("retry_config.max_backoff", "duration", _seconds(3600), 0, None, True,
             description="Longest wait before a retry (> 0); >= min_backoff."),
    FieldDef("retry_config.max_doublings", "count", 16, 1, INT32_MAX,
             description="How many times the wait doubles before growing linearly (>= 1)."),
    FieldDef("stackdriver_logging_config.sampling_ratio", "ratio", 0.0, 0, 1,
             description="Fraction of operations to log, 0.0-1.0."),
    FieldDef("app_engine_routing_override.service", "text", description="App Engine service."),
    FieldDef("app_engine_routing_override.version", "text", description="App Engine version."),
    FieldDef("app_engine_routing_override.instance", "text", description="App Engine instance."),
    FieldDef("http_target.uri_override.scheme", "enum", choices=URI_SCHEMES,
             description="Scheme of the task URL to force."),
    FieldDef("http_target.uri_override.host", "text", description="Host to force."),
    FieldDef("http_target.uri_override.port", "port", minimum=1, maximum=65535,
             description="Port to force."),
    FieldDef("http_target.uri_override.path", "text", description="Path to force."),
    FieldDef("http_target.uri_override.query", "text", description="Query string to force."),
    FieldDef("http_target.uri_override.mode", "enum", choices=URI_MODES,
             description="always: override every task; if_not_exists: only unset parts."),
    FieldDef("http_target.http_method", "enum", choices=HTTP_METHODS,
             description="HTTP method for every task."),
    FieldDef("http_target.header_overrides", "headers",
             description="Headers set on every task (name: value)."),
    FieldDef("http_target.oidc_token.service_account_email", "text",
             description="Service account whose OIDC token is sent."),
    FieldDef("http_target.oidc_token.audience", "text",
             description="OIDC audience (default: the task URL)."),
    FieldDef("http_target.oauth_token.service_account_email", "text",
             description="Service account whose OAuth token is sent."),
    FieldDef("http_target.oauth_token.scope", "text", description="OAuth scope."),
)  # fmt: skip

FIELDS_BY_PATH: dict[str, FieldDef] = {f.path: f for f in FIELDS}
DEFAULTS: dict[str, Any] = {f.path: f.default for f in FIELDS if f.default is not None}

TOP_KEYS = ("project", "location", "queues")
QUEUE_KEYS = ("name", "project", "location", "state")


def _tree() -> dict[str, Any]:
    """Nested key tree of the settable queue fields: {key: subtree | FieldDef}."""
    tree: dict[str, Any] = {}
    for f in FIELDS:
        node = tree
        *parents, leaf = f.path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = f
    return tree


FIELD_TREE: dict[str, Any] = _tree()


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


class _Bad(Exception):
    """A value problem; the caller adds file, line and field."""


# ---------------------------------------------------------------------------------------------
# Values


def parse_value(fdef: FieldDef, raw: Any, node: Node | None = None) -> Any:
    """Normalize one field value: float rates, int nanoseconds for durations, canonical enums."""
    kind = fdef.kind
    if kind in ("rate", "ratio"):
        number = _number(raw, "a number")
        _check_range(fdef, number)
        return float(number)
    if kind in ("count", "port"):
        number = _integer(raw, "an integer")
        _check_zero(fdef, number, str(number))
        _check_range(fdef, number)
        return number
    if kind == "attempts":
        if isinstance(raw, str) and raw.strip().lower() == "unlimited":
            return -1
        number = _integer(raw, 'an integer or "unlimited"')
        _check_range(fdef, number)
        _check_zero(fdef, number, "0")
        return number
    if kind == "duration":
        nanos = parse_duration_nanos(raw)
        _check_zero(fdef, nanos, "0s")
        return nanos
    if kind == "text":
        return _text(raw, node)
    if kind == "enum":
        text = _text(raw, node).strip()
        for choice in fdef.choices:
            if text.lower() == choice.lower():
                return choice
        raise _Bad(f"expected one of {', '.join(fdef.choices)}, got {show(raw)}")
    raise AssertionError(f"unhandled kind {kind}")  # pragma: no cover (headers: see _headers)


def parse_duration_nanos(raw: Any) -> int:
    """``10s``/``1.5m``/``2h``/``1d``/``100ms`` or a bare number of seconds → nanoseconds."""
    if isinstance(raw, bool) or raw is None:
        raise _Bad(f"expected a duration like 100ms, 10s, 1.5m, 2h or 1d, got {show(raw)}")
    if isinstance(raw, int | float):
        if not math.isfinite(raw) or raw < 0:
            raise _Bad(f"{show(raw)} is out of range (a duration must be >= 0)")
        seconds = float(raw)
    elif isinstance(raw, str):
        try:
            seconds = parse_duration(raw)
        except UsageError:
            raise _Bad(
                f"expected a duration like 100ms, 10s, 1.5m, 2h or 1d, got {show(raw)}"
            ) from None
    else:
        raise _Bad(f"expected a duration like 100ms, 10s, 1.5m, 2h or 1d, got {show(raw)}")
    if seconds > MAX_DURATION_SECONDS:
        raise _Bad(f"{show(raw)} is out of range (at most {MAX_DURATION_SECONDS}s)")
    return round(seconds * NANOS)


def format_duration_nanos(nanos: int) -> str:
    """Canonical text: the largest unit that divides exactly (``100ms``, ``90s``, ``1h``)."""
    if nanos == 0:
        return "0s"
    for unit, size in (("d", 86400 * NANOS), ("h", 3600 * NANOS), ("m", 60 * NANOS),
                       ("s", NANOS), ("ms", NANOS // 1000)):  # fmt: skip
        if nanos % size == 0:
            return f"{nanos // size}{unit}"
    whole, frac = divmod(nanos, NANOS)
    return f"{whole}.{frac:09d}".rstrip("0") + "s"


def export_value(fdef: FieldDef, value: Any) -> Any:
    """The YAML form of a normalized value (what ``queues export`` writes)."""
    if fdef.kind == "duration":
        return format_duration_nanos(int(value))
    if fdef.kind in ("rate", "ratio"):
        number = float(value)
        return int(number) if number.is_integer() else number
    if fdef.kind == "attempts" and value == -1:
        return "unlimited"
    if fdef.kind == "headers":
        return {key: val for key, val in value}
    return value


def display_value(fdef: FieldDef | None, value: Any) -> str:
    """Short text for plans and diffs; ``(unset)`` for no value."""
    if value is None:
        return "(unset)"
    if fdef is None:
        return str(value)
    shown = export_value(fdef, value)
    if isinstance(shown, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in shown.items()) + "}"
    return str(shown)


def values_equal(fdef: FieldDef, left: Any, right: Any) -> bool:
    """Equality with float tolerance for rates and ratios (the wire type is a double)."""
    if left is None or right is None:
        return left is None and right is None
    if fdef.kind in ("rate", "ratio"):
        return math.isclose(float(left), float(right), rel_tol=1e-9, abs_tol=1e-12)
    return bool(left == right)


def _number(raw: Any, expected: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise _Bad(f"expected {expected}, got {show(raw)}")
    if not math.isfinite(raw):
        raise _Bad(f"expected a finite number, got {show(raw)}")
    return raw


def _integer(raw: Any, expected: str) -> int:
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise _Bad(f"expected {expected}, got {show(raw)}")
    return raw


def _check_zero(fdef: FieldDef, number: float, shown: str) -> None:
    """Refuse 0 where the service reads 0 as "not set" and would store its default instead.

    proto3 cannot send a zero integer distinctly from "unset", and Cloud Tasks (and the local
    engine) fill defaults for zero backoffs and doublings: such a file could never converge.
    """
    if number != 0 or fdef.kind not in ("attempts", "duration", "count") or not fdef.default:
        return
    if fdef.kind == "attempts":
        limits = ">= 1, or -1/unlimited"
    elif fdef.kind == "duration":
        limits = "> 0"
    else:
        limits = f">= {fdef.minimum:g}" if fdef.minimum else "> 0"
    default = export_value(fdef, fdef.default)
    raise _Bad(
        f"{shown} is out of range (must be {limits}; Cloud Tasks reads 0 as the default, {default})"
    )


def _check_range(fdef: FieldDef, number: float) -> None:
    low, high = fdef.minimum, fdef.maximum
    too_low = low is not None and (number <= low if fdef.exclusive_minimum else number < low)
    too_high = high is not None and number > high
    if too_low or too_high:
        raise _Bad(f"{show(number)} is out of range (must be {_range_text(fdef)})")


def _range_text(fdef: FieldDef) -> str:
    low, high = fdef.minimum, fdef.maximum

    def fmt(number: float | None) -> str:
        value = float(number or 0)
        return str(int(value)) if value.is_integer() else str(value)

    if fdef.kind == "attempts":
        return ">= -1, or unlimited"
    if low is not None and high is not None and high < INT32_MAX:
        op = ">" if fdef.exclusive_minimum else ">="
        if op == ">=":
            return f"between {fmt(low)} and {fmt(high)}"
        return f"> {fmt(low)} and <= {fmt(high)}"
    if low is not None:
        return f"{'>' if fdef.exclusive_minimum else '>='} {fmt(low)}"
    return f"<= {fmt(high)}"  # pragma: no cover


def _text(raw: Any, node: Node | None) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, int | float):
        # Keep what was written: `version: 1.10`, `instance: 0123` and `name: off` are names,
        # not the numbers 1.1 and 83 or the boolean false that YAML 1.1 reads them as.
        if isinstance(node, ScalarNode) and not node.style:  # plain (libyaml says "")
            return str(node.value)
        if not isinstance(raw, bool):
            return str(raw)
    raise _Bad(f"expected a string, got {show(raw)}")


# ---------------------------------------------------------------------------------------------
# Loading


def load_file(
    path: str | Path, default_project: str | None = None, default_location: str | None = None
) -> QueueFile:
    """Read and validate a queues file (tasksctl format or App Engine ``queue.yaml``).

    Raises SpecError (a UsageError, exit 2) with a one-line ``file:line: field: problem``.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"cannot read {source}: not UTF-8 text") from None
    return load_text(text, source, default_project, default_location)


def load_text(
    text: str,
    source: str = "queues.yaml",
    default_project: str | None = None,
    default_location: str | None = None,
) -> QueueFile:
    """Validate queue-file text; ``source`` names the file in error messages."""
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
    except _Bad as exc:
        raise reader.fail(node, where, str(exc)) from None


def _headers(reader: Reader, node: Node, where: str) -> tuple[tuple[str, str], ...]:
    pairs: dict[str, str] = {}
    for entry in reader.mapping(node, where):
        key_where = f"{where}[{entry.key}]"
        if not entry.key.strip() or any(c in entry.key for c in " :\t\r\n"):
            raise reader.fail(entry.line, key_where, "not a valid header name")
        raw = reader.value(entry.value, key_where, "a string")
        try:
            pairs[entry.key] = _text(raw, entry.value)
        except _Bad as exc:
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
        text = _text(raw, node)
    except _Bad as exc:
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
        text = _text(raw, node)
    except _Bad as exc:
        raise reader.fail(node, where, str(exc)) from None
    pattern = PROJECT_ID_RE if kind == "project" else LOCATION_ID_RE
    if not pattern.match(text):
        raise reader.fail(node, where, f"{show(text)} is not a valid {kind} ID")
    return text


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null"
