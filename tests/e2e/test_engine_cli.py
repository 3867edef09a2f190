"""``tasksctl engine run | start | status | env-init | logs | stop`` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import socket
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tasksctl.cli.app import app
from tests.conftest import engine_cli, free_port, make_client

PARENT = "projects/cli-engine/locations/us-central1"


def in_process(env: dict[str, str], *args: str) -> Any:
    """``tasksctl ARGS`` through the root app in this process (same funnel, no start-up cost)."""
    unset = {k: None for k in os.environ if k.startswith("TASKSCTL_") and k not in env}
    return CliRunner().invoke(app, list(args), env={**unset, **env})


def test_daemon_start_status_env_logs_stop(daemon_env: dict[str, str]) -> None:
    address = f"127.0.0.1:{daemon_env['TASKSCTL_ENGINE_PORT']}"
    data_dir = daemon_env["TASKSCTL_DATA_DIR"]

    started = engine_cli(daemon_env, "start", "--dedup-window", "10m")
    assert started.returncode == 0, started.stderr
    assert f"started at {address}" in started.stderr
    assert started.stdout == ""
    again = engine_cli(daemon_env, "start")
    assert again.returncode == 0 and "already running" in again.stderr

    client = make_client(address)
    client.create_queue(parent=PARENT, queue={"name": f"{PARENT}/queues/q"})
    client.create_task(parent=f"{PARENT}/queues/q", task={"http_request": {"url": "http://x/"}})

    status = engine_cli(daemon_env, "status")
    assert status.returncode == 0, status.stderr
    lines = dict(line.split(":", 1) for line in status.stdout.splitlines())
    assert lines["address"].strip() == address
    assert lines["data_dir"].strip() == data_dir
    assert lines["queues"].strip() == "1" and lines["tasks"].strip() == "1"
    assert lines["uptime"].strip().endswith("s") and int(lines["pid"])
    # Without --queues the background engine is the engine's own entry point (no CLI import).
    cmdline = Path(f"/proc/{lines['pid'].strip()}/cmdline").read_bytes().split(b"\0")
    assert cmdline[1:4] == [b"-m", b"tasksctl.engine", b"run"]
    as_json = json.loads(engine_cli(daemon_env, "status", "--format", "json").stdout)
    assert (as_json["queues"], as_json["tasks"], as_json["grpc_address"]) == (1, 1, address)
    assert as_json["dedup_window_seconds"] == 600
    # `status` prints through the shared renderer: --format is the global one.
    value = in_process(daemon_env, "engine", "status", "--format", "value(grpc_address,queues)")
    assert value.stdout == f"{address}\t1\n"
    text = in_process(daemon_env, "engine", "status", "--format", "text")  # gcloud's flattened
    pairs = dict(line.split(":", 1) for line in text.stdout.splitlines())
    assert pairs["grpc_address"].strip() == address and pairs["queues"].strip() == "1"

    env_lines = engine_cli(daemon_env, "env-init").stdout.splitlines()
    assert env_lines == [
        f"export CLOUD_TASKS_EMULATOR_HOST={address}",
        f"export TASKSCTL_ENDPOINT={address}",
        "export TASKSCTL_PROJECT=local-project",
        "export TASKSCTL_LOCATION=us-central1",
    ]
    fish = engine_cli({**daemon_env, "TASKSCTL_PROJECT": "my proj"}, "env-init", "--shell", "fish")
    assert f"set -gx CLOUD_TASKS_EMULATOR_HOST {address};" in fish.stdout
    assert "set -gx TASKSCTL_PROJECT 'my proj';" in fish.stdout

    # `start --queues` on the running engine applies the file; its warnings follow --verbosity.
    queue_yaml = Path(data_dir).parent / "queue.yaml"
    queue_yaml.write_text("total_storage_limit: 1G\nqueue:\n- name: warned\n  rate: 1/s\n")
    loud = in_process(daemon_env, "engine", "start", "--queues", str(queue_yaml))
    assert loud.exit_code == 0, loud.stderr
    assert f"WARNING: {queue_yaml}:1: total_storage_limit: ignored" in loud.stderr
    assert "Created queue [projects/local-project/locations/us-central1/queues/warned]." in (
        loud.stderr
    )
    quiet = in_process(
        daemon_env, "engine", "start", "--queues", str(queue_yaml), "--verbosity", "error"
    )
    assert quiet.exit_code == 0, quiet.stderr
    assert "WARNING" not in quiet.stderr and "is already running" in quiet.stderr

    logs = engine_cli(daemon_env, "logs", "-n", "20")
    assert logs.returncode == 0 and "engine listening" in logs.stdout

    stopped = engine_cli(daemon_env, "stop")
    assert stopped.returncode == 0 and "Stopped the local engine" in stopped.stderr
    assert not (Path(data_dir) / "engine.pid").exists()

    missing = engine_cli(daemon_env, "status")
    assert missing.returncode == 1
    assert missing.stderr.startswith(
        "ERROR: (tasksctl.engine.status) The local engine is not running"
    )
    assert "Traceback" not in missing.stderr and missing.stdout == ""
    stop_again = engine_cli(daemon_env, "stop")
    assert stop_again.returncode == 0 and "not running" in stop_again.stderr


def test_start_reports_why_the_engine_failed(daemon_env: dict[str, str]) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", int(daemon_env["TASKSCTL_ENGINE_HTTP_PORT"])))
        blocker.listen()
        result = engine_cli(daemon_env, "start", "--timeout", "20")
    assert result.returncode == 1
    assert result.stderr.startswith("ERROR: (tasksctl.engine.start) The local engine exited")
    assert "Cannot listen on 127.0.0.1:" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_prints_one_ready_line_and_stops_cleanly(engine_factory: Any) -> None:
    engine = engine_factory()
    assert engine.ready_line == (
        f"tasksctl engine ready grpc={engine.address} http={engine.http_url} data={engine.data_dir}"
    )
    assert (engine.data_dir / "engine.pid").read_text().strip() == str(engine.proc.pid)
    assert engine.stop() == 0
    assert not (engine.data_dir / "engine.json").exists()

    engine.start()
    assert engine.proc is not None
    engine.proc.send_signal(signal.SIGINT)
    assert engine.proc.wait(15) == 0


def test_run_refuses_a_second_engine_on_the_same_data_dir(engine_factory: Any) -> None:
    engine = engine_factory()
    env = dict(os.environ)
    result = engine_cli(
        env, "run", "--port", str(free_port()), "--http-port", str(free_port()),
        "--data-dir", str(engine.data_dir), timeout=30,
    )  # fmt: skip
    assert result.returncode == 1
    assert (
        "ERROR: (tasksctl.engine.run) Another engine is already using the data dir" in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_run_rejects_a_bad_duration(tmp_path: Path) -> None:
    result = engine_cli(
        dict(os.environ), "run", "--data-dir", str(tmp_path), "--dedup-window", "soon"
    )
    assert result.returncode == 2
    assert result.stderr.startswith("ERROR: (tasksctl.engine.run) Invalid value for --dedup-window")


def _no_engine_env(tmp_path: Path) -> dict[str, str]:
    """No engine variables at all: only the config file (in tmp_path) says where the engine is."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TASKSCTL_") and k != "CLOUD_TASKS_EMULATOR_HOST"
    }
    env["TASKSCTL_CONFIG_DIR"] = str(tmp_path / "config")
    return env


