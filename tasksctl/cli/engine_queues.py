"""Apply a queues file to the local engine (``tasksctl engine run|start --queues queues.yaml``).

The file is applied the way any client would: an official ``CloudTasksClient`` on a loopback
channel to the engine's gRPC port runs the declarative library (load, plan, apply). One code
path: the same validation, update masks and messages as ``tasksctl apply``, and the servicer
stays the only writer of queues.

- ``engine run --queues``: the CLI parses the file before the engine starts (a bad file,
  ``file:line: field: problem``, exits 2 before anything listens) and hands the engine a
  start-up hook (``EngineConfig.preload``) that applies it after the gRPC port listens and
  before the state files and the ready line, so a client that saw the engine ready sees the
  queues. A failed RPC (exit 1) stops the start-up.
- ``engine start --queues`` on an engine that already runs applies the file to it at once.
- Missing queues are created and changed ones updated; queues already in the data dir that the
  file does not list are kept (no prune at start-up).
- Queues that name no project/location get ``$TASKSCTL_PROJECT`` / ``$TASKSCTL_LOCATION`` when
  set (what ``tasksctl engine env-init`` exports to clients), else ``local-project`` /
  ``us-central1`` (``tasksctl.constants``).
"""

from __future__ import annotations

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
    from tasksctl.declarative.spec import QueueFile

log = logging.getLogger("tasksctl.engine")

Report = Callable[[str], None]


def load_queues_file(
    path: str | Path, *, env: Mapping[str, str] | None = None, warn: Report = log.warning
) -> QueueFile:
    """Read and validate ``path`` completely (raises UsageError); its warnings go to ``warn``."""
    from tasksctl.declarative.spec import load_file

    project, location = default_scope(os.environ if env is None else env)
    queue_file = load_file(path, project, location)
    for warning in queue_file.warnings:
        warn(warning)
    return queue_file


def apply_queue_file(
    queue_file: QueueFile, path: str | Path, address: str, *, info: Report = log.info
) -> ApplyResult:
    """Make the engine at ``address`` match the parsed ``queue_file``; raises TasksctlError."""
    from tasksctl.client import insecure_client
    from tasksctl.declarative.apply import apply_plan, plan_file
    from tasksctl.declarative.render_plan import action_message

    client: Any = insecure_client(address)
    try:
        try:
            plan = plan_file(client, queue_file)
        except TasksctlError:
            raise
        except Exception as exc:
            raise _translated(exc) from exc

        def report(action: Action) -> None:
            info(action_message(action))

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
    queue_file = load_queues_file(path, env=env, warn=warn)
    return apply_queue_file(queue_file, path, address, info=info)


def preload_hook(path: str | Path, queue_file: QueueFile) -> Callable[[str], object]:
    """The engine's start-up hook (``EngineConfig.preload``) that applies ``queue_file``."""

    def preload(address: str) -> ApplyResult:
        return apply_queue_file(queue_file, path, address)

    return preload


def default_scope(env: Mapping[str, str]) -> tuple[str, str]:
    """Project and location for queues whose file names none (see the module docstring)."""
    project = env.get(ENV_PROJECT, "").strip() or LOCAL_DEFAULT_PROJECT
    location = env.get(ENV_LOCATION, "").strip() or LOCAL_DEFAULT_LOCATION
    return project, location


def _translated(exc: Exception) -> TasksctlError:
    from tasksctl.errors import from_api_exception

    error = from_api_exception(exc)
    if error is None:
        return TasksctlError(f"Applying the queues file failed: {type(exc).__name__}: {exc}")
    return error
