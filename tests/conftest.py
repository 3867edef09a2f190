"""Shared fixtures for every tier: a real engine process on free loopback ports, the official
client, the CLI. Helpers beside this file (sink.py, terminal.py, tasks_cli.py) are imported as
``tests.sink`` etc. from any tier."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PROJECT = "test-project"
LOCATION = "us-central1"
READY_PREFIX = "tasksctl engine ready"
TIERS = ("unit", "integration", "e2e")


def _hypothesis_profiles() -> None:
    """On CI, property tests replay the same examples every run (a red CI is then a real bug,
    reproducible from the log); on a developer's machine they keep exploring new ones."""
    try:
        from hypothesis import settings
    except ImportError:  # the test extra is not installed; the property tests skip
        return
    settings.register_profile("ci", derandomize=True, print_blob=True)
    if os.environ.get("CI"):
        settings.load_profile("ci")


_hypothesis_profiles()


def pytest_configure(config: pytest.Config) -> None:
    """Load tasksctl's pytest plugin when the installed entry point is missing.

    An editable install made before the plugin existed has no ``pytest11`` entry point; the
    tests of the plugin (tests/integration/test_time_control.py) need its fixtures anyway.
    """
    manager = config.pluginmanager
    if manager.get_plugin("tasksctl") is None and not manager.is_blocked("tasksctl"):
        from tasksctl import pytest_plugin

        manager.register(pytest_plugin, "tasksctl")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with its tier, taken from its folder (tests/unit, tests/integration, ...)."""
    here = Path(__file__).resolve().parent
    for item in items:
        try:
            tier = item.path.resolve().relative_to(here).parts[0]
        except ValueError:
            continue
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EngineProcess:
    """A `tasksctl engine run` child process on free loopback ports with its own data dir."""

    CLI_ENTRY = ("-m", "tasksctl", "engine", "run")
    ENGINE_ENTRY = ("-m", "tasksctl.engine", "run")  # the engine alone, without the CLI

    def __init__(
        self, data_dir: Path, *extra_args: str, entry: tuple[str, ...] = CLI_ENTRY
    ) -> None:
        self.entry = entry
        self.data_dir = data_dir
        self.extra_args = list(extra_args)
        self.port = free_port()
        self.http_port = free_port()
        self.proc: subprocess.Popen[str] | None = None
        self.ready_line = ""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, timeout: float = 30.0) -> EngineProcess:
        args = [
            sys.executable, *self.entry,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--http-port", str(self.http_port), "--data-dir", str(self.data_dir),
            *self.extra_args,
        ]  # fmt: skip
        log = open(self.data_dir.parent / f"{self.data_dir.name}-{self.port}.log", "a")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True)
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith(READY_PREFIX):
                self.ready_line = line.strip()
                return self
            if not line and self.proc.poll() is not None:
                break
        self.kill()
        raise RuntimeError(f"engine did not become ready; see {log.name}")

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self._close()

    def kill(self) -> None:
        """SIGKILL: the crash case."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._close()

    def restart(self) -> EngineProcess:
        self.stop()
        return self.start()

    def _close(self) -> None:
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    """One engine for the whole session (short dedup window so tests can wait it out)."""
    data_dir = tmp_path_factory.mktemp("engine") / "data"
    proc = EngineProcess(data_dir, "--dedup-window", "2s", entry=EngineProcess.ENGINE_ENTRY).start()
    yield proc
    proc.stop()


@pytest.fixture
def engine_factory(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Start private engines (for restart and kill tests); all are stopped at the end.

    The integration tier runs the engine's own entry point (``python -m tasksctl.engine run``:
    no CLI to import, so it starts faster); e2e tests run ``tasksctl engine run`` as a user does.
    """
    started: list[EngineProcess] = []
    alone = request.node.get_closest_marker("integration") is not None

    def make(*extra_args: str, data_dir: Path | None = None) -> EngineProcess:
        entry = EngineProcess.ENGINE_ENTRY if alone else EngineProcess.CLI_ENTRY
        proc = EngineProcess(data_dir or tmp_path / f"data{len(started)}", *extra_args, entry=entry)
        started.append(proc)
        return proc.start()

    yield make
    for proc in started:
        proc.kill()


def make_client(address: str) -> Any:
    """The official synchronous client over insecure gRPC, as a user would build it."""
    import grpc
    from google.cloud import tasks_v2
    from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

    channel = grpc.insecure_channel(address)
    return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))


@pytest.fixture(scope="session")
def client(engine: EngineProcess) -> Any:
    return make_client(engine.address)


@pytest.fixture
def unique() -> str:
    """A short unique suffix for resource IDs, so tests sharing an engine never collide."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def location_path() -> str:
    return f"projects/{PROJECT}/locations/{LOCATION}"


@pytest.fixture
def queue_path(client: Any, location_path: str, unique: str) -> str:
    """A fresh, existing queue with default settings."""
    name = f"{location_path}/queues/q-{unique}"
    client.create_queue(parent=location_path, queue={"name": name})
    return name


@pytest.fixture
def cli_env(engine: EngineProcess, tmp_path: Path) -> dict[str, str]:
    """Environment pointing the CLI at the session engine with an isolated config dir."""
    env = dict(os.environ)
    env.update(
        TASKSCTL_ENDPOINT=engine.address,
        TASKSCTL_ENGINE_HTTP=engine.http_url,
        TASKSCTL_PROJECT=PROJECT,
        TASKSCTL_LOCATION=LOCATION,
        TASKSCTL_CONFIG_DIR=str(tmp_path / "config"),
        TASKSCTL_NO_AUTOSTART="1",
        NO_COLOR="1",
        COLUMNS="200",
    )
    env.pop("CLOUD_TASKS_EMULATOR_HOST", None)
    return env


@pytest.fixture
def run_cli(cli_env: dict[str, str]) -> Any:
    """Run the real `tasksctl` command in a subprocess; returns the CompletedProcess."""

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:  # fmt: skip
        return subprocess.run(
            [sys.executable, "-m", "tasksctl", *args],
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            env={**cli_env, **(env or {})},
            timeout=timeout,
        )

    return run


def engine_cli(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``tasksctl engine ARGS`` as a real process with ``env``."""
    return subprocess.run(
        [sys.executable, "-m", "tasksctl", "engine", *args],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


@pytest.fixture
def daemon_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Private ports and data dir through the environment; the daemon is stopped at the end."""
    env = dict(os.environ)
    for name in ("TASKSCTL_PROJECT", "TASKSCTL_LOCATION", "CLOUD_TASKS_EMULATOR_HOST"):
        env.pop(name, None)
    env.update(
        TASKSCTL_DATA_DIR=str(tmp_path / "data"),
        TASKSCTL_ENGINE_HOST="127.0.0.1",
        TASKSCTL_ENGINE_PORT=str(free_port()),
        TASKSCTL_ENGINE_HTTP_PORT=str(free_port()),
    )
    yield env
    engine_cli(env, "stop")
