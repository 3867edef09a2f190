"""App Engine ``queue.yaml`` → tasksctl queue specs.

A file whose top level has ``queue:`` (instead of ``queues:``) is read as App Engine's
``queue.yaml``. Only push queues exist in Cloud Tasks v2. The mapping follows the one
``gcloud app deploy queue.yaml`` applies when it writes queues through the Cloud Tasks API:

=====================================  =============================================================
queue.yaml                             Cloud Tasks v2 (tasksctl format)
=====================================  =============================================================
``name``                               queue ID (letters, digits, hyphens; at most 100 characters)
``rate: N/s | N/m | N/h | N/d``        ``rate_limits.max_dispatches_per_second`` = N per second
                                       (rounded to 9 decimals); at most 500/s
``rate: 0``                            ``state: paused`` (App Engine's "stopped" queue)
``bucket_size``                        ignored with a warning: ``max_burst_size`` is output-only in
                                       v2, the service derives it from the rate
``max_concurrent_requests``            ``rate_limits.max_concurrent_dispatches``, clamped to 1-5000
``target: SERVICE | VERSION.SERVICE``  ``app_engine_routing_override`` {service, version}
``retry_parameters.task_retry_limit``  ``retry_config.max_attempts`` = limit **+ 1**: App Engine
                                       counts retries, Cloud Tasks counts attempts including the
                                       first (gcloud stores x + 1 for a limit of x). Without a
                                       limit App Engine retries forever, so ``max_attempts`` is
                                       ``unlimited`` (-1), as gcloud writes it.
``retry_parameters.task_age_limit``    ``retry_config.max_retry_duration`` (``2d``, ``1.5h``,
                                       ``30m``, ``10s``; whole seconds, must be > 0)
``min_backoff_seconds``                ``retry_config.min_backoff``
``max_backoff_seconds``                ``retry_config.max_backoff``; when only one of the two is
                                       given and the other's default would be on the wrong side,
                                       the other is set equal to it (App Engine's rule)
``max_doublings``                      ``retry_config.max_doublings``
zero ``max_concurrent_requests``,      the Cloud Tasks default, with a warning (the API reads 0 as
backoff seconds or ``max_doublings``   "not set"; gcloud skips zeros the same way)
``mode: push``                         nothing; ``mode: pull`` is refused with a one-line error
``acl``, ``total_storage_limit``,      ignored with a warning (pull-queue ACLs, storage quotas and
``resume_paused_queues``,              the deploy-time resume switch have no v2 equivalent)
``application``
=====================================  =============================================================

Differences from ``gcloud app deploy``: queues missing from the file are left alone (gcloud
pauses them) unless ``--prune`` deletes them; ``project`` and ``location`` come from the CLI
settings (App Engine uses the app's region). Warnings are returned on ``QueueFile.warnings`` as
``file:line: field: ignored: why`` lines.
"""

from __future__ import annotations

import re
from typing import Any

from yaml.nodes import Node, ScalarNode

from tasksctl.declarative.fields import (
    DEFAULTS,
    NANOS,
    STATE_PAUSED,
    STATE_RUNNING,
    format_duration_nanos,
)
from tasksctl.declarative.spec import (
    FORMAT_APPENGINE,
    QueueFile,
    QueueSpec,
    check_duplicates,
    make_spec,
    queue_id_value,
    scope_of,
)
from tasksctl.declarative.yamlsrc import Entry, Reader, join, show

TOP_KEYS = ("queue", "total_storage_limit", "resume_paused_queues", "application")
QUEUE_KEYS = (
    "name", "rate", "bucket_size", "max_concurrent_requests", "mode", "target",
    "retry_parameters", "acl",
)  # fmt: skip
RETRY_KEYS = (
    "task_retry_limit", "task_age_limit", "min_backoff_seconds", "max_backoff_seconds",
    "max_doublings",
)  # fmt: skip

MAX_RATE = 500.0
MAX_BUCKET_SIZE = 500
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE_RE = re.compile(r"^\s*(?P<number>\d+(\.\d*)?|\.\d+)\s*/\s*(?P<unit>[smhd])\s*$")
_AGE_RE = re.compile(r"^\s*(?P<number>\d+(\.\d*)?|\.\d+)\s*(?P<unit>[smhd])\s*$")
_TARGET_RE = re.compile(
    r"^(?:(?P<version>(?!-)[a-z\d-]{1,100})\.)?(?P<service>(?!-)[a-z\d-]{1,63})$"
)

_IGNORED_TOP = {
    "total_storage_limit": "Cloud Tasks has no per-app storage limit",
    "resume_paused_queues": "the file's rates decide each queue's state",
    "application": "the project comes from the CLI settings",
}


