"""Names and defaults shared by the CLI and the engine, kept in one place."""

from __future__ import annotations

import os
from pathlib import Path

# Environment variables read by the CLI (flag > environment > config file > default).
ENV_PROJECT = "TASKSCTL_PROJECT"
ENV_LOCATION = "TASKSCTL_LOCATION"
ENV_BACKEND = "TASKSCTL_BACKEND"
ENV_ENDPOINT = "TASKSCTL_ENDPOINT"
ENV_CONFIG_DIR = "TASKSCTL_CONFIG_DIR"
ENV_NO_AUTOSTART = "TASKSCTL_NO_AUTOSTART"
# Base URL of the local engine's HTTP side port (``tasks failed``, ``engine reset``).
ENV_ENGINE_HTTP = "TASKSCTL_ENGINE_HTTP"
# The variable Firebase tools use to point Cloud Tasks clients at an emulator.
ENV_EMULATOR_HOST = "CLOUD_TASKS_EMULATOR_HOST"

# Environment variables read by the engine (flags win over them).
ENV_ENGINE_HOST = "TASKSCTL_ENGINE_HOST"
ENV_ENGINE_PORT = "TASKSCTL_ENGINE_PORT"
ENV_ENGINE_HTTP_PORT = "TASKSCTL_ENGINE_HTTP_PORT"
ENV_ENGINE_DURABILITY = "TASKSCTL_ENGINE_DURABILITY"
ENV_DATA_DIR = "TASKSCTL_DATA_DIR"

DEFAULT_ENGINE_HOST = "127.0.0.1"
DEFAULT_GRPC_PORT = 8123
DEFAULT_HTTP_PORT = 8124

# Project and location used against the local engine when none is configured.
LOCAL_DEFAULT_PROJECT = "local-project"
LOCAL_DEFAULT_LOCATION = "us-central1"

BACKEND_LOCAL = "local"
BACKEND_CLOUD = "cloud"
BACKENDS = (BACKEND_LOCAL, BACKEND_CLOUD)


def default_data_dir() -> Path:
    """The engine's data dir: ``$TASKSCTL_DATA_DIR`` or ``$XDG_DATA_HOME/tasksctl``."""
    if explicit := os.environ.get(ENV_DATA_DIR):
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "tasksctl"


def default_config_dir() -> Path:
    """The CLI's config dir: ``$TASKSCTL_CONFIG_DIR`` or ``$XDG_CONFIG_HOME/tasksctl``."""
    if explicit := os.environ.get(ENV_CONFIG_DIR):
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "tasksctl"
