"""Build the :class:`delivery.Delivery` of one attempt from a stored task and its queue.

Queue-level ``http_target`` overrides (v2 ``HttpTarget`` reference) are applied here:

* ``header_overrides``: set on every task of the queue, replacing a task header of the same
  name (case-insensitive);
* ``http_method``: replaces the task's method;
* ``oidc_token`` / ``oauth_token``: replace the task's authorization;
* ``uri_override``: ``ALWAYS`` replaces each part that the override sets (scheme, host, port,
  path, query); ``IF_NOT_EXISTS`` (and unspecified) applies a part only where the task's URL
  has none (no explicit port, an empty or "/" path, no query; scheme and host always exist).

App Engine tasks use the queue's ``app_engine_routing_override`` when set, else the task's
routing, and go to ``--app-engine-host``; without one the attempt fails with ``problem`` set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from google.cloud import tasks_v2

from tasksctl.engine import dispatch_records as drec
from tasksctl.engine import records
from tasksctl.engine.delivery import (
    DEFAULT_DISPATCH_DEADLINE,
    AppEngineTarget,
    Delivery,
    OAuthToken,
    OidcToken,
)
from tasksctl.engine.rows import AttemptRow

METHODS: dict[int, str] = {int(m): m.name for m in list(tasks_v2.HttpMethod) if int(m)}
SCHEMES = {1: "http", 2: "https"}
MODE_ALWAYS = 2
NO_APP_ENGINE_HOST = (
    "App Engine task not sent: the engine has no App Engine host "
    "(start it with --app-engine-host HOST:PORT)"
)


@dataclass(frozen=True, slots=True)
class Built:
    delivery: Delivery | None
    problem: str | None  # set when the attempt cannot be sent at all
    app_engine: bool
    task_name: str
    url: str
    method: str


def build_delivery(row: AttemptRow, queue: Any, app_engine_host: str | None) -> Built:
    """The delivery of the task in ``row`` for the Queue message ``queue``."""
    task = records.compose_task(row.task_row)
    history = drec.load_history(row.history)
    attempts = history.get("a") or []
    previous = attempts[-1].get("status") if attempts and task.dispatch_count else None
    queue_id = queue.name.rsplit("/", 1)[-1]
    task_id = str(row.task_id)
    deadline = DEFAULT_DISPATCH_DEADLINE
    if task.HasField("dispatch_deadline"):
        deadline = task.dispatch_deadline.seconds + task.dispatch_deadline.nanos / 1e9
    common = {
        "queue_id": queue_id,
        "task_id": task_id,
        "schedule_time": task.schedule_time.seconds + task.schedule_time.nanos / 1e9,
        "retry_count": task.dispatch_count,
        "execution_count": int(history.get("x", 0)),
        "previous_response": previous,
        "dispatch_deadline": deadline,
    }
    if task.HasField("app_engine_http_request"):
        request = task.app_engine_http_request
        routing = (
            queue.app_engine_routing_override
            if queue.HasField("app_engine_routing_override")
            else request.app_engine_routing
        )
        method = METHODS.get(request.http_method, "POST")
        uri = request.relative_uri or "/"
        if not app_engine_host:
            return Built(None, NO_APP_ENGINE_HOST, True, task.name, uri, method)
        target = AppEngineTarget(
            host=app_engine_host, relative_uri=uri, service=routing.service,
            version=routing.version, instance=routing.instance,
        )  # fmt: skip
        delivery = Delivery(
            method=method, headers=dict(request.headers), body=request.body,
            app_engine=target, **common,
        )  # fmt: skip
        return Built(delivery, None, True, task.name, target.url(), method)
    request = task.http_request
    headers = dict(request.headers)
    method = METHODS.get(request.http_method, "POST")
    url = request.url
    oidc = _oidc(request.oidc_token) if request.HasField("oidc_token") else None
    oauth = _oauth(request.oauth_token) if request.HasField("oauth_token") else None
    if queue.HasField("http_target"):
        target = queue.http_target
        lowered = {k.lower(): k for k in headers}
        for override in target.header_overrides:
            key, value = override.header.key, override.header.value
            if key.lower() in lowered:
                del headers[lowered[key.lower()]]
            headers[key] = value
        if target.http_method:
            method = METHODS.get(target.http_method, method)
        if target.HasField("oidc_token"):
            oidc, oauth = _oidc(target.oidc_token), None
        elif target.HasField("oauth_token"):
            oidc, oauth = None, _oauth(target.oauth_token)
        if target.HasField("uri_override"):
            url = apply_uri_override(url, target.uri_override)
    delivery = Delivery(
        url=url, method=method, headers=headers, body=request.body, oidc=oidc, oauth=oauth,
        **common,
    )  # fmt: skip
    return Built(delivery, None, False, task.name, url, method)


def _oidc(token: Any) -> OidcToken:
    return OidcToken(token.service_account_email, token.audience)


def _oauth(token: Any) -> OAuthToken:
    return OAuthToken(token.service_account_email, token.scope)


def apply_uri_override(url: str, override: Any) -> str:
    """The task URL with the queue's ``UriOverride`` applied (see the module docstring)."""
    parts = urlsplit(url)
    always = override.uri_override_enforce_mode == MODE_ALWAYS
    scheme, netloc, path, query = parts.scheme, parts.netloc, parts.path, parts.query
    host = parts.hostname or ""
    port = parts.port
    userinfo = netloc.rpartition("@")[0] if "@" in netloc else ""
    if override.scheme and always:
        scheme = SCHEMES.get(override.scheme, scheme)
    if override.host and always:
        host = override.host
    if override.port and (always or port is None):
        port = int(override.port)
    if override.HasField("path_override") and (always or path in ("", "/")):
        path = override.path_override.path or "/"
        if not path.startswith("/"):
            path = "/" + path
    if override.HasField("query_override") and (always or not query):
        query = override.query_override.query_params
    host_text = f"[{host}]" if ":" in host else host
    netloc = (userinfo + "@" if userinfo else "") + host_text + (f":{port}" if port else "")
    return urlunsplit((scheme, netloc, path, query, parts.fragment))
