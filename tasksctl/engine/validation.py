"""Request validation and the defaults Cloud Tasks fills in, on raw protobuf messages: queues,
protobuf time helpers and what both kinds of request share (tasks: ``task_validation.py``).

Everything here is pure (no I/O): the servicer calls it before a request reaches the store.
Errors are ``InvalidArgument`` whose message starts with the offending field's path.

``max_burst_size`` (output only; Google documents only that the service picks it from the rate)
comes from :func:`tasksctl.engine.flow.derive_max_burst_size`, the same rule the dispatcher's
token bucket uses, so GetQueue always reports the bucket the queue really has.
"""

from __future__ import annotations

import math
import re
from typing import Any

from google.cloud import tasks_v2
from google.protobuf import field_mask_pb2

from tasksctl import limits as api
from tasksctl.engine.flow import derive_max_burst_size
from tasksctl.errors import InvalidArgument
from tasksctl.limits import (
    DEFAULT_CONCURRENT,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_DOUBLINGS,
    DEFAULT_RATE,
    MAX_CONCURRENT,
    MAX_HEADERS_BYTES,
    MAX_RATE,
)
from tasksctl.limits import QUEUES_MAX_PAGE as QUEUES_MAX_PAGE  # re-exported for the servicer
from tasksctl.limits import TASKS_MAX_PAGE as TASKS_MAX_PAGE
from tasksctl.resources import QueueName, parse_queue_name

QueuePb: Any = tasks_v2.Queue.pb()
TaskPb: Any = tasks_v2.Task.pb()
RetryConfigPb: Any = tasks_v2.RetryConfig.pb()

STATE_RUNNING = 1
STATE_PAUSED = 2
STATE_DISABLED = 3
STATE_NAMES = {"RUNNING": STATE_RUNNING, "PAUSED": STATE_PAUSED, "DISABLED": STATE_DISABLED}

METHOD_POST, METHOD_GET, METHOD_HEAD, METHOD_PUT, METHOD_DELETE, METHOD_PATCH = 1, 2, 3, 4, 5, 6

# The API's limits and defaults live in tasksctl.limits (shared with the CLI and declarative).
DEFAULT_MIN_BACKOFF_US = round(api.DEFAULT_MIN_BACKOFF_SECONDS * 1_000_000)
DEFAULT_MAX_BACKOFF_US = api.DEFAULT_MAX_BACKOFF_SECONDS * 1_000_000

# google.protobuf.Duration's documented range (about 10,000 years): anything longer is not a
# Duration at all, so the service cannot accept it; the retry schedule clamps what it computes
# from these (engine/dispatch_records.py) so no value in range can overflow.
MAX_DURATION_S = api.MAX_DURATION_SECONDS
CONTROL_RE = re.compile(r"[\x00-\x20\x7f]")  # in names, URLs and header keys
_VALUE_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # a tab is allowed in a value
_EMAIL_RE = re.compile(api.EMAIL_PATTERN)
MAX_PORT = api.MAX_PORT

# Queue fields the caller may not set (paths as in an update mask).
QUEUE_OUTPUT_ONLY = ("state", "purge_time", "rate_limits.max_burst_size")


def invalid(field: str, detail: str) -> InvalidArgument:
    return InvalidArgument(f"{field}: {detail}")


# ---------------------------------------------------------------------------------------------
# Protobuf time helpers


def duration_us(duration: object) -> int:
    return int(duration.seconds) * 1_000_000 + int(duration.nanos) // 1000  # type: ignore[attr-defined]


def set_duration_us(duration: object, value_us: int) -> None:
    duration.seconds, rest = divmod(value_us, 1_000_000)  # type: ignore[attr-defined]
    duration.nanos = rest * 1000  # type: ignore[attr-defined]


def timestamp_us(ts: object) -> int:
    return int(ts.seconds) * 1_000_000 + int(ts.nanos) // 1000  # type: ignore[attr-defined]


def set_timestamp_us(ts: object, value_us: int) -> None:
    ts.seconds, rest = divmod(value_us, 1_000_000)  # type: ignore[attr-defined]
    ts.nanos = rest * 1000  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# Queues


