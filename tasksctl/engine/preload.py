"""Apply a queues file at engine start-up (``tasksctl engine run --queues queues.yaml``).

The engine applies the file to itself the way any client would: an official
``CloudTasksClient`` on a loopback channel to its own gRPC port runs the declarative library
(load, plan, apply). One code path: the same validation, update masks and messages as
``tasksctl apply``, and the servicer stays the only writer of queues. The client is
synchronous, so it runs in a worker thread while the event loop serves its requests.

- Runs after the gRPC server listens and before the state files and the ready line, so a
  client that saw the engine ready (``engine start`` returning, the ready line) sees the queues.
- Creates missing queues and updates changed ones; queues already in the data dir that the file
  does not list are kept (no prune at start-up).
- Queues that name no project/location get ``$TASKSCTL_PROJECT`` / ``$TASKSCTL_LOCATION`` when
  set (what ``tasksctl engine env-init`` exports to clients), else ``local-project`` /
  ``us-central1`` (``tasksctl.constants``).
- A bad file (``file:line: field: problem``, exit 2) or a failed RPC (exit 1) stops the start-up:
  the engine exits with that one line before it serves, and ``engine start`` reports it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasksctl.constants import (
    ENV_LOCATION,
    ENV_PROJECT,
    LOCAL_DEFAULT_LOCATION,
    LOCAL_DEFAULT_PROJECT,
)
from tasksctl.errors import TasksctlError

if TYPE_CHECKING:
    from tasksctl.declarative.apply import ApplyResult
    from tasksctl.declarative.plan import Action
    from tasksctl.engine.config import EngineConfig

log = logging.getLogger("tasksctl.engine")

_PAST = {
    "create": "Created",
    "update": "Updated",
    "pause": "Paused",
    "resume": "Resumed",
    "delete": "Deleted",
}
_WILDCARDS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "[::1]", "[::]": "[::1]"}

Report = Callable[[str], None]


async def preload_queues(config: EngineConfig) -> ApplyResult | None:
    """Apply ``config.queues_file`` (if any) through the engine's own gRPC port."""
    if config.queues_file is None:
        return None
    return await asyncio.to_thread(
        apply_queues_file, config.queues_file, loopback_address(config.host, config.port)
    )


def apply_queues_file(
    path: str | Path,
    address: str,
    *,
    env: Mapping[str, str] | None = None,
    info: Report = log.info,
    warn: Report = log.warning,
) -> ApplyResult:
    """Load ``path`` and make the engine at ``address`` match it; raises TasksctlError.

    The file is read and validated completely before the first request.
    """
    from tasksctl.declarative.apply import apply_plan, plan_file
    from tasksctl.declarative.spec import load_file

    project, location = default_scope(os.environ if env is None else env)
    queue_file = load_file(path, project, location)
    for warning in queue_file.warnings:
        warn(warning)
    client = _client(address)
    try:
        try:
            plan = plan_file(client, queue_file)
        except TasksctlError:
            raise
        except Exception as exc:
            raise _translated(exc) from exc

        def report(action: Action) -> None:
            info(f"{_PAST[action.kind]} queue [{action.name}].")

        result = apply_plan(client, plan, on_action=report)
    finally:
        client.transport.close()
    if result.completed:
        info(f"Queues file {path}: {result.summary()}")
    else:
        count = len(queue_file.queues)
        matches = "1 queue matches" if count == 1 else f"{count} queues match"
        info(f"Queues file {path}: no changes, {matches}.")
    return result


def default_scope(env: Mapping[str, str]) -> tuple[str, str]:
    """Project and location for queues whose file names none (see the module docstring)."""
    project = env.get(ENV_PROJECT, "").strip() or LOCAL_DEFAULT_PROJECT
    location = env.get(ENV_LOCATION, "").strip() or LOCAL_DEFAULT_LOCATION
    return project, location


def loopback_address(host: str, port: int) -> str:
    """Where the engine itself can reach its gRPC port (a wildcard bind means loopback)."""
    host = _WILDCARDS.get(host, host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def _client(address: str) -> Any:
    from tasksctl.client import insecure_client

    return insecure_client(address)


def _translated(exc: Exception) -> TasksctlError:
    from tasksctl.errors import from_api_exception

    error = from_api_exception(exc)
    if error is None:
        return TasksctlError(f"Applying the queues file failed: {type(exc).__name__}: {exc}")
    return error
