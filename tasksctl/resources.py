"""Resource names, IDs, durations and timestamps: parsing and formatting, no I/O.

Shared by the CLI (user input) and the engine (request validation), so both agree on what a
valid queue ID or a ``1.5m`` duration is.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tasksctl.errors import InvalidArgument, UsageError
from tasksctl.limits import MAX_DURATION_SECONDS

PROJECT_ID_RE = re.compile(r"^[a-z0-9][a-z0-9.:-]{0,99}$")
LOCATION_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
QUEUE_ID_RE = re.compile(r"^[A-Za-z0-9-]{1,100}$")
TASK_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,500}$")

_LOCATION_NAME_RE = re.compile(r"^projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)$")
_QUEUE_NAME_RE = re.compile(
    r"^projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/queues/(?P<queue>[^/]+)$"
)
_TASK_NAME_RE = re.compile(
    r"^projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
    r"/queues/(?P<queue>[^/]+)/tasks/(?P<task>[^/]+)$"
)
_URL_PREFIX_RE = re.compile(r"^https?://[^/]+/v2(beta\d)?/")


@dataclass(frozen=True)
class LocationName:
    project: str
    location: str

    def __str__(self) -> str:
        return f"projects/{self.project}/locations/{self.location}"


@dataclass(frozen=True)
class QueueName:
    project: str
    location: str
    queue: str

    @property
    def parent(self) -> LocationName:
        return LocationName(self.project, self.location)

    @property
    def short(self) -> str:
        """gcloud's ``LOC/QUEUE`` form used in messages and prompts."""
        return f"{self.location}/{self.queue}"

    def __str__(self) -> str:
        return f"projects/{self.project}/locations/{self.location}/queues/{self.queue}"


@dataclass(frozen=True)
class TaskName:
    project: str
    location: str
    queue: str
    task: str

    @property
    def parent(self) -> QueueName:
        return QueueName(self.project, self.location, self.queue)

    def __str__(self) -> str:
        return f"{self.parent}/tasks/{self.task}"


def _strip_url(name: str) -> str:
    return _URL_PREFIX_RE.sub("", name.strip())


def parse_location_name(name: str, field: str = "name") -> LocationName:
    """Parse ``projects/P/locations/L``; INVALID_ARGUMENT naming ``field`` otherwise."""
    match = _LOCATION_NAME_RE.match(_strip_url(name))
    if not match:
        raise InvalidArgument(f"Invalid resource field value in the request: {field} ({name!r})")
    return LocationName(match["project"], match["location"])


def parse_queue_name(name: str, field: str = "name") -> QueueName:
    """Parse and validate a full queue name."""
    match = _QUEUE_NAME_RE.match(_strip_url(name))
    if not match or not QUEUE_ID_RE.match(match["queue"]):
        raise InvalidArgument(
            f"Invalid resource field value in the request: {field} ({name!r}); a queue name is "
            "projects/PROJECT/locations/LOCATION/queues/QUEUE_ID with QUEUE_ID made of "
            "letters, digits and hyphens (1-100 characters)"
        )
    return QueueName(match["project"], match["location"], match["queue"])


def parse_task_name(name: str, field: str = "name") -> TaskName:
    """Parse and validate a full task name."""
    match = _TASK_NAME_RE.match(_strip_url(name))
    if not match or not QUEUE_ID_RE.match(match["queue"]) or not TASK_ID_RE.match(match["task"]):
        raise InvalidArgument(
            f"Invalid resource field value in the request: {field} ({name!r}); a task name is "
            "projects/PROJECT/locations/LOCATION/queues/QUEUE_ID/tasks/TASK_ID with TASK_ID "
            "made of letters, digits, hyphens and underscores (1-500 characters)"
        )
    return TaskName(match["project"], match["location"], match["queue"], match["task"])


def is_full_queue_name(value: str) -> bool:
    return bool(_QUEUE_NAME_RE.match(_strip_url(value)))


def is_full_task_name(value: str) -> bool:
    return bool(_TASK_NAME_RE.match(_strip_url(value)))


# ---------------------------------------------------------------------------------------------
# Durations

_DURATION_RE = re.compile(r"^\s*(?P<number>\d+(\.\d*)?|\.\d+)\s*(?P<unit>ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(text: str, flag: str = "duration") -> float:
    """Parse ``10s``, ``1.5m``, ``2h``, ``1d``, ``250ms`` or a bare number of seconds.

    Raises UsageError naming ``flag`` on anything else.
    """
    match = _DURATION_RE.match(str(text))
    if not match:
        raise UsageError(
            f"Invalid value for {flag}: {text!r} is not a duration "
            "(use a number with a unit: 250ms, 10s, 1.5m, 2h, 1d)"
        )
    seconds = float(match["number"]) * _UNIT_SECONDS[match["unit"]]
    if not seconds <= MAX_DURATION_SECONDS:  # also inf from a 400-digit number
        raise UsageError(
            f"Invalid value for {flag}: {text!r} is longer than the longest duration Cloud "
            f"Tasks accepts ({MAX_DURATION_SECONDS:,}s, about 10,000 years)"
        )
    return seconds


def format_duration(seconds: float) -> str:
    """Format seconds as the proto JSON form gcloud prints (``10s``, ``0.100s``)."""
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    text = f"{seconds:.9f}".rstrip("0")
    # proto JSON uses 3, 6 or 9 fractional digits
    whole, _, frac = text.partition(".")
    digits = 3 if len(frac) <= 3 else 6 if len(frac) <= 6 else 9
    return f"{whole}.{frac.ljust(digits, '0')}s"


def split_seconds(seconds: float) -> tuple[int, int]:
    """Seconds as (seconds, nanos) for protobuf Duration / Timestamp fields."""
    nanos_total = round(seconds * 1_000_000_000)
    secs, nanos = divmod(nanos_total, 1_000_000_000)
    return int(secs), int(nanos)


# ---------------------------------------------------------------------------------------------
# Timestamps


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_timestamp(text: str, flag: str = "time") -> datetime:
    """Parse an RFC 3339 timestamp (``2026-01-01T12:00:00Z``; offsets allowed) to aware UTC."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"Invalid value for {flag}: {text!r} is not an RFC 3339 timestamp "
            "(for example 2026-01-01T12:00:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, as the API prints timestamps."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def epoch_to_datetime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def datetime_to_epoch(moment: datetime) -> float:
    return moment.timestamp()


def add_seconds(moment: datetime, seconds: float) -> datetime:
    return moment + timedelta(seconds=seconds)


def is_finite_number(value: float) -> bool:
    return not (math.isnan(value) or math.isinf(value))
