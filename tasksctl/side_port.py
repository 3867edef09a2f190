"""Calls to the local engine's HTTP side port (stdlib ``urllib``: keeps CLI start-up light).

Routes used by the CLI (served by the engine's dispatcher integration):

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

from tasksctl.errors import TasksctlError
from tasksctl.settings import Settings

TIMEOUT = 10.0
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
    import urllib.request

    base = base_url(settings, what, hint)
    url = base + path
    request = urllib.request.Request(url, method=method, data=b"{}" if method == "POST" else None)
    request.add_header("Accept", "application/json")
    if method == "POST":  # the side port refuses state changes that are not JSON (CSRF guard)
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.loads(response.read() or b"{}")
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