def burst_for_rate(rate: float) -> int:
    """The output-only ``max_burst_size`` for a dispatch rate (see the module docstring)."""
    return derive_max_burst_size(rate)


def check_queue_name(name: str, parent: str | None = None, field: str = "queue.name") -> QueueName:
    """Parse a queue name; with ``parent``, require that it lies in that location."""
    if not name:
        raise invalid(field, "a queue name is required")
    queue_name = parse_queue_name(name, field)
    if parent is not None and str(queue_name.parent) != parent:
        raise invalid(field, f"the queue {str(queue_name)!r} is not in the parent {parent!r}")
    return queue_name


def check_output_only_queue(queue: Any, paths: tuple[str, ...] = QUEUE_OUTPUT_ONLY) -> None:
    for path in paths:
        if has_path(queue, path):
            raise invalid(f"queue.{path}", "the field is output only and cannot be set")


def fill_queue_defaults(queue: Any) -> None:
    """Replace unset (zero) configuration with the service's defaults, in place."""
    limits = queue.rate_limits
    if limits.max_dispatches_per_second == 0:
        limits.max_dispatches_per_second = DEFAULT_RATE
    if limits.max_concurrent_dispatches == 0:
        limits.max_concurrent_dispatches = DEFAULT_CONCURRENT
    limits.max_burst_size = burst_for_rate(limits.max_dispatches_per_second)
    retry = queue.retry_config
    if retry.max_attempts == 0:
        retry.max_attempts = DEFAULT_MAX_ATTEMPTS
    if duration_us(retry.min_backoff) == 0:
        set_duration_us(retry.min_backoff, DEFAULT_MIN_BACKOFF_US)
    if duration_us(retry.max_backoff) == 0:
        set_duration_us(retry.max_backoff, DEFAULT_MAX_BACKOFF_US)
    if retry.max_doublings == 0:
        retry.max_doublings = DEFAULT_MAX_DOUBLINGS
    retry.max_retry_duration.SetInParent()
    if queue.state == 0:
        queue.state = STATE_RUNNING


def check_queue_config(queue: Any) -> None:
    """Range checks on a queue's configurable fields (before or after defaults)."""
    rate = queue.rate_limits.max_dispatches_per_second
    if not math.isfinite(rate) or rate < 0 or rate > MAX_RATE:
        raise invalid(
            "queue.rate_limits.max_dispatches_per_second",
            f"must be greater than 0 and at most {MAX_RATE:g}, got {rate:g}",
        )
    concurrent = queue.rate_limits.max_concurrent_dispatches
    if concurrent < 0 or concurrent > MAX_CONCURRENT:
        raise invalid(
            "queue.rate_limits.max_concurrent_dispatches",
            f"must be between 1 and {MAX_CONCURRENT}, got {concurrent}",
        )
    check_retry_config(queue.retry_config, "queue.retry_config")
    ratio = queue.stackdriver_logging_config.sampling_ratio
    if not math.isfinite(ratio) or ratio < 0 or ratio > 1:
        raise invalid(
            "queue.stackdriver_logging_config.sampling_ratio",
            f"must be between 0.0 and 1.0, got {ratio:g}",
        )
    if queue.HasField("http_target"):
        _check_http_target(queue.http_target)


def check_retry_config(retry: Any, field: str) -> None:
    if retry.max_attempts < -1:
        raise invalid(
            f"{field}.max_attempts", f"must be -1 (unlimited) or more, got {retry.max_attempts}"
        )
    for name in ("min_backoff", "max_backoff", "max_retry_duration"):
        value = getattr(retry, name)
        if value.seconds < 0 or value.nanos < 0 or value.nanos >= 1_000_000_000:
            raise invalid(f"{field}.{name}", "must be a non-negative duration")
        if value.seconds > MAX_DURATION_S:
            raise invalid(
                f"{field}.{name}", f"must be at most {MAX_DURATION_S}s, got {value.seconds}s"
            )
    if retry.max_doublings < 0:
        raise invalid(f"{field}.max_doublings", f"must be 0 or more, got {retry.max_doublings}")
    min_us, max_us = duration_us(retry.min_backoff), duration_us(retry.max_backoff)
    if min_us and max_us and min_us > max_us:
        raise invalid(f"{field}.min_backoff", "must not be greater than max_backoff")


