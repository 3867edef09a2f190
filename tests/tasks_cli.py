"""Helpers shared by the ``tasks`` CLI tests: an in-process runner and result checks.

    from tests.tasks_cli import error_line, ok, tasksctl_fixture
    tasksctl = tasksctl_fixture()

``tasksctl(*args)`` runs the real click invocation (the root app and its error funnel) in this
process against the session engine, like ``tests/e2e/test_cli_queues.py``.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from typing import Any

import pytest
from typer.testing import CliRunner

from tasksctl.cli.app import app

PROJECT = "test-project"
LOCATION = "us-central1"
ENV_KEYS = (
    "TASKSCTL_ENDPOINT",
    "TASKSCTL_ENGINE_HTTP",
    "TASKSCTL_PROJECT",
    "TASKSCTL_LOCATION",
    "TASKSCTL_CONFIG_DIR",
    "TASKSCTL_NO_AUTOSTART",
    "NO_COLOR",
)


def tasksctl_fixture() -> Any:
    """A fixture named like the assignment target: ``tasksctl = tasksctl_fixture()``."""

    @pytest.fixture
    def _tasksctl(cli_env: dict[str, str]) -> Any:
        runner = CliRunner()
        base: dict[str, str | None] = {k: cli_env[k] for k in ENV_KEYS}
        base.update(CLOUD_TASKS_EMULATOR_HOST=None, TASKSCTL_BACKEND=None)

        def run(
            *args: str, input: str | bytes | None = None, env: dict[str, str | None] | None = None
        ) -> Any:
            return runner.invoke(app, list(args), input=input, env={**base, **(env or {})})

        return run

    return _tasksctl


def ok(result: Any) -> Any:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def error_line(result: Any, command: str) -> str:
    """The one ``ERROR: (tasksctl.tasks.x) ...`` line of a failed run, without the prefix."""
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    prefix = f"ERROR: (tasksctl.{command}) "
    assert lines[0].startswith(prefix), lines[0]
    return str(lines[0][len(prefix) :])


def full_name(queue: str, task: str) -> str:
    return f"projects/{PROJECT}/locations/{LOCATION}/queues/{queue}/tasks/{task}"


def run_on_terminal(args: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    """Run the real command with stderr on a pseudo-terminal; returns (exit code, stderr)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tasksctl", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=slave,
            env={**env, "TERM": "xterm", "COLUMNS": "100"},
        )
        os.close(slave)
        slave = -1
        chunks: list[bytes] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            data = b""
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed its end of the terminal
                    data = b""
            if data:
                chunks.append(data)
            elif proc.poll() is not None:
                break
        proc.wait(5)
        return proc.returncode, b"".join(chunks).decode("utf-8", "replace")
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
