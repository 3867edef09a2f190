"""Processes and measurements shared by ``bench_dispatch.py``.

* :class:`EngineProc`: ``python -m tasksctl engine run`` on free loopback ports with a data dir
  of its own; restartable on the same data dir; reads its RSS, CPU and side-port JSON.
* :class:`SinkProc`: ``bench/sink_server.py`` (aiohttp, answers every request with one status
  after an optional delay) on a free port; its per-request records give exact arrival times.
* :class:`PeerProc`: the ``gcloud-tasks-emulator`` peer (``bench/peer.py``).
* Creating tasks: BatchCreateTasks through the official async client, 100 per call, several
  callers (our engine); concurrent CreateTask calls (the peer, which has no BatchCreateTasks).
* Small numeric helpers: percentiles, steady-state rate after the initial burst.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import peer  # noqa: E402

PARENT = "projects/bench/locations/us-central1"
BODY = b"x" * 64
BATCH = 100


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def loadavg() -> str:
    """The whole of /proc/loadavg (1, 5, 15 min, runnable/total, last pid)."""
    return Path("/proc/loadavg").read_text().strip()


def load1() -> float:
    return float(loadavg().split()[0])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak) of a process, in MiB."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def get_json(url: str, timeout: float = 10.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an already sorted list (None when empty)."""
    if not values:
        return None
    return values[min(len(values) - 1, int(q * len(values)))]


def rates(times: list[float], burst: int, settle: float = 0.5) -> dict[str, Any]:
    """Raw and burst-excluded rates of sorted arrival times.

    * raw = (N-1) / (last - first);
    * after_burst: skip the first ``burst`` arrivals (the bucket starts full);
    * steady (the burst-excluded figure we report): skip the burst *and* the first ``settle``
      seconds: the tokens earned while the burst itself is being sent (~20-50 ms at 500/s) go
      out right after it, so an estimate that starts at arrival ``burst`` still counts them.
    """
    n = len(times)
    out: dict[str, Any] = {"n": n, "burst": burst}
    if n >= 2 and times[-1] > times[0]:
        out["span_s"] = round(times[-1] - times[0], 3)
        out["raw_per_s"] = round((n - 1) / (times[-1] - times[0]), 3)
    if n - 1 - burst >= 2 and times[-1] > times[burst]:
        out["after_burst_per_s"] = round((n - 1 - burst) / (times[-1] - times[burst]), 3)
    start = max(burst, bisect.bisect_left(times, times[0] + settle)) if n else 0
    if n - 1 - start >= 2 and times[-1] > times[start]:
        out["steady_from_index"] = start
        out["steady_span_s"] = round(times[-1] - times[start], 3)
        out["steady_per_s"] = round((n - 1 - start) / (times[-1] - times[start]), 3)
    return out


def mean_concurrency(starts: list[float], hold: float, lo: float, hi: float) -> float:
    """Time-average number of requests in [start, start + hold) over [lo, hi] (1 ms grid)."""
    if hi <= lo:
        return 0.0
    steps = max(1, int((hi - lo) * 1000))
    total = 0
    for i in range(steps):
        t = lo + (i + 0.5) * (hi - lo) / steps
        total += bisect.bisect_right(starts, t) - bisect.bisect_right(starts, t - hold)
    return total / steps