def convert(
    reader: Reader,
    entries: list[Entry],
    root: Node,
    default_project: str | None,
    default_location: str | None,
) -> QueueFile:
    """Convert the already-composed top level of an App Engine ``queue.yaml``."""
    warnings: list[str] = []
    queue_node: Node | None = None
    for entry in entries:
        if entry.key == "queue":
            queue_node = entry.value
        elif entry.key in _IGNORED_TOP:
            warnings.append(_warning(reader, entry.line, entry.key, _IGNORED_TOP[entry.key]))
        else:
            raise reader.unknown_key(entry, "", TOP_KEYS)
    assert queue_node is not None  # the caller detected the format by this key
    items = [] if _is_null(queue_node) else reader.sequence(queue_node, "queue")
    specs = [
        _convert_queue(reader, node, f"queue[{index}]", default_project, default_location, warnings)
        for index, node in enumerate(items)
    ]
    check_duplicates(reader, specs, "queue")
    return QueueFile(
        reader.source,
        FORMAT_APPENGINE,
        tuple(specs),
        scope_of(specs, default_project, default_location),
        tuple(warnings),
    )


def _convert_queue(
    reader: Reader,
    node: Node,
    where: str,
    project: str | None,
    location: str | None,
    warnings: list[str],
) -> QueueSpec:
    entries = {entry.key: entry for entry in reader.mapping(node, where)}
    for entry in entries.values():
        if entry.key not in QUEUE_KEYS:
            raise reader.unknown_key(entry, where, QUEUE_KEYS)
    if "name" not in entries:
        raise reader.fail(node, where, "missing required key 'name'")
    queue_id = queue_id_value(reader, entries["name"].value, join(where, "name"))
    mode_entry = entries.get("mode")
    if mode_entry is not None:
        mode = reader.value(mode_entry.value, join(where, "mode"), "push or pull")
        if mode == "pull":
            raise reader.fail(
                mode_entry.line, join(where, "mode"),
                f"pull queues are not supported by Cloud Tasks v2 (queue '{queue_id}'); only push "
                "queues can be converted: remove it, or move pull consumers to Pub/Sub",
            )  # fmt: skip
        if mode != "push":
            raise reader.fail(
                mode_entry.value, join(where, "mode"), f"expected push or pull, got {show(mode)}"
            )

    values: dict[str, Any] = {}
    state = STATE_RUNNING
    if "rate" not in entries:
        raise reader.fail(
            node, where, "missing required key 'rate' (push queues need a rate, e.g. 5/s)"
        )
    rate = _rate(reader, entries["rate"], join(where, "rate"))
    if rate == 0:
        state = STATE_PAUSED  # App Engine's `rate: 0` stops dispatching; v2 pauses the queue
    else:
        values["rate_limits.max_dispatches_per_second"] = rate

    if "bucket_size" in entries:
        entry = entries["bucket_size"]
        size = _int(reader, entry, join(where, "bucket_size"), 0, MAX_BUCKET_SIZE)
        warnings.append(_warning(
            reader, entry.line, join(where, "bucket_size"),
            f"max_burst_size is output-only in Cloud Tasks v2 (the service derives it from the "
            f"rate), so bucket_size {size} is not applied",
        ))  # fmt: skip

    if "max_concurrent_requests" in entries:
        entry = entries["max_concurrent_requests"]
        key_where = join(where, "max_concurrent_requests")
        requested = _int(reader, entry, key_where, None, None)
        if requested == 0:
            warnings.append(_zero_warning(reader, entry.line, key_where, "1000"))
        else:
            clamped = min(5000, max(1, requested))
            if clamped != requested:
                warnings.append(_warning(
                    reader, entry.line, key_where,
                    f"{requested} is outside Cloud Tasks' 1-5000, using {clamped}",
                    prefix="clamped",
                ))  # fmt: skip
            values["rate_limits.max_concurrent_dispatches"] = clamped

    if "target" in entries:
        values.update(_target(reader, entries["target"], join(where, "target")))

    if "acl" in entries:
        entry = entries["acl"]
        warnings.append(
            _warning(reader, entry.line, join(where, "acl"), "ACLs apply to pull queues only")
        )

    retry = entries.get("retry_parameters")
    if retry is not None and not _is_null(retry.value):
        values.update(_retry(reader, retry.value, join(where, "retry_parameters"), warnings))
    values.setdefault("retry_config.max_attempts", -1)  # App Engine retries forever by default
    return make_spec(reader, node, where, project, location, queue_id, state, values)


def _rate(reader: Reader, entry: Entry, where: str) -> float:
    raw = reader.value(entry.value, where, "a rate like 5/s, 10/m, 100/h or 1/d")
    if (raw == 0 and not isinstance(raw, bool)) or raw == "0":
        return 0.0
    match = _RATE_RE.match(raw) if isinstance(raw, str) else None
    if match is None:
        raise reader.fail(
            entry.value, where, f"expected a rate like 5/s, 10/m, 100/h or 1/d, got {show(raw)}"
        )
    per_second = round(float(match["number"]) / _UNIT_SECONDS[match["unit"]], 9)
    if per_second > MAX_RATE:
        raise reader.fail(
            entry.value, where,
            f"{raw} is out of range (Cloud Tasks allows at most 500/s; this is {per_second:g}/s)",
        )  # fmt: skip
    if per_second == 0:
        raise reader.fail(entry.value, where, f"{raw} rounds to 0 per second; use rate: 0 to pause")
    return per_second


