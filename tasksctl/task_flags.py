"""Task input -> a ``Task`` message, validated before any request is made.

``create-http-task``/``create-app-engine-task`` flags and ``tasks import`` rows both become a
:class:`TaskInput`; every check here raises :class:`~tasksctl.errors.UsageError` (exit 2) with a
one-line message that names the offending flag (``argument --url: ...``) or row field
(``url: ...``), so bad input never reaches the service. The checks mirror the API's rules:

- URL: absolute ``http://`` or ``https://`` with a host, no spaces, at most 2083 characters.
- Method: POST, GET, HEAD, PUT, DELETE, PATCH, OPTIONS (case-insensitive; POST when omitted,
  as the service does). A body only with POST, PUT or PATCH (App Engine: POST or PUT).
- Headers: ``Key: Value`` (gcloud's ``^(\\S+):(.+)$``; value left-stripped; the last of equal
  names wins); no control characters.
- Body: at most 1 MB = 1,048,576 bytes (Cloud Tasks' task size limit; the engine applies the
  same number to the body). ``--body-file`` is read as bytes (``-`` = stdin), so binary
  bodies arrive unchanged.
- Schedule: ``--schedule-time`` (RFC 3339) or ``--schedule-delay`` (``30s``, ``10m``, ``24h``,
  ``2d``), at most 30 days ahead.
- Dispatch deadline: 15s to 30m (HTTP tasks).
- OIDC (email, optional audience) or OAuth (email, optional scope), not both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from tasksctl.errors import UsageError
from tasksctl.limits import (
    APP_ENGINE_BODY_METHODS,
    EMAIL_PATTERN,
    HTTP_BODY_METHODS,
    HTTP_DEADLINE_RANGE_SECONDS,
    HTTP_METHODS,
    MAX_BODY_BYTES,
    MAX_HEADERS_BYTES,
    MAX_SCHEDULE_AHEAD_SECONDS,
    MAX_URL_LENGTH,
)

_EMAIL_RE = re.compile(EMAIL_PATTERN)
_URL_CONTROL_RE = re.compile(r"[\x00-\x20\x7f]")
MAX_SCHEDULE_AHEAD = timedelta(seconds=MAX_SCHEDULE_AHEAD_SECONDS)
DEADLINE_RANGE = (float(HTTP_DEADLINE_RANGE_SECONDS[0]), float(HTTP_DEADLINE_RANGE_SECONDS[1]))

KIND_HTTP = "http"
KIND_APP_ENGINE = "app-engine"

_HEADER_RE = re.compile(r"^(\S+):(.+)$")
_HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_ROUTING_KEYS = ("service", "version", "instance")

Label = Callable[[str], str]


def flag_label(name: str) -> str:
    """How CLI errors name a field: ``argument --body-file``."""
    return "argument --" + name.replace("_", "-")


def field_label(name: str) -> str:
    """How import errors name a field: ``body_base64``."""
    return name


def bare(label: Label, name: str) -> str:
    """A field's name inside a message: ``--body-file`` or ``body_file``."""
    return "--" + name.replace("_", "-") if label is flag_label else name


