"""pytest plugin: a local Cloud Tasks engine with time under the test's control.

Installed with tasksctl (entry point ``pytest11: tasksctl``); disable it with ``-p no:tasksctl``.
Nothing happens until a test asks for a fixture: then one engine per clock mode is started for
the session (``python -m tasksctl engine run`` on free loopback ports, data in a temporary
directory) and stopped at the end.

Fixtures:

* ``tasks_engine``: a :class:`TasksEngine` handle on an emptied engine (``reset()`` before each
  test), with ``CLOUD_TASKS_EMULATOR_HOST``, ``TASKSCTL_ENDPOINT``, ``TASKSCTL_ENGINE_HTTP``,
  ``TASKSCTL_PROJECT``, ``TASKSCTL_LOCATION`` and ``TASKSCTL_NO_AUTOSTART`` set for the code under
  test (restored after). ``advance("2d")``, ``set_time(...)``, ``now()``, ``wait_empty(queue)``,
  ``attempts(task or queue)``, ``redeliver(fraction)``, ``reset()``.
* ``tasks_client``: Google's ``CloudTasksClient`` connected to that engine.

Configuration: ``@pytest.mark.tasksctl(clock="real", redeliver=1.0)`` per test; the ini options
``tasksctl_clock`` (``manual``, the default, or ``real``), ``tasksctl_clock_start`` (RFC 3339),
``tasksctl_project``, ``tasksctl_location`` and ``tasksctl_engine_args`` for the session; the
command-line flag ``--tasksctl-clock`` overrides the ini value.

This module is imported by every pytest run where tasksctl is installed: it imports only the
standard library and pytest at import time; gRPC and the client library load inside fixtures.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import subprocess

READY_PREFIX = "tasksctl engine ready"
CLOCKS = ("manual", "real")
DEFAULT_PROJECT = "test-project"
DEFAULT_LOCATION = "us-central1"
START_TIMEOUT_S = 30.0
HTTP_TIMEOUT_S = 60.0
# A clock move waits for every attempt it makes; a hanging handler holds it up to its
# dispatch_deadline (real time, 10 minutes by default).
MOVE_TIMEOUT_S = 900.0
# What the code under test reads (``tasksctl engine env-init`` prints the same names).
ENV_NAMES = (
    "CLOUD_TASKS_EMULATOR_HOST",
    "TASKSCTL_ENDPOINT",
    "TASKSCTL_ENGINE_HTTP",
    "TASKSCTL_PROJECT",
    "TASKSCTL_LOCATION",
    "TASKSCTL_NO_AUTOSTART",
)


class EngineError(RuntimeError):
    """The engine refused a request or did not start."""


class TasksEngine:
    """A handle on a running engine: its addresses, its clock, its attempt history."""

    def __init__(
        self, grpc_address: str, http_url: str, clock: str, project: str, location: str
    ) -> None:
        self.grpc_address = grpc_address
        self.http_url = http_url
        self.clock = clock
        self.project = project
        self.location = location
        self._client: Any = None

    # -- what the code under test needs -----------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """The environment variables pointing client code at this engine."""
        return {
            "CLOUD_TASKS_EMULATOR_HOST": self.grpc_address,
            "TASKSCTL_ENDPOINT": self.grpc_address,
            "TASKSCTL_ENGINE_HTTP": self.http_url,
            "TASKSCTL_PROJECT": self.project,
            "TASKSCTL_LOCATION": self.location,
            "TASKSCTL_NO_AUTOSTART": "1",
        }

    @property
    def location_path(self) -> str:
        return f"projects/{self.project}/locations/{self.location}"

    def queue_path(self, queue_id: str) -> str:
        """``projects/P/locations/L/queues/QUEUE_ID`` (a full name is returned unchanged)."""
        return queue_id if "/" in queue_id else f"{self.location_path}/queues/{queue_id}"

    def client(self) -> Any:
        """Google's ``CloudTasksClient`` over an insecure channel to the engine (cached)."""
        if self._client is None:
            import grpc
            from google.cloud import tasks_v2
            from google.cloud.tasks_v2.services.cloud_tasks.transports import (
                CloudTasksGrpcTransport,
            )

            channel = grpc.insecure_channel(self.grpc_address)
            transport = CloudTasksGrpcTransport(channel=channel)
            self._client = tasks_v2.CloudTasksClient(transport=transport)
        return self._client

    def create_queue(self, queue_id: str, **fields: Any) -> str:
        """Create a queue (``fields`` as the ``Queue`` dict form); returns its full name."""
        name = self.queue_path(queue_id)
        self.client().create_queue(parent=self.location_path, queue={"name": name, **fields})
        return name

    # -- time -------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The engine's current time (virtual under the manual clock)."""
        return _parse_time(self.call("GET", "/v1/clock")["now"])

    def advance(self, by: str | float | timedelta) -> dict[str, Any]:
        """Move the manual clock forward by ``by`` (``"10m"``, seconds, or a timedelta).

        Returns once every attempt falling due up to the new time was made, in time order, and
        its outcome recorded, retries included. The answer is the engine's JSON (``now``,
        ``attempts``: how many attempts were made).
        """
        from tasksctl.side_port import seconds_text

        seconds = by.total_seconds() if isinstance(by, timedelta) else by
        text = seconds if isinstance(seconds, str) else seconds_text(seconds)
        answer: dict[str, Any] = self.call(
            "POST", "/v1/clock:advance", {"by": text}, timeout=MOVE_TIMEOUT_S
        )
        return answer

    def set_time(self, when: datetime | str) -> dict[str, Any]:
        """Move the manual clock forward to ``when`` (aware datetime or RFC 3339 text)."""
        text = when if isinstance(when, str) else _format_time(when)
        answer: dict[str, Any] = self.call(
            "POST", "/v1/clock:set", {"time": text}, timeout=MOVE_TIMEOUT_S
        )
        return answer

    # -- observing and controlling ----------------------------------------------------------

    def attempts(self, name: str) -> list[dict[str, Any]]:
        """The recorded attempts of a task (full name) or of every task of a queue, oldest first.

        Each is a dict: ``task``, ``queue``, ``schedule_time``, ``dispatch_time`` (engine clock,
        RFC 3339), ``status`` (HTTP status or None), ``error``, ``retry_count``,
        ``execution_count``, ``redelivery`` (True for an ``--redeliver`` drill), ``outcome``.
        """
        import urllib.parse

        key = "task" if "/tasks/" in name else "queue"
        query = urllib.parse.urlencode({key: self.queue_path(name) if key == "queue" else name})
        attempts: list[dict[str, Any]] = self.call("GET", f"/v1/attempts?{query}")["attempts"]
        return attempts

    def wait_empty(self, queue: str, timeout: float = 10.0) -> None:
        """Wait (real time) until ``queue`` holds no task and nothing of it is in flight.

        Under the manual clock, tasks scheduled in the future stay until :meth:`advance` moves
        time past them; waiting for them times out.
        """
        import urllib.parse

        name = self.queue_path(queue)
        query = urllib.parse.urlencode({"queue": name})
        deadline = time.monotonic() + timeout
        while True:
            state = self.call("GET", f"/v1/queue-activity?{query}")
            if not state["tasks"] and not state["in_flight"] and not state["redeliveries"]:
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{name} still has {state['tasks']} task(s), {state['in_flight']} in flight "
                    f"and {state['redeliveries']} redelivery(ies) pending after {timeout:g}s"
                    + (" (the manual clock stands still: advance it)" if self.clock == "manual"
                       else "")
                )  # fmt: skip
            time.sleep(0.01)

    def redeliver(self, fraction: float) -> None:
        """Deliver ``fraction`` (0..1) of the successful tasks once more, a little later."""
        self.call("POST", "/v1/redeliver", {"fraction": str(fraction)})

    def reset(self) -> None:
        """Empty the engine: queues, tasks, reserved names and the attempt history.

        The clock keeps its time (time never moves backwards).
        """
        self.call("POST", "/v1/reset")

    def call(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        timeout: float = HTTP_TIMEOUT_S,
    ) -> Any:
        """One side-port request; the decoded JSON answer or :class:`EngineError`."""
        import urllib.error
        import urllib.parse

        from tasksctl.side_port import fetch_json

        if method != "POST" and params:  # a POST carries its params as a JSON body
            path += ("&" if "?" in path else "?") + urllib.parse.urlencode(params)
        try:
            return fetch_json(self.http_url, path, method, timeout, body=params)
        except urllib.error.HTTPError as exc:
            detail = exc.read(500).decode("utf-8", "replace")
            try:
                detail = json.loads(detail).get("error", detail)
            except (ValueError, AttributeError):
                pass
            raise EngineError(f"{method} {path}: HTTP {exc.code}: {detail}") from None


