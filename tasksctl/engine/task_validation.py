"""CreateTask validation and the task fields the service fills in; the task views.

Pure like ``validation.py`` (whose helpers it uses): errors are ``InvalidArgument`` whose
message starts with the offending field's path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tasksctl import limits as api
from tasksctl.engine.validation import (
    CONTROL_RE,
    MAX_PORT,
    METHOD_PATCH,
    METHOD_POST,
    METHOD_PUT,
    check_email,
    check_headers,
    check_retry_config,
    duration_us,
    has_path,
    invalid,
    set_timestamp_us,
    timestamp_us,
)
from tasksctl.limits import MAX_BODY_BYTES, MAX_URL_LENGTH
from tasksctl.resources import QueueName, parse_task_name

VIEW_BASIC = 1
VIEW_FULL = 2
HTTP_BODY_METHODS = frozenset({METHOD_POST, METHOD_PUT, METHOD_PATCH})
APP_ENGINE_BODY_METHODS = frozenset({METHOD_POST, METHOD_PUT})
MAX_SCHEDULE_AHEAD_US = api.MAX_SCHEDULE_AHEAD_SECONDS * 1_000_000
HTTP_DEFAULT_DEADLINE_S = api.HTTP_DEFAULT_DEADLINE_SECONDS
HTTP_DEADLINE_RANGE_US = tuple(s * 1_000_000 for s in api.HTTP_DEADLINE_RANGE_SECONDS)
APP_ENGINE_DEADLINE_RANGE_US = tuple(s * 1_000_000 for s in api.APP_ENGINE_DEADLINE_RANGE_SECONDS)
# Task fields the caller may not set (paths as in an update mask).
TASK_OUTPUT_ONLY = (
    "create_time",
    "dispatch_count",
    "response_count",
    "first_attempt",
    "last_attempt",
    "view",
)


@dataclass
class NewTask:
    """A validated CreateTask: the task as stored plus the columns the store indexes."""

    task: Any
    task_id: str | None  # None = generate one
    schedule_us: int
    create_us: int


def prepare_new_task(parent: QueueName, parent_text: str, task: Any, now: int) -> NewTask:
    """Validate a CreateTask request's task and fill in what the service fills in.

    The task message is completed in place (it belongs to the request being served).
    """
    task_id: str | None = None
    if task.name:
        task_name = parse_task_name(task.name, "task.name")
        if task_name.parent != parent:
            raise invalid(
                "task.name",
                f"the task's queue ({task_name.parent}) must be the request's parent "
                f"({parent_text})",
            )
        task_id = task_name.task
    if task.dispatch_count or task.response_count or task.view or task.HasField("create_time") \
            or task.HasField("first_attempt") or task.HasField("last_attempt"):  # fmt: skip
        for field in TASK_OUTPUT_ONLY:
            if has_path(task, field):
                raise invalid(f"task.{field}", "the field is output only and cannot be set")
    stored = task
    kind = task.WhichOneof("message_type")
    if kind == "http_request":
        _check_http_request(stored.http_request)
        deadline_range = HTTP_DEADLINE_RANGE_US
        if not stored.HasField("dispatch_deadline"):
            stored.dispatch_deadline.seconds = HTTP_DEFAULT_DEADLINE_S
    elif kind == "app_engine_http_request":
        _check_app_engine_request(stored.app_engine_http_request)
        deadline_range = APP_ENGINE_DEADLINE_RANGE_US
    else:
        raise invalid(
            "task.http_request", "a task needs an http_request or an app_engine_http_request"
        )
    if stored.HasField("dispatch_deadline"):
        deadline = duration_us(stored.dispatch_deadline)
        if deadline and not deadline_range[0] <= deadline <= deadline_range[1]:
            raise invalid(
                "task.dispatch_deadline",
                f"must be between {deadline_range[0] // 1_000_000}s and "
                f"{deadline_range[1] // 1_000_000}s",
            )
    if task.HasField("retry_config"):
        check_retry_config(task.retry_config, "task.retry_config")
    schedule = now
    if task.HasField("schedule_time"):
        ts = task.schedule_time
        if ts.nanos < 0 or ts.nanos >= 1_000_000_000:
            raise invalid("task.schedule_time", "nanos must be in [0, 999999999]")
        requested = timestamp_us(ts)
        if requested > now + MAX_SCHEDULE_AHEAD_US:
            raise invalid("task.schedule_time", "must be at most 30 days in the future")
        schedule = max(requested, now)
    set_timestamp_us(stored.schedule_time, schedule)
    stored.create_time.seconds = now // 1_000_000  # the service truncates to the second
    return NewTask(stored, task_id, schedule, now)


def _check_http_request(request: object) -> None:
    field = "task.http_request"
    url: str = request.url  # type: ignore[attr-defined]
    if not url:
        raise invalid(f"{field}.url", "a URL is required")
    if len(url) > MAX_URL_LENGTH:
        raise invalid(f"{field}.url", f"must be at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or " " in url:
        raise invalid(f"{field}.url", f"must be an absolute http:// or https:// URL, got {url!r}")
    if CONTROL_RE.search(url):
        raise invalid(f"{field}.url", "must not contain spaces or control characters")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port past 65535
    except ValueError:
        raise invalid(f"{field}.url", f"the port must be between 1 and {MAX_PORT}") from None
    if not parts.hostname:
        raise invalid(f"{field}.url", f"must name a host, got {url!r}")
    _check_method_body_headers(request, field, HTTP_BODY_METHODS, "POST, PUT or PATCH")
    kind = request.WhichOneof("authorization_header")  # type: ignore[attr-defined]
    if kind and not getattr(request, kind).service_account_email:
        raise invalid(f"{field}.{kind}.service_account_email", "is required")
    if kind:
        check_email(
            getattr(request, kind).service_account_email, f"{field}.{kind}.service_account_email"
        )


def _check_app_engine_request(request: object) -> None:
    field = "task.app_engine_http_request"
    uri: str = request.relative_uri  # type: ignore[attr-defined]
    if uri and (not uri.startswith("/") or CONTROL_RE.search(uri) or len(uri) > MAX_URL_LENGTH):
        raise invalid(f"{field}.relative_uri", "must begin with '/' and contain no spaces")
    _check_method_body_headers(request, field, APP_ENGINE_BODY_METHODS, "POST or PUT")


def _check_method_body_headers(
    request: Any, field: str, body_methods: frozenset[int], body_methods_text: str
) -> None:
    """Default the method to POST; a body only with ``body_methods`` and within the task size;
    valid headers. Shared by HTTP and App Engine requests."""
    if request.http_method == 0:
        request.http_method = METHOD_POST
    body: bytes = request.body
    if body:
        if request.http_method not in body_methods:
            raise invalid(f"{field}.body", f"a body is allowed only with {body_methods_text}")
        if len(body) > MAX_BODY_BYTES:
            raise invalid(f"{field}.body", "the body exceeds the maximum task size of 1 MB")
    check_headers(request.headers, f"{field}.headers")


def task_view(task: Any, view: int) -> Any:
    """The task as a response shows it: BASIC (default) hides bodies and headers."""
    if view == VIEW_FULL:
        task.view = VIEW_FULL
        return task
    task.view = VIEW_BASIC
    kind = task.WhichOneof("message_type")
    if kind == "http_request":
        task.http_request.ClearField("body")
        task.http_request.ClearField("headers")
    elif kind == "app_engine_http_request":
        task.app_engine_http_request.ClearField("body")
        task.app_engine_http_request.ClearField("headers")
    return task


def check_view(view: int) -> int:
    if view not in (0, VIEW_BASIC, VIEW_FULL):
        raise invalid("response_view", f"unknown view {view}")
    return view or VIEW_BASIC
