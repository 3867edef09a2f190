"""Issue 14.2, 14.5, 14.7: first use in parallel, private files, and start-up faults that must
end fast with one clear line (a data dir that is a file, a port held by something else)."""

from __future__ import annotations

import http.server
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import engine_cli, make_client

PARENT = "projects/startup/locations/us-central1"


def _cli(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tasksctl", *args],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


@pytest.fixture
def first_use_env(daemon_env: dict[str, str]) -> dict[str, str]:
    env = dict(daemon_env)
    env.update(TASKSCTL_PROJECT="startup", TASKSCTL_LOCATION="us-central1", NO_COLOR="1")
    env.pop("TASKSCTL_NO_AUTOSTART", None)
    env.pop("TASKSCTL_ENDPOINT", None)
    return env


def test_ten_parallel_first_commands_share_one_engine(first_use_env: dict[str, str]) -> None:
    procs = [_cli(first_use_env, "queues", "list") for _ in range(10)]
    results = [(p.wait(120), *p.communicate()) for p in procs]
    failures = [(code, err) for code, _, err in results if code != 0]
    assert failures == []
    data_dir = Path(first_use_env["TASKSCTL_DATA_DIR"])
    pid = int((data_dir / "engine.pid").read_text())
    status = engine_cli(first_use_env, "status", "--format", "json")
    assert status.returncode == 0 and f'"pid": {pid}' in status.stdout
    log = (data_dir / "engine.log").read_text()
    assert log.count("engine listening") == 1
    assert "Another engine is already using" not in log


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_dir_and_files_are_private(first_use_env: dict[str, str]) -> None:
    data_dir = Path(first_use_env["TASKSCTL_DATA_DIR"])
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)  # as an older version left it
    stale = data_dir / "engine.log"
    stale.write_text("old log\n")
    os.chmod(stale, 0o644)
    old_umask = os.umask(0o022)
    try:
        started = engine_cli(first_use_env, "start")
    finally:
        os.umask(old_umask)
    assert started.returncode == 0, started.stderr
    address = f"127.0.0.1:{first_use_env['TASKSCTL_ENGINE_PORT']}"
    client = make_client(address)
    client.create_queue(parent=PARENT, queue={"name": f"{PARENT}/queues/q"})
    client.create_task(
        parent=f"{PARENT}/queues/q",
        task={"http_request": {"url": "http://127.0.0.1:9/", "oidc_token": {
            "service_account_email": "a@b.iam.gserviceaccount.com"}}},
    )  # fmt: skip
    assert _mode(data_dir) == 0o700
    names = {p.name for p in data_dir.iterdir()}
    assert {"tasks.db", "tasks.db-wal", "engine.log"} <= names
    loose = {p.name: oct(_mode(p)) for p in data_dir.iterdir() if p.is_file() and _mode(p) & 0o077}
    assert loose == {}


def test_data_dir_that_is_a_file_is_one_clear_error(
    first_use_env: dict[str, str], tmp_path: Path
) -> None:
    not_a_dir = tmp_path / "data-file"
    not_a_dir.write_text("x")
    env = {**first_use_env, "TASKSCTL_DATA_DIR": str(not_a_dir)}
    for args in (("engine", "start"), ("queues", "list")):
        proc = _cli(env, *args)
        code, (_, err) = proc.wait(60), proc.communicate()
        assert code != 0
        assert "is not a directory" in err and "Traceback" not in err
        assert "FileExistsError" not in err


@pytest.fixture
def web_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_autostart_port_held_by_a_web_server_fails_fast(
    first_use_env: dict[str, str], web_server: int
) -> None:
    env = {**first_use_env, "TASKSCTL_ENGINE_PORT": str(web_server)}
    proc = _cli(env, "queues", "list")
    code, (_, err) = proc.wait(60), proc.communicate()
    assert code != 0
    assert "not a tasksctl engine" in err
    assert "RetryError" not in err and "Traceback" not in err