class EngineProc:
    """Our engine as a subprocess; ``restart()`` keeps the data dir."""

    name = "engine"

    def __init__(
        self, workdir: Path, data_dir: Path | None = None, extra_args: list[str] | None = None
    ) -> None:
        self.workdir = workdir
        self.data_dir = data_dir or workdir / "engine-data"
        self.extra_args = list(extra_args or [])
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> float:
        """Start and wait for the ready line; returns the seconds it took."""
        self.port, self.http_port = free_port(), free_port()
        log = open(self.workdir / "engine.log", "ab")
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tasksctl",
                "engine",
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--http-port",
                str(self.http_port),
                "--data-dir",
                str(self.data_dir),
                *self.extra_args,
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
        )
        log.close()
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        if not line.startswith("tasksctl engine ready"):
            self.proc.kill()
            raise RuntimeError(f"engine did not start; see {self.workdir / 'engine.log'}")
        return time.perf_counter() - started

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def side(self, path: str) -> Any:
        return get_json(f"http://127.0.0.1:{self.http_port}{path}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def restart(self) -> float:
        self.stop()
        return self.start()

    def disk_bytes(self) -> dict[str, int]:
        return {p.name: p.stat().st_size for p in self.data_dir.glob("tasks.db*")}


class PeerProc:
    """``gcloud-tasks-emulator`` (bench/peer.py) on a free port."""

    name = "peer"

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.proc = peer.start(self.port, workdir / "peer.log")

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class FloorProc(PeerProc):
    """``bench/grpc_floor.py`` (canned answers on a gRPC stack: the engine's own front by
    default, or ``grpcio``) on a free port."""

    name = "floor"

    def __init__(self, workdir: Path, stack: str = "native") -> None:
        self.port = free_port()
        log = open(workdir / "floor.log", "ab")
        script = str(ROOT / "bench" / "grpc_floor.py")
        self.proc = subprocess.Popen(
            [sys.executable, script, "--port", str(self.port), "--stack", stack],
            stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        log.close()
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != b"ready":
            self.proc.kill()
            raise RuntimeError(f"grpc_floor did not start; see {workdir / 'floor.log'}")


class SinkProc:
    """``bench/sink_server.py`` on a free port; stdout lines are collected by a thread."""

    def __init__(
        self,
        *,
        status: int = 200,
        delay: float = 0.0,
        record: bool = True,
        quiet: bool = True,
        max_records: int = 250_000,
    ) -> None:
        cmd = [
            sys.executable,
            str(ROOT / "bench" / "sink_server.py"),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--status",
            str(status),
            "--delay",
            str(delay),
            "--max-records",
            str(max_records),
        ]
        cmd += ["--record"] if record else []
        cmd += ["--quiet"] if quiet else []
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
        )
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline().decode().strip()
        if not ready.startswith("sink ready on "):
            self.proc.kill()
            raise RuntimeError(f"sink did not start: {ready!r}")
        self.base = ready.removeprefix("sink ready on ")
        self.lines: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                self.lines.append(json.loads(raw))
            except ValueError:
                pass

    @property
    def pid(self) -> int:
        return self.proc.pid

    def url(self, path: str = "/t") -> str:
        return f"{self.base}{path}"

    def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = get_json(self.url("/__stats"))
        return data

    def requests(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = get_json(self.url("/__requests"), timeout=60)
        return data

    def per_second_lines(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if "t" in line]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(2)


def wait_for(
    count: Callable[[], int], target: int, timeout: float, stall: float = 5.0, poll: float = 0.2
) -> tuple[int, float, str]:
    """Poll ``count()`` until it reaches ``target``; stops early when it stalls.

    Returns (last count, seconds waited, how it ended: "done", "stalled" or "timeout").
    """
    started = time.monotonic()
    last, last_change = -1, started
    while True:
        now = time.monotonic()
        value = count()
        if value >= target:
            return value, now - started, "done"
        if value != last:
            last, last_change = value, now
        if now - last_change > stall:
            return value, now - started, "stalled"
        if now - started > timeout:
            return value, now - started, "timeout"
        time.sleep(poll)


# -- gRPC side ---------------------------------------------------------------------------------


def make_client(address: str) -> Any:
    """An official ``CloudTasksAsyncClient`` over an insecure ``grpc.aio`` channel."""
    import grpc
    from google.cloud import tasks_v2
    from google.cloud.tasks_v2.services.cloud_tasks.transports import (
        CloudTasksGrpcAsyncIOTransport,
    )

    channel = grpc.aio.insecure_channel(address)
    return tasks_v2.CloudTasksAsyncClient(transport=CloudTasksGrpcAsyncIOTransport(channel=channel))


def queue_path(name: str) -> str:
    return f"{PARENT}/queues/{name}"


def queue_spec(
    name: str,
    *,
    rate: float | None = None,
    concurrent: int | None = None,
    retry: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Queue as a dict for ``create_queue``; ``retry`` durations in seconds (floats)."""
    from google.protobuf import duration_pb2

    spec: dict[str, Any] = {"name": queue_path(name)}
    limits: dict[str, Any] = {}
    if rate is not None:
        limits["max_dispatches_per_second"] = rate
    if concurrent is not None:
        limits["max_concurrent_dispatches"] = concurrent
    if limits:
        spec["rate_limits"] = limits
    if retry:
        config: dict[str, Any] = {}
        for key, value in retry.items():
            if key.endswith("_backoff") or key == "max_retry_duration":
                seconds = int(value)
                config[key] = duration_pb2.Duration(
                    seconds=seconds, nanos=round((value - seconds) * 1e9)
                )
            else:
                config[key] = value
        spec["retry_config"] = config
    return spec


def task_pb(url: str, schedule: float | None = None, name: str | None = None) -> Any:
    """A raw ``Task`` protobuf (cheaper for the client than proto-plus dicts)."""
    from google.cloud import tasks_v2
    from google.protobuf import timestamp_pb2

    task = tasks_v2.Task.pb()(http_request=tasks_v2.HttpRequest.pb()(url=url, body=BODY))
    if schedule is not None:
        seconds = int(schedule)
        task.schedule_time.CopyFrom(
            timestamp_pb2.Timestamp(seconds=seconds, nanos=int((schedule - seconds) * 1e9))
        )
    if name:
        task.name = name
    return task


async def batch_create(
    client: Any, queue: str, tasks: Iterator[Any], callers: int, timeout: float
) -> tuple[int, int, float]:
    """BatchCreateTasks, ``BATCH`` tasks per call, ``callers`` calls in flight.

    Returns (tasks sent, calls that failed, seconds).
    """
    from google.cloud import tasks_v2

    request_pb = tasks_v2.CreateTaskRequest.pb()
    batch_pb = tasks_v2.BatchCreateTasksRequest.pb()
    sent = failed = 0
    started = time.perf_counter()
    deadline = time.monotonic() + timeout

    def next_batch() -> Any | None:
        chunk = []
        for task in tasks:
            chunk.append(request_pb(parent=queue, task=task))
            if len(chunk) == BATCH:
                break
        if not chunk:
            return None
        return tasks_v2.BatchCreateTasksRequest.wrap(batch_pb(parent=queue, requests=chunk))

    async def caller() -> None:
        nonlocal sent, failed
        while time.monotonic() < deadline:
            request = next_batch()
            if request is None:
                return
            try:
                operation = await client.batch_create_tasks(request=request, timeout=60)
                if operation.operation.error.code:
                    failed += 1
            except Exception as err:
                failed += 1
                print(f"batch_create_tasks failed: {err!r}"[:300], file=sys.stderr)
            sent += len(request.requests)

    await asyncio.gather(*(caller() for _ in range(callers)))
    return sent, failed, time.perf_counter() - started


async def create_each(
    client: Any, queue: str, tasks: list[Any], in_flight: int, timeout: float
) -> tuple[int, int, float]:
    """Concurrent CreateTask calls (for the peer, which lacks BatchCreateTasks)."""
    from google.cloud import tasks_v2

    request_pb = tasks_v2.CreateTaskRequest.pb()
    items = iter(tasks)
    done = failed = 0
    started = time.perf_counter()
    deadline = time.monotonic() + timeout

    async def worker() -> None:
        nonlocal done, failed
        for task in items:
            if time.monotonic() > deadline:
                return
            request = tasks_v2.CreateTaskRequest.wrap(request_pb(parent=queue, task=task))
            try:
                await client.create_task(request=request, timeout=60)
                done += 1
            except Exception as err:
                failed += 1
                print(f"create_task failed: {err!r}"[:300], file=sys.stderr)

    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return done, failed, time.perf_counter() - started
