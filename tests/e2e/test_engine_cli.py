"""``tasksctl engine run | start | status | env-init | logs | stop`` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import socket
from pathlib import Path
from typing import Any

from tests.conftest import engine_cli, free_port, make_client

PARENT = "projects/cli-engine/locations/us-central1"


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
    as_json = json.loads(engine_cli(daemon_env, "status", "--format", "json").stdout)
    assert (as_json["queues"], as_json["tasks"], as_json["grpc_address"]) == (1, 1, address)
    assert as_json["dedup_window_seconds"] == 600

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