@dataclass
class TaskInput:
    """One task to create, already validated (schedule delay resolved at send time)."""

    kind: str = KIND_HTTP
    url: str = ""
    relative_uri: str = ""
    routing: dict[str, str] | None = None
    method: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    schedule_time: datetime | None = None
    schedule_delay: float | None = None
    dispatch_deadline: float | None = None
    oidc_email: str | None = None
    oidc_audience: str | None = None
    oauth_email: str | None = None
    oauth_scope: str | None = None
    task_id: str | None = None

    @property
    def target(self) -> str:
        return self.url if self.kind == KIND_HTTP else self.relative_uri

    def content_id(self) -> str:
        """``--dedup-content``: the ID derived from method, URL, headers and body."""
        from tasksctl.dedup import id_from_content

        return id_from_content(self.kind, self.method, self.target, self.headers, self.body)

    def schedule_at(self, now: datetime) -> datetime | None:
        if self.schedule_delay is not None:
            return now + timedelta(seconds=self.schedule_delay)
        return self.schedule_time

    def to_pb(self, queue_name: str, now: datetime) -> Any:
        """The raw protobuf ``Task`` (named ``queue_name/tasks/task_id`` when an ID is set)."""
        from tasksctl.client import import_tasks_v2
        from tasksctl.resources import split_seconds

        tasks_v2 = import_tasks_v2()
        task = tasks_v2.Task.pb()()
        if self.task_id:
            task.name = f"{queue_name}/tasks/{self.task_id}"
        if self.kind == KIND_HTTP:
            request = task.http_request
            request.url = self.url
            if self.oidc_email:
                request.oidc_token.service_account_email = self.oidc_email
                if self.oidc_audience:
                    request.oidc_token.audience = self.oidc_audience
            if self.oauth_email:
                request.oauth_token.service_account_email = self.oauth_email
                if self.oauth_scope:
                    request.oauth_token.scope = self.oauth_scope
        else:
            request = task.app_engine_http_request
            request.relative_uri = self.relative_uri
            for key, value in (self.routing or {}).items():
                setattr(request.app_engine_routing, key, value)
        if self.method:
            request.http_method = tasks_v2.HttpMethod[self.method].value
        for key, value in self.headers.items():
            request.headers[key] = value
        if self.body:
            request.body = self.body
        when = self.schedule_at(now)
        if when is not None:
            seconds, nanos = split_seconds(when.timestamp())
            task.schedule_time.seconds, task.schedule_time.nanos = seconds, nanos
        if self.dispatch_deadline is not None:
            seconds, nanos = split_seconds(self.dispatch_deadline)
            task.dispatch_deadline.seconds, task.dispatch_deadline.nanos = seconds, nanos
        return task


# ---------------------------------------------------------------------------------------------
# Field checks; ``label`` turns a field name into the error's prefix (flag or row field).


def check_url(text: str, label: Label = flag_label, name: str = "url") -> str:
    from urllib.parse import urlsplit

    url = str(text).strip()
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a port past 65535
    except ValueError:
        ok = False
    if not ok or _URL_CONTROL_RE.search(url):
        raise UsageError(
            f"{label(name)}: must be an absolute http:// or https:// URL; received: {text}"
        )
    if len(url) > MAX_URL_LENGTH:
        raise UsageError(f"{label(name)}: must be at most {MAX_URL_LENGTH} characters long.")
    return url


def check_relative_uri(text: str, label: Label = flag_label, name: str = "relative_uri") -> str:
    uri = str(text).strip() or "/"
    if not uri.startswith("/") or _URL_CONTROL_RE.search(uri) or len(uri) > MAX_URL_LENGTH:
        raise UsageError(
            f"{label(name)}: must begin with '/' and contain no spaces; received: {text}"
        )
    return uri


def check_method(text: str | None, label: Label = flag_label, name: str = "method") -> str | None:
    if text is None or str(text).strip() == "":
        return None
    method = str(text).strip().upper()
    if method not in HTTP_METHODS:
        raise UsageError(
            f"{label(name)}: Invalid choice: '{text}' (choose from {', '.join(HTTP_METHODS)})."
        )
    return method


def parse_header_items(
    items: list[str], label: Label = flag_label, name: str = "header"
) -> dict[str, str]:
    """Repeated ``Key: Value`` strings (gcloud's rule); later equal names win."""
    headers: dict[str, str] = {}
    for item in items:
        match = _HEADER_RE.match(str(item).strip())
        if not match:
            raise UsageError(
                f"{label(name)}: Bad value [{item}]: Must be of the form: "
                '"HEADER_FIELD: HEADER_VALUE".'
            )
        headers[match.group(1)] = match.group(2).lstrip()
    return check_headers(headers, label, name)