class _EngineProcess:
    """One ``tasksctl engine run`` child process with its own temporary data dir."""

    def __init__(self, clock: str, clock_start: str | None, extra: list[str]) -> None:
        import subprocess
        import sys
        import tempfile

        self.clock = clock
        self.dir = Path(tempfile.mkdtemp(prefix=f"tasksctl-{clock}-"))
        args = [
            sys.executable, "-m", "tasksctl", "engine", "run", "--host", "127.0.0.1",
            "--port", "0", "--http-port", "0", "--data-dir", str(self.dir / "data"),
            "--clock", clock, "--log-level", "warning", *extra,
        ]  # fmt: skip
        if clock_start:
            args += ["--clock-start", clock_start]
        self.log_path = self.dir / "engine.log"
        self._log = open(self.log_path, "a")
        env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
        self.proc: subprocess.Popen[str] = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL, text=True,
            env=env,
        )  # fmt: skip
        self.grpc_address, self.http_url = self._wait_ready()

    def _wait_ready(self) -> tuple[str, str]:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith(READY_PREFIX):
                fields = dict(p.split("=", 1) for p in line.split() if "=" in p)
                return fields["grpc"], fields["http"]
            if not line and self.proc.poll() is not None:
                break
        self.stop()
        log = self.log_path.read_text(errors="replace")[-2000:]
        raise EngineError(f"the tasksctl engine did not start:\n{log}")

    def stop(self) -> None:
        import shutil
        import signal
        import subprocess

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class EnginePool:
    """The session's engines, one per clock mode, started on first use."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._procs: dict[str, _EngineProcess] = {}
        self._handles: dict[str, TasksEngine] = {}

    @property
    def default_clock(self) -> str:
        chosen = self.config.getoption("tasksctl_clock") or self.config.getini("tasksctl_clock")
        return str(chosen or "manual")

    def get(self, clock: str | None = None) -> TasksEngine:
        clock = clock or self.default_clock
        if clock not in CLOCKS:
            raise pytest.UsageError(f"tasksctl clock must be manual or real, not {clock!r}")
        if clock not in self._handles:
            extra = list(self.config.getini("tasksctl_engine_args"))
            start = str(self.config.getini("tasksctl_clock_start") or "") or None
            proc = _EngineProcess(clock, start if clock == "manual" else None, extra)
            self._procs[clock] = proc
            self._handles[clock] = TasksEngine(
                proc.grpc_address, proc.http_url, clock,
                str(self.config.getini("tasksctl_project") or DEFAULT_PROJECT),
                str(self.config.getini("tasksctl_location") or DEFAULT_LOCATION),
            )  # fmt: skip
        return self._handles[clock]

    def close(self) -> None:
        for proc in self._procs.values():
            proc.stop()
        self._procs.clear()
        self._handles.clear()


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _format_time(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError("set_time needs an aware datetime (e.g. datetime(..., tzinfo=UTC))")
    return when.isoformat().replace("+00:00", "Z")


# -- hooks and fixtures ------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tasksctl", "tasksctl local Cloud Tasks engine")
    group.addoption(
        "--tasksctl-clock", dest="tasksctl_clock", choices=CLOCKS, default=None,
        help="Clock of the tasksctl test engine (default: the tasksctl_clock ini value, manual).",
    )  # fmt: skip
    parser.addini("tasksctl_clock", "tasksctl engine clock: manual (default) or real", "string")
    parser.addini("tasksctl_clock_start", "manual clock start time (RFC 3339)", "string")
    parser.addini("tasksctl_project", "project of the fixtures' names", "string")
    parser.addini("tasksctl_location", "location of the fixtures' names", "string")
    parser.addini("tasksctl_engine_args", "extra `tasksctl engine run` arguments", "args")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "tasksctl(clock='manual'|'real', redeliver=FRACTION): the tasksctl engine this test "
        "gets (tasks_engine fixture)",
    )


@pytest.fixture(scope="session")
def tasks_engine_pool(request: pytest.FixtureRequest) -> Iterator[EnginePool]:
    """The session's engines (started lazily, stopped at the end of the session)."""
    pool = EnginePool(request.config)
    yield pool
    pool.close()


@pytest.fixture
def tasks_engine(
    tasks_engine_pool: EnginePool, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TasksEngine]:
    """An emptied engine and the environment pointing the code under test at it."""
    marker = request.node.get_closest_marker("tasksctl")
    options = dict(marker.kwargs) if marker is not None else {}
    engine = tasks_engine_pool.get(options.get("clock"))
    engine.reset()
    fraction = float(options.get("redeliver", 0.0))
    engine.redeliver(fraction)
    for name, value in engine.env.items():
        monkeypatch.setenv(name, value)
    yield engine
    if fraction:
        engine.redeliver(0.0)


@pytest.fixture
def tasks_client(tasks_engine: TasksEngine) -> Any:
    """Google's ``CloudTasksClient`` connected to the ``tasks_engine``."""
    return tasks_engine.client()
