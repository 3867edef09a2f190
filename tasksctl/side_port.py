"""Calls to the local engine's HTTP side port (stdlib ``urllib``: keeps CLI start-up light).

The one HTTP client for the side port. Routes used by the CLI:

- ``GET /v1/status`` -> the engine's address, pid, uptime, counts (``engine status``).

- ``GET /v1/failed?queue=<full queue name>`` -> ``{"tasks": [{"name", "url", "method",
  "gave_up_at", "dispatch_count", "attempts": [{"time", "status", "latency_ms", "error",
  "response_head"}]}]}``: tasks whose retries ran out (``tasks failed``).
- ``POST /v1/reset`` -> ``{"queues_deleted": n, "tasks_deleted": m}``: empty the engine
  (``engine reset``).

These views exist only on the local engine; on Cloud Tasks the same facts are in Cloud Logging.
"""

from __future__ import annotations

import json
from typing import Any

from tasksctl.errors import EngineUnavailable, TasksctlError
from tasksctl.settings import Settings

TIMEOUT = 10.0
STATUS_TIMEOUT = 5.0
CLOUD_LOGGING_HINT = (
    "in production, failed attempts are in Cloud Logging: "
    "gcloud logging read 'resource.type=\"cloud_tasks_queue\"'"
)


class SidePortError(TasksctlError):
    """The local engine's HTTP side port did not answer as expected."""


def _tail(hint: str | None) -> str:
    return f"; {hint}." if hint else "."


def base_url(settings: Settings, what: str, hint: str | None = None) -> str:
    """The side-port URL, or a one-line error saying ``what`` exists only locally."""
    if settings.engine_http is None:
        raise SidePortError(
            f"{what} exists only on the local engine (the backend is {settings.backend})"
            + _tail(hint)
        )
    return settings.engine_http


def seconds_text(seconds: float) -> str:
    """A number of seconds as the side port reads a duration: fixed-point, to the microsecond
    (``repr(1e-05)`` would be ``"1e-05"``, which is not a duration)."""
    return f"{seconds:.6f}"


def fetch_json(
    base: str,
    path: str,
    method: str = "GET",
    timeout: float = TIMEOUT,
    body: dict[str, Any] | None = None,
) -> Any:
    """One request to ``base + path`` (a POST carries ``body`` as JSON); the decoded answer.

    Raises ``urllib.error.HTTPError`` for a non-2xx answer, ``OSError`` when nothing answers
    and ``ValueError`` for a body that is not JSON; callers word the error for their command.
    """
    import urllib.request

    data = json.dumps(body or {}).encode() if method == "POST" else None
    request = urllib.request.Request(base + path, method=method, data=data)
    request.add_header("Accept", "application/json")
    if method == "POST":  # the side port refuses state changes that are not JSON (CSRF guard)
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"{}")


def status(http_url: str) -> dict[str, Any]:
    """``GET /v1/status`` of the engine whose side port is ``http_url`` (``engine status``)."""
    try:
        payload = fetch_json(http_url, "/v1/status", timeout=STATUS_TIMEOUT)
    except (OSError, ValueError) as exc:
        raise EngineUnavailable(
            f"The local engine's status port {http_url} did not answer: {exc}"
        ) from None
    if not isinstance(payload, dict):
        raise SidePortError("The local engine's side port sent unexpected JSON for /v1/status.")
    return payload


def call(
    settings: Settings,
    what: str,
    path: str,
    method: str = "GET",
    hint: str | None = None,
    timeout: float = TIMEOUT,
) -> dict[str, Any]:
    """Call ``path`` on the side port and decode its JSON answer; ``hint`` ends errors."""
    import urllib.error

    base = base_url(settings, what, hint)
    try:
        payload = fetch_json(base, path, method, timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise SidePortError(
                f"{what} exists only on the local tasksctl engine, and the engine at "
                f"{base} does not serve {path.split('?')[0]}" + _tail(hint)
            ) from None
        detail = exc.read(300).decode("utf-8", "replace").strip()
        raise SidePortError(
            f"The local engine's side port answered HTTP {exc.code} for {path.split('?')[0]}"
            + (f": {detail}" if detail else ".")
        ) from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SidePortError(
            f"{what} exists only on the local engine, and its side port {base} did not "
            f"answer ({reason}); start it with `tasksctl engine start` or set "
            "TASKSCTL_ENGINE_HTTP" + _tail(hint)
        ) from None
    if not isinstance(payload, dict):
        raise SidePortError(f"The local engine's side port sent unexpected JSON for {path}.")
    return payload