def check_headers(
    headers: Mapping[str, Any], label: Label = flag_label, name: str = "header"
) -> dict[str, str]:
    """Header names are HTTP tokens; values are text without control characters."""
    checked: dict[str, str] = {}
    for key, value in headers.items():
        if not isinstance(key, str) or not _HEADER_NAME_RE.match(key):
            raise UsageError(f"{label(name)}: invalid header name {key!r}.")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise UsageError(f"{label(name)}: the value of header {key!r} must be text.")
        text = str(value)
        if any(ord(ch) < 32 and ch != "\t" for ch in text) or "\x7f" in text:
            raise UsageError(f"{label(name)}: the value of header {key!r} has control characters.")
        checked[key] = text
    size = sum(len(k) + len(v) for k, v in checked.items())
    if size > MAX_HEADERS_BYTES:
        raise UsageError(
            f"{label(name)}: the headers total {size:,} bytes; Cloud Tasks allows at most "
            f"{MAX_HEADERS_BYTES:,} bytes of headers per task."
        )
    return checked


def read_body_file(path: str, stdin: IO[Any] | None = None, label: Label = flag_label) -> bytes:
    """The bytes of ``--body-file`` (``-`` = stdin), reading at most one byte past the limit."""
    if path == "-":
        import sys

        stream = stdin or sys.stdin
        raw = getattr(stream, "buffer", None)
        data = raw.read(MAX_BODY_BYTES + 1) if raw is not None else stream.read().encode("utf-8")
        return bytes(data)
    try:
        with Path(path).expanduser().open("rb") as handle:
            return handle.read(MAX_BODY_BYTES + 1)
    except OSError as exc:
        raise UsageError(
            f"{label('body_file')}: Unable to read file [{path}]: {exc.strerror or exc}."
        ) from None


def check_body(
    body: bytes | None,
    method: str | None,
    kind: str,
    label: Label = flag_label,
    name: str = "body_content",
) -> bytes | None:
    if not body:
        return None
    if len(body) > MAX_BODY_BYTES:
        raise UsageError(
            f"{label(name)}: the body is larger than the 1 MB task limit "
            f"({MAX_BODY_BYTES:,} bytes)."
        )
    allowed = HTTP_BODY_METHODS if kind == KIND_HTTP else APP_ENGINE_BODY_METHODS
    if (method or "POST") not in allowed:
        raise UsageError(
            f"{label(name)}: a body is allowed only with {', '.join(allowed[:-1])} or "
            f"{allowed[-1]}, not {method}."
        )
    return body


def parse_schedule(
    time_value: str | datetime | None,
    delay_value: str | float | None,
    now: datetime,
    label: Label = flag_label,
) -> tuple[datetime | None, float | None]:
    """``(schedule_time, schedule_delay)``: at most one, at most 30 days ahead of ``now``."""
    from tasksctl.resources import parse_duration, parse_timestamp

    if time_value is not None and delay_value is not None:
        raise UsageError(
            f"{label('schedule_time')}: At most one of {bare(label, 'schedule_time')} | "
            f"{bare(label, 'schedule_delay')} can be specified."
        )
    limit = "must be at most 30 days ahead"
    if time_value is not None:
        if isinstance(time_value, datetime):
            from datetime import UTC

            when = time_value if time_value.tzinfo else time_value.replace(tzinfo=UTC)
        else:
            try:
                when = parse_timestamp(str(time_value))
            except UsageError:
                raise UsageError(
                    f"{label('schedule_time')}: {time_value!r} is not an RFC 3339 timestamp "
                    "(for example 2030-01-01T12:00:00Z)."
                ) from None
        if when - now > MAX_SCHEDULE_AHEAD:
            raise UsageError(f"{label('schedule_time')}: {limit}; received: {time_value}")
        return when, None
    if delay_value is not None:
        delay = _seconds(delay_value, label, "schedule_delay", parse_duration)
        if delay > MAX_SCHEDULE_AHEAD.total_seconds():
            raise UsageError(f"{label('schedule_delay')}: {limit}; received: {delay_value}")
        return None, delay
    return None, None


