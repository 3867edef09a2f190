"""Run the engine in the background: start (and wait until it answers), stop, find it.

The CLI (``tasksctl engine start|stop|status``) and the client's autostart use this module; the
engine package never imports it (the engine runs in the child process this module spawns).

The engine writes its own pidfile (``engine.pid``) and state file (``engine.json``) in the data
dir once it listens, and holds an exclusive lock on ``engine.lock`` while it runs; the lock is
what tells a live engine from a stale pidfile left by ``kill -9``. The daemon's stdout and
stderr go to ``engine.log`` in the data dir.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tasksctl.constants import (
    DEFAULT_ENGINE_HOST,
    DEFAULT_GRPC_PORT,
    DEFAULT_HTTP_PORT,
    default_data_dir,
)
from tasksctl.engine.config import LOCK_FILENAME, LOG_FILENAME, STATE_FILENAME
from tasksctl.engine.datadir import FILE_MODE, ensure_data_dir, open_private_append
from tasksctl.errors import EngineUnavailable

START_LOCK_FILENAME = "engine.start.lock"
ENGINE_ENTRY = ("-m", "tasksctl.engine", "run")
CLI_ENTRY = ("-m", "tasksctl", "engine", "run")
PROBE_TIMEOUT = 1.0
_POLL_S = 0.05


@dataclass
class DaemonOptions:
    host: str = DEFAULT_ENGINE_HOST
    port: int = DEFAULT_GRPC_PORT
    http_port: int = DEFAULT_HTTP_PORT
    data_dir: Path = field(default_factory=default_data_dir)
    extra_args: list[str] = field(default_factory=list)


@dataclass
class EngineInfo:
    """A running engine, as its state file describes it."""

    pid: int
    host: str
    port: int
    http_port: int
    data_dir: Path
    started_at: str = ""
    version: str = ""

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"


def log_path(data_dir: Path) -> Path:
    return Path(data_dir) / LOG_FILENAME


def _is_locked(data_dir: Path) -> bool:
    """True while an engine process holds the data dir's lock."""
    path = Path(data_dir) / LOCK_FILENAME
    try:
        handle = open(path)
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def read_info(data_dir: Path) -> EngineInfo | None:
    """The engine running on ``data_dir``, or None (not running, or a stale state file)."""
    data_dir = Path(data_dir)
    try:
        state = json.loads((data_dir / STATE_FILENAME).read_text())
        info = EngineInfo(
            pid=int(state["pid"]),
            host=str(state["host"]),
            port=int(state["port"]),
            http_port=int(state["http_port"]),
            data_dir=Path(state.get("data_dir") or data_dir),
            started_at=str(state.get("started_at", "")),
            version=str(state.get("version", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _pid_alive(info.pid) or not _is_locked(data_dir):
        return None
    return info


def port_answers(host: str, port: int, timeout: float = PROBE_TIMEOUT) -> bool:
    """True when something accepts TCP connections at host:port (``[::1]`` brackets allowed)."""
    try:
        with socket.create_connection((host.strip("[]"), port), timeout=timeout):
            return True
    except OSError:
        return False


def is_answering(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a gRPC server answers on host:port within ``timeout`` seconds."""
    if not port_answers(host, port, timeout):
        return False
    import grpc  # lazily: the CLI calls this and must stay light

    channel = grpc.insecure_channel(f"{host}:{port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
        return True
    except grpc.FutureTimeoutError:
        return False
    finally:
        channel.close()


def start_daemon(opts: DaemonOptions, timeout: float = 30.0) -> EngineInfo:
    """Start ``tasksctl engine run`` detached and return once it answers.

    Returns the running engine's info at once if one already serves this data dir. Callers that
    race (ten CLI processes at first use) are serialised by ``engine.start.lock``: one starts the
    engine, the others wait for it and return it. Raises EngineUnavailable with the reason from
    the end of its log if it dies or never answers.
    """
    data_dir = ensure_data_dir(Path(opts.data_dir).expanduser()).resolve()
    running = read_info(data_dir)
    if running is not None and is_answering(running.host, running.port):
        return running
    deadline = time.monotonic() + timeout
    with _start_lock(data_dir, deadline):
        return _start_locked(opts, data_dir, deadline)


@contextlib.contextmanager
def _start_lock(data_dir: Path, deadline: float) -> Iterator[None]:
    fd = os.open(data_dir / START_LOCK_FILENAME, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    raise EngineUnavailable(
                        f"Another tasksctl process is starting the engine for {data_dir} and "
                        "it did not finish in time; see `tasksctl engine logs`."
                    ) from None
                time.sleep(_POLL_S)
        yield
    finally:
        os.close(fd)  # releases the lock


def _wait_for_running(data_dir: Path, deadline: float) -> EngineInfo | None:
    """The live engine of ``data_dir`` once it answers; None when there is none (or it died).

    A live engine (its pid alive and holding the data-dir lock) that is slow to answer under
    load is waited for, never joined by a second one that would only fail on the lock.
    """
    while True:
        running = read_info(data_dir)
        if running is None:
            return None
        if is_answering(running.host, running.port):
            return running
        if time.monotonic() >= deadline:
            return None
        time.sleep(_POLL_S)


def _start_locked(opts: DaemonOptions, data_dir: Path, deadline: float) -> EngineInfo:
    running = _wait_for_running(data_dir, deadline)  # started by whoever held the lock before us
    if running is not None:
        return running
    if is_answering(opts.host, opts.port, timeout=0.3):
        raise EngineUnavailable(
            f"Port {opts.host}:{opts.port} is already in use by another server "
            f"(not an engine for data dir {data_dir})."
        )
    log_file = log_path(data_dir)
    offset = log_file.stat().st_size if log_file.exists() else 0
    # The engine's own entry point starts faster (no CLI to import); a --queues file needs the
    # CLI's declarative layer, so that start goes through `tasksctl engine run`.
    entry = CLI_ENTRY if "--queues" in opts.extra_args else ENGINE_ENTRY
    args = [
        sys.executable, *entry,
        "--host", opts.host, "--port", str(opts.port), "--http-port", str(opts.http_port),
        "--data-dir", str(data_dir), *opts.extra_args,
    ]  # fmt: skip
    log_fd = open_private_append(log_file)
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(log_fd)
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            # An engine started outside this lock (`engine run`) may have won the data dir.
            running = _wait_for_running(data_dir, deadline)
            if running is not None:
                return running
            raise EngineUnavailable(
                f"The local engine exited with code {code}: {_log_reason(log_file, offset)}"
            )
        info = read_info(data_dir)
        if info is not None and info.pid == proc.pid and is_answering(info.host, info.port):
            return info
        time.sleep(_POLL_S)
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
    raise EngineUnavailable(
        f"The local engine did not answer in time: {_log_reason(log_file, offset)}"
    )


def stop_daemon(data_dir: Path, timeout: float = 15.0) -> bool:
    """SIGTERM the engine on ``data_dir`` and wait for it to exit; False if none was running.

    Falls back to SIGKILL after ``timeout`` seconds.
    """
    info = read_info(Path(data_dir).expanduser())
    if info is None:
        return False
    try:
        os.kill(info.pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(info.pid):
            return True
        time.sleep(_POLL_S)
    try:
        os.kill(info.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return True


def tail_lines(path: Path, count: int) -> list[str]:
    """The last ``count`` lines of a text file (reads only the end of big files)."""
    if count <= 0:
        return []
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        block = 64 * 1024
        data = b""
        while size > 0 and data.count(b"\n") <= count:
            step = min(block, size)
            size -= step
            handle.seek(size)
            data = handle.read(step) + data
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[-count:]


def _log_reason(log_file: Path, offset: int) -> str:
    """The most telling line this start wrote to the log: its last ERROR, else its last line."""
    try:
        with open(log_file, "rb") as handle:
            handle.seek(offset)
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return "no log was written"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return f"no output (see {log_file})"
    errors = [line for line in lines if "ERROR" in line or "Error" in line]
    return (errors or lines)[-1]


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own exited child not yet reaped) is not alive.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