def _check_http_target(target: object) -> None:
    field = "queue.http_target"
    override = target.uri_override  # type: ignore[attr-defined]
    if override.HasField("host") and not override.host:
        raise invalid(f"{field}.uri_override.host", "must not be empty when set")
    if override.HasField("host") and CONTROL_RE.search(override.host):
        raise invalid(f"{field}.uri_override.host", "must not contain spaces or control characters")
    if override.HasField("port") and not 0 <= override.port <= MAX_PORT:
        raise invalid(
            f"{field}.uri_override.port", f"must be between 1 and {MAX_PORT}, got {override.port}"
        )
    if override.HasField("path_override") and CONTROL_RE.search(override.path_override.path):
        raise invalid(
            f"{field}.uri_override.path_override.path",
            "must not contain spaces or control characters",
        )
    if override.HasField("query_override") and CONTROL_RE.search(
        override.query_override.query_params
    ):
        raise invalid(
            f"{field}.uri_override.query_override.query_params",
            "must not contain spaces or control characters",
        )
    headers: dict[str, str] = {}
    for index, item in enumerate(target.header_overrides):  # type: ignore[attr-defined]
        if not item.header.key:
            raise invalid(f"{field}.header_overrides[{index}].header.key", "must not be empty")
        headers[item.header.key] = item.header.value
    check_headers(headers, f"{field}.header_overrides")
    kind = target.WhichOneof("authorization_header")  # type: ignore[attr-defined]
    if kind == "oauth_token":
        token = target.oauth_token  # type: ignore[attr-defined]
        if not token.service_account_email or not token.scope:
            raise invalid(
                f"{field}.oauth_token", "service_account_email and scope are both required"
            )
        check_email(token.service_account_email, f"{field}.oauth_token.service_account_email")
    elif kind == "oidc_token":
        token = target.oidc_token  # type: ignore[attr-defined]
        if not token.service_account_email or not token.audience:
            raise invalid(
                f"{field}.oidc_token", "service_account_email and audience are both required"
            )
        check_email(token.service_account_email, f"{field}.oidc_token.service_account_email")


def check_email(email: str, field: str) -> None:
    """A service account email is an email address (``name@project.iam.gserviceaccount.com``)."""
    if not _EMAIL_RE.match(email):
        raise invalid(field, f"must be an email address, got {email!r}")


def prepare_new_queue(parent: str, queue: Any) -> Any:
    """Validate a CreateQueue body and return the queue as it will be stored."""
    check_queue_name(queue.name, parent)
    check_output_only_queue(queue)
    check_queue_config(queue)
    stored = QueuePb()
    stored.CopyFrom(queue)
    stored.name = str(parse_queue_name(queue.name))
    fill_queue_defaults(stored)
    check_queue_config(stored)
    return stored


_CAMEL_RE = re.compile(r"(?<!^)(?=[A-Z])")


def normalize_mask_paths(paths: list[str]) -> list[str]:
    """Accept ``rateLimits.maxBurstSize`` as well as ``rate_limits.max_burst_size``."""
    result: list[str] = []
    for raw in paths:
        for path in raw.split(","):
            path = path.strip()
            if not path:
                raise invalid("update_mask", f"empty field path in {paths!r}")
            result.append(".".join(_CAMEL_RE.sub("_", part).lower() for part in path.split(".")))
    return result


def _set_leaf_paths(message: object, prefix: str = "") -> list[str]:
    """Paths of every set scalar/repeated field, descending into set sub-messages."""
    paths: list[str] = []
    for descriptor, value in message.ListFields():  # type: ignore[attr-defined]
        path = f"{prefix}{descriptor.name}"
        if (
            descriptor.type == descriptor.TYPE_MESSAGE
            and not descriptor.is_repeated
            and descriptor.message_type.full_name.startswith("google.cloud.tasks.")
        ):
            sub = _set_leaf_paths(value, path + ".")
            paths.extend(sub or [path])
        else:
            paths.append(path)
    return paths