def parse_deadline(value: str | float | None, label: Label = flag_label) -> float | None:
    from tasksctl.resources import parse_duration

    if value is None or value == "":
        return None
    seconds = _seconds(value, label, "dispatch_deadline", parse_duration)
    low, high = DEADLINE_RANGE
    if not low <= seconds <= high:
        raise UsageError(
            f"{label('dispatch_deadline')}: must be between 15s and 30m; received: {value}"
        )
    return seconds


def _seconds(value: Any, label: Label, name: str, parse: Callable[[str, str], float]) -> float:
    if isinstance(value, bool):
        raise UsageError(f"{label(name)}: expected a duration such as 30s, 10m, 2h or 1d.")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        try:
            seconds = parse(str(value), label(name))
        except UsageError:
            raise UsageError(
                f"{label(name)}: {value!r} is not a duration (use 30s, 10m, 24h, 2d)."
            ) from None
    if seconds < 0:
        raise UsageError(f"{label(name)}: must not be negative; received: {value}")
    return seconds


def check_auth(values: Mapping[str, str | None], label: Label = flag_label) -> None:
    """OIDC XOR OAuth; the scope/audience only together with its service account email."""
    oidc = [k for k in ("oidc_service_account_email", "oidc_token_audience") if values.get(k)]
    oauth = [k for k in ("oauth_service_account_email", "oauth_token_scope") if values.get(k)]
    if oidc and oauth:
        names = [
            bare(label, n)
            for n in (
                "oauth_service_account_email",
                "oauth_token_scope",
                "oidc_service_account_email",
                "oidc_token_audience",
            )
        ]
        raise UsageError(
            f"{label(oauth[0])}: At most one of OAuth ({names[0]}, {names[1]}) | "
            f"OIDC ({names[2]}, {names[3]}) can be specified."
        )
    for group in (oidc, oauth):
        if group and not group[0].endswith("_email"):
            email = group[0].split("_")[0] + "_service_account_email"
            raise UsageError(f"{label(email)}: Must be specified with {bare(label, group[0])}.")
    for name in ("oidc_service_account_email", "oauth_service_account_email"):
        value = values.get(name)
        if value:
            check_email(value, label, name)


def check_email(value: str, label: Label = flag_label, name: str = "service_account_email") -> str:
    """A service account email must look like one (``sa@project.iam.gserviceaccount.com``)."""
    if not _EMAIL_RE.match(value):
        raise UsageError(f"{label(name)}: must be an email address; received: {value!r}")
    return value


def parse_routing(text: str | None, label: Label = flag_label) -> dict[str, str] | None:
    """``service:S,version:V,instance:I`` (gcloud's ArgDict with ':')."""
    if text is None or not str(text).strip():
        return None
    routing: dict[str, str] = {}
    for item in str(text).split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition(":")
        if not sep:
            raise UsageError(
                f"{label('routing')}: Bad syntax for dict arg: [{item}]. Use KEY:VALUE pairs "
                f"with KEY one of {', '.join(_ROUTING_KEYS)}."
            )
        if key.strip() not in _ROUTING_KEYS:
            raise UsageError(
                f"{label('routing')}: Bad value [{key.strip()}]: Only the following keys are "
                f"valid for routing: [{', '.join(_ROUTING_KEYS)}]."
            )
        routing[key.strip()] = value.strip()
    return routing


def check_task_id(text: str, label: Label = flag_label, name: str = "task_id") -> str:
    from tasksctl.resources import TASK_ID_RE

    if not TASK_ID_RE.match(text):
        raise UsageError(
            f"{label(name)}: invalid task ID {text!r}: use letters, digits, hyphens and "
            "underscores (1-500 characters)."
        )
    return text