def test_engine_commands_read_the_config_file_like_every_command(tmp_path: Path) -> None:
    """Regression: `config set engine_port` used to be ignored by `engine env-init`."""
    env = _no_engine_env(tmp_path)
    data_dir = tmp_path / "data"
    for key, value in (("engine_port", "18333"), ("data_dir", str(data_dir))):
        result = in_process(env, "config", "set", key, value)
        assert result.exit_code == 0, result.stderr

    lines = engine_cli(env, "env-init").stdout.splitlines()
    assert lines[:2] == [
        "export CLOUD_TASKS_EMULATOR_HOST=127.0.0.1:18333",
        "export TASKSCTL_ENDPOINT=127.0.0.1:18333",
    ]
    # The environment beats the config file and a flag beats both, as for every setting.
    env_host = in_process({**env, "TASKSCTL_ENGINE_HOST": "127.0.0.2"}, "engine", "env-init")
    assert "export TASKSCTL_ENDPOINT=127.0.0.2:18333" in env_host.stdout
    flag = in_process(
        {**env, "TASKSCTL_ENGINE_PORT": "18444"}, "engine", "env-init", "--port", "18555"
    )
    assert "export TASKSCTL_ENDPOINT=127.0.0.1:18555" in flag.stdout

    # The data dir comes from the same place: status and logs look there.
    status = in_process(env, "engine", "status")
    assert status.exit_code == 1
    assert f"The local engine is not running (data dir {data_dir})" in status.stderr
    logs = in_process(env, "engine", "logs")
    assert logs.exit_code == 1 and f"no engine log at {data_dir}/engine.log" in logs.stderr


@pytest.mark.parametrize("command", ["run", "start"])
def test_an_unknown_durability_is_a_usage_error(tmp_path: Path, command: str) -> None:
    result = engine_cli(
        dict(os.environ), command, "--data-dir", str(tmp_path), "--durability", "sometimes"
    )
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"ERROR: (tasksctl.engine.{command}) Invalid value for --durability: 'sometimes' "
        "(use process or machine)"
    )
