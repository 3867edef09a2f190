"""``engine reset``: empty the local engine (every queue, task and reserved name) for CI.

Calls ``POST /v1/reset`` on the engine's HTTP side port, which answers
``{"queues_deleted": n, "tasks_deleted": m}``. Asks first unless ``--quiet``; refused on the
cloud backend, where nothing should ever be emptied by a test helper.
"""

from __future__ import annotations

from typing import Any

from tasksctl.cli.context import Cli
from tasksctl.errors import TasksctlError


def reset(cli: Cli) -> None:
    """Delete every queue, task and reserved name of the local engine (asks unless --quiet)."""
    from tasksctl import constants as c
    from tasksctl import side_port

    settings = cli.settings
    if settings.endpoint is None and settings.backend != c.BACKEND_LOCAL:
        raise TasksctlError(
            "`engine reset` empties the local engine only; it is refused on the "
            f"{settings.backend} backend."
        )
    url = side_port.base_url(settings, "`engine reset`")
    cli.out.confirm(
        f"This deletes every queue and task of the local engine at [{url}]. Do you want to continue"
    )
    payload = side_port.call(settings, "`engine reset`", "/v1/reset", method="POST")
    queues = int(payload.get("queues_deleted", 0))
    tasks = int(payload.get("tasks_deleted", 0))
    cli.out.status(f"Reset the local engine: deleted {queues} queue(s) and {tasks} task(s).")


def register(app: Any) -> None:
    """Add ``reset`` to the ``engine`` group (a ``TasksctlTyper``: it adds the global flags)."""
    app.command("reset")(reset)
