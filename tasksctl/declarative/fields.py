"""The settable fields of a queue: one table, and how each value is parsed, compared and written.

Values are normalized so that a file and a live queue compare exactly: rates and ratios are
floats, durations are integer nanoseconds, enums take one canonical spelling, header overrides
are a tuple of (name, value) pairs sorted by name. ``export_value`` gives the YAML form
(durations as ``100ms``/``90s``/``1h``, ``max_attempts: unlimited``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from yaml.nodes import Node, ScalarNode

from tasksctl import limits as api
from tasksctl.declarative.yamlsrc import show
from tasksctl.errors import UsageError
from tasksctl.limits import HTTP_METHODS, INT32_MAX, MAX_DURATION_SECONDS
from tasksctl.resources import parse_duration

NANOS = 1_000_000_000

STATE_RUNNING = "running"
STATE_PAUSED = "paused"
STATES = (STATE_RUNNING, STATE_PAUSED)

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
    FieldDef("rate_limits.max_dispatches_per_second", "rate", api.DEFAULT_RATE, 0, api.MAX_RATE,
             True, description="Maximum rate of dispatches (tasks/second), > 0 and "
             f"<= {api.MAX_RATE:g}."),
    FieldDef("rate_limits.max_concurrent_dispatches", "count", api.DEFAULT_CONCURRENT, 1,
             api.MAX_CONCURRENT, description="Maximum number of tasks in flight, "
             f"1-{api.MAX_CONCURRENT}."),
    FieldDef("retry_config.max_attempts", "attempts", api.DEFAULT_MAX_ATTEMPTS, -1, INT32_MAX,
             description='Attempts per task including the first; -1 or "unlimited".'),
    FieldDef("retry_config.max_retry_duration", "duration", 0, 0,
             description="Time limit for retrying, from the first attempt; 0 = unlimited."),
    FieldDef("retry_config.min_backoff", "duration", _seconds(api.DEFAULT_MIN_BACKOFF_SECONDS),
             0, None, True,
             description="Shortest wait before a retry (> 0)."),
    FieldDef("retry_config.max_backoff", "duration", _seconds(api.DEFAULT_MAX_BACKOFF_SECONDS),
             0, None, True,
             description="Longest wait before a retry (> 0); >= min_backoff."),
    FieldDef("retry_config.max_doublings", "count", api.DEFAULT_MAX_DOUBLINGS, 1, INT32_MAX,
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


class ValueProblem(Exception):
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
        return text_value(raw, node)
    if kind == "enum":
        text = text_value(raw, node).strip()
        for choice in fdef.choices:
            if text.lower() == choice.lower():
                return choice
        raise ValueProblem(f"expected one of {', '.join(fdef.choices)}, got {show(raw)}")
    raise AssertionError(f"unhandled kind {kind}")  # pragma: no cover (headers: see _headers)


def parse_duration_nanos(raw: Any) -> int:
    """``10s``/``1.5m``/``2h``/``1d``/``100ms`` or a bare number of seconds → nanoseconds."""
    if isinstance(raw, bool) or raw is None:
        raise ValueProblem(f"expected a duration like 100ms, 10s, 1.5m, 2h or 1d, got {show(raw)}")
    if isinstance(raw, int | float):
        if not math.isfinite(raw) or raw < 0:
            raise ValueProblem(f"{show(raw)} is out of range (a duration must be >= 0)")
        seconds = float(raw)
    elif isinstance(raw, str):
        try:
            seconds = parse_duration(raw)
        except UsageError:
            raise ValueProblem(
                f"expected a duration like 100ms, 10s, 1.5m, 2h or 1d, got {show(raw)}"
            ) from None
    else:
        raise ValueProblem(f"expected a duration like 100ms, 10s, 1.5m, 2h or 1d, got {show(raw)}")
    if seconds > MAX_DURATION_SECONDS:
        raise ValueProblem(f"{show(raw)} is out of range (at most {MAX_DURATION_SECONDS}s)")
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
        raise ValueProblem(f"expected {expected}, got {show(raw)}")
    if not math.isfinite(raw):
        raise ValueProblem(f"expected a finite number, got {show(raw)}")
    return raw


def _integer(raw: Any, expected: str) -> int:
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValueProblem(f"expected {expected}, got {show(raw)}")
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
    raise ValueProblem(
        f"{shown} is out of range (must be {limits}; Cloud Tasks reads 0 as the default, {default})"
    )


def _check_range(fdef: FieldDef, number: float) -> None:
    low, high = fdef.minimum, fdef.maximum
    too_low = low is not None and (number <= low if fdef.exclusive_minimum else number < low)
    too_high = high is not None and number > high
    if too_low or too_high:
        raise ValueProblem(f"{show(number)} is out of range (must be {_rangetext_value(fdef)})")


def _rangetext_value(fdef: FieldDef) -> str:
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


def text_value(raw: Any, node: Node | None) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, int | float):
        # Keep what was written: `version: 1.10`, `instance: 0123` and `name: off` are names,
        # not the numbers 1.1 and 83 or the boolean false that YAML 1.1 reads them as.
        if isinstance(node, ScalarNode) and not node.style:  # plain (libyaml says "")
            return str(node.value)
        if not isinstance(raw, bool):
            return str(raw)
    raise ValueProblem(f"expected a string, got {show(raw)}")