def _target(reader: Reader, entry: Entry, where: str) -> dict[str, str]:
    raw = reader.value(entry.value, where, "SERVICE or VERSION.SERVICE")
    text = str(entry.value.value) if isinstance(entry.value, ScalarNode) else ""
    match = _TARGET_RE.match(text) if isinstance(raw, str | int | float) else None
    if match is None:
        raise reader.fail(
            entry.value, where, f"expected SERVICE or VERSION.SERVICE, got {show(raw)}"
        )
    result = {"app_engine_routing_override.service": match["service"]}
    if match["version"]:
        result["app_engine_routing_override.version"] = match["version"]
    return result


def _retry(reader: Reader, node: Node, where: str, warnings: list[str]) -> dict[str, Any]:
    entries = {entry.key: entry for entry in reader.mapping(node, where)}
    for entry in entries.values():
        if entry.key not in RETRY_KEYS:
            raise reader.unknown_key(entry, where, RETRY_KEYS)
    values: dict[str, Any] = {}
    if "task_retry_limit" in entries:
        limit = _int(
            reader, entries["task_retry_limit"], join(where, "task_retry_limit"), 0, 2**31 - 2
        )
        values["retry_config.max_attempts"] = limit + 1
    if "task_age_limit" in entries:
        entry = entries["task_age_limit"]
        key_where = join(where, "task_age_limit")
        raw = reader.value(entry.value, key_where, "an age like 2d, 1h, 30m or 10s")
        match = _AGE_RE.match(raw) if isinstance(raw, str) else None
        if match is None:
            raise reader.fail(
                entry.value, key_where, f"expected an age like 2d, 1h, 30m or 10s, got {show(raw)}"
            )
        seconds = int(float(match["number"]) * _UNIT_SECONDS[match["unit"]])
        if seconds <= 0:
            raise reader.fail(
                entry.value, key_where, f"{raw} is out of range (must be at least 1s)"
            )
        values["retry_config.max_retry_duration"] = seconds * NANOS
    backoffs: dict[str, int] = {}
    for key, default in (("min_backoff_seconds", "100ms"), ("max_backoff_seconds", "1h")):
        if key in entries:
            nanos = round(_number(reader, entries[key], join(where, key)) * NANOS)
            if nanos == 0:
                warnings.append(_zero_warning(reader, entries[key].line, join(where, key), default))
            else:
                backoffs[key] = nanos
    low = backoffs.get("min_backoff_seconds")
    high = backoffs.get("max_backoff_seconds")
    if low is not None and high is not None and low > high:
        raise reader.fail(
            entries["min_backoff_seconds"].line, join(where, "min_backoff_seconds"),
            f"min_backoff_seconds ({format_duration_nanos(low)}) must not exceed "
            f"max_backoff_seconds ({format_duration_nanos(high)})",
        )  # fmt: skip
    if low is not None:
        values["retry_config.min_backoff"] = low
        if high is None and low > DEFAULTS["retry_config.max_backoff"]:
            high = low
    if high is not None:
        values["retry_config.max_backoff"] = high
        if low is None and high < DEFAULTS["retry_config.min_backoff"]:
            values["retry_config.min_backoff"] = high
    if "max_doublings" in entries:
        key_where = join(where, "max_doublings")
        doublings = _int(reader, entries["max_doublings"], key_where, 0, 2**31 - 1)
        if doublings == 0:
            warnings.append(_zero_warning(reader, entries["max_doublings"].line, key_where, "16"))
        else:
            values["retry_config.max_doublings"] = doublings
    return values


def _int(reader: Reader, entry: Entry, where: str, low: int | None, high: int | None) -> int:
    raw = reader.value(entry.value, where, "an integer")
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise reader.fail(entry.value, where, f"expected an integer, got {show(raw)}")
    if (low is not None and raw < low) or (high is not None and raw > high):
        bounds = f"between {low} and {high}" if high is not None else f">= {low}"
        raise reader.fail(entry.value, where, f"{raw} is out of range (must be {bounds})")
    return raw


def _number(reader: Reader, entry: Entry, where: str) -> float:
    raw = reader.value(entry.value, where, "a number of seconds")
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw != raw:
        raise reader.fail(entry.value, where, f"expected a number of seconds, got {show(raw)}")
    if raw < 0 or raw > 315_576_000_000:
        raise reader.fail(entry.value, where, f"{show(raw)} is out of range (must be >= 0)")
    return float(raw)


def _zero_warning(reader: Reader, line: int, where: str, default: str) -> str:
    # gcloud app deploy skips zero values too: the API reads 0 as "not set".
    return _warning(
        reader, line, where, f"0 means the Cloud Tasks default ({default})", "defaulted"
    )


def _warning(reader: Reader, line: int, where: str, why: str, prefix: str = "ignored") -> str:
    return f"{reader.source}:{line}: {where}: {prefix}: {why}"


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null"