def merge_queue_update(stored: Any | None, body: Any, mask_paths: list[str]) -> Any:
    """Apply an UpdateQueue body to the stored queue (or a new one) as the service does.

    With a mask, each listed field is copied from the body; a listed field unset in the body
    goes back to its default. Without a mask, every field set in the body replaces the stored
    one. Output-only fields may only be sent unchanged.
    """
    paths = normalize_mask_paths(mask_paths)
    if paths:
        mask = field_mask_pb2.FieldMask(paths=paths)
        if not mask.IsValidForDescriptor(QueuePb.DESCRIPTOR):
            raise invalid("update_mask", f"unknown field path in {', '.join(paths)}")
        if "name" in paths:
            raise invalid("update_mask", "the queue name cannot be updated")
        for path in paths:
            # "rate_limits" itself is fine: its output-only max_burst_size is recomputed.
            if any(path == out or path.startswith(out + ".") for out in QUEUE_OUTPUT_ONLY):
                raise invalid("update_mask", f"{path} is output only and cannot be updated")
    else:
        paths = [p for p in _set_leaf_paths(body) if p != "name"]
        for out in QUEUE_OUTPUT_ONLY:
            if out in paths:
                if stored is None or _get_path(stored, out) != _get_path(body, out):
                    raise invalid(f"queue.{out}", "the field is output only and cannot be set")
                paths.remove(out)
        mask = field_mask_pb2.FieldMask(paths=paths)
    check_queue_config(body)
    result = QueuePb()
    if stored is not None:
        result.CopyFrom(stored)
    else:
        result.name = str(parse_queue_name(body.name))
    if mask.paths:
        source = QueuePb()
        source.CopyFrom(body)
        source.rate_limits.max_burst_size = 0
        for path in mask.paths:  # MergeMessage skips paths whose parent is unset in the source
            parent = source
            for part in path.split(".")[:-1]:
                parent = getattr(parent, part)
                parent.SetInParent()
        mask.MergeMessage(source, result, replace_message_field=True, replace_repeated_field=True)
    fill_queue_defaults(result)
    check_queue_config(result)
    return result


def has_path(message: object, path: str) -> bool:
    head, _, rest = path.partition(".")
    if not rest:
        field = message.DESCRIPTOR.fields_by_name[head]  # type: ignore[attr-defined]
        if field.type == field.TYPE_MESSAGE:
            return bool(message.HasField(head))  # type: ignore[attr-defined]
        return bool(getattr(message, head))
    if not message.HasField(head):  # type: ignore[attr-defined]
        return False
    return has_path(getattr(message, head), rest)


def _get_path(message: object, path: str) -> object:
    for part in path.split("."):
        message = getattr(message, part)
    return message


_FILTER_RE = re.compile(r"^\s*state\s*(?::|=)\s*\"?([A-Za-z_]+)\"?\s*$", re.IGNORECASE)


def parse_queue_filter(text: str) -> int | None:
    """The queue state a ListQueues ``filter`` selects (``state: PAUSED``), or None for all."""
    if not text.strip():
        return None
    match = _FILTER_RE.match(text)
    if not match or match[1].upper() not in STATE_NAMES:
        raise invalid(
            "filter",
            f"unsupported filter {text!r}; use state: RUNNING, state: PAUSED or state: DISABLED",
        )
    return STATE_NAMES[match[1].upper()]


def page_size(requested: int, maximum: int) -> int:
    if requested < 0:
        raise invalid("page_size", f"must not be negative, got {requested}")
    return maximum if requested == 0 else min(requested, maximum)


def check_headers(headers: dict[str, str], field: str) -> None:
    """Header names and values free of control characters, within the size limit."""
    if not headers:
        return
    size = 0
    for key, value in headers.items():
        if not key or CONTROL_RE.search(key) or ":" in key or _VALUE_CONTROL_RE.search(value):
            raise invalid(field, f"invalid header {key!r}")
        size += len(key) + len(value)
    if size > MAX_HEADERS_BYTES:
        raise invalid(field, "headers must be smaller than 80 KB in total")
