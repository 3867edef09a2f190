"""``tasksctl engine clock show|advance|set`` and the time-control flags, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import EngineProcess, engine_cli

START = "2030-01-01T00:00:00Z"


@pytest.fixture
def manual_env(engine_factory: Any, cli_env: dict[str, str]) -> dict[str, str]:
    engine: EngineProcess = engine_factory("--clock", "manual", "--clock-start", START)
    return {**cli_env, "TASKSCTL_ENDPOINT": engine.address, "TASKSCTL_ENGINE_HTTP": engine.http_url}


def test_clock_show_advance_and_set_move_a_manual_engine(
    run_cli: Any, manual_env: dict[str, str]
) -> None:
    shown = run_cli("engine", "clock", "show", "--format", "json", env=manual_env)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["mode"] == "manual"
    assert json.loads(shown.stdout)["now"] == "2030-01-01T00:00:00.000000Z"

    moved = run_cli("engine", "clock", "advance", "1d12h", "--format", "json", env=manual_env)
    assert moved.returncode == 0, moved.stderr
    assert json.loads(moved.stdout)["now"] == "2030-01-02T12:00:00.000000Z"

    # A step smaller than 0.1 ms still goes as a duration (repr() would send "1e-05").
    moved = run_cli("engine", "clock", "advance", "0.00001", "--format", "json", env=manual_env)
    assert moved.returncode == 0, moved.stderr
    assert json.loads(moved.stdout)["now"] == "2030-01-02T12:00:00.000010Z"

    moved = run_cli("engine", "clock", "set", "2030-02-01T08:00:00Z", env=manual_env)
    assert moved.returncode == 0, moved.stderr
    assert "2030-02-01T08:00:00.000000Z" in moved.stdout

    back = run_cli("engine", "clock", "set", START, env=manual_env)
    assert back.returncode == 1
    assert "only moves forward" in back.stderr


def test_clock_advance_refuses_a_bad_duration(run_cli: Any, manual_env: dict[str, str]) -> None:
    done = run_cli("engine", "clock", "advance", "soon", env=manual_env)
    assert done.returncode == 2
    assert "soon" in done.stderr and "Traceback" not in done.stderr


def test_clock_advance_on_the_real_clock_says_how_to_get_a_manual_one(run_cli: Any) -> None:
    done = run_cli("engine", "clock", "advance", "10m")
    assert done.returncode == 1
    assert "--clock manual" in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("--clock", "sundial"),
        ("--clock-start", START),  # needs --clock manual
        ("--clock", "manual", "--clock-start", "tomorrow"),
        ("--redeliver", "1.5"),
    ],
)
def test_bad_time_control_flags_are_usage_errors(args: tuple[str, ...], tmp_path: Any) -> None:
    ports = ("--port", "0", "--http-port", "0")  # never the default ports, should it start
    done = engine_cli({"PATH": "/usr/bin:/bin"}, "run", "--data-dir", str(tmp_path), *ports, *args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr


def test_engine_start_passes_the_clock_flags_to_the_daemon(daemon_env: dict[str, str]) -> None:
    started = engine_cli(daemon_env, "start", "--clock", "manual", "--clock-start", START,
                         "--redeliver", "0.25")  # fmt: skip
    assert started.returncode == 0, started.stderr
    env = {**daemon_env, "TASKSCTL_ENGINE_HTTP":
           f"http://127.0.0.1:{daemon_env['TASKSCTL_ENGINE_HTTP_PORT']}"}  # fmt: skip
    shown = subprocess.run(
        [sys.executable, "-m", "tasksctl", "engine", "clock", "show", "--format", "json"],
        env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    state = json.loads(shown.stdout)
    assert (state["mode"], state["now"], state["redeliver"]) == (
        "manual", "2030-01-01T00:00:00.000000Z", 0.25,
    )  # fmt: skip
