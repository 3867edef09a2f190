"""CreateTask throughput: the tasksctl engine vs the ``gcloud-tasks-emulator`` peer, same run.

Both servers are driven identically from this process: 8 official ``CloudTasksAsyncClient``s
over ``grpc.aio.insecure_channel``, 64 calls in flight in total, unnamed and then named tasks,
each scenario bounded by ``--count`` creates and ``--seconds`` seconds. The target queue is
paused on both servers so that neither spends the run dispatching. Our engine's creates are
durable (committed with synchronous=FULL before the answer); the peer keeps tasks in memory.

    .venv/bin/python bench/bench_create.py                 # writes bench/results/create.{md,json}
    .venv/bin/python bench/bench_create.py --count 5000 --targets engine
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import peer  # noqa: E402

PARENT = "projects/bench/locations/us-central1"
QUEUE = f"{PARENT}/queues/bench"
BODY = b"x" * 100


@dataclass
class Result:
    target: str
    mode: str
    creates: int
    errors: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float
    server_cpu_us_per_create: float
    client_cpu_us_per_create: float
    load_before: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Engine:
    """Our engine as a subprocess on free ports with a temporary data dir."""

    name = "tasksctl engine"

    def __init__(self, workdir: Path) -> None:
        self.port, self.http_port = free_port(), free_port()
        self.data_dir = workdir / "engine-data"
        log = open(workdir / "engine.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tasksctl.engine", "run", "--port", str(self.port),
             "--http-port", str(self.http_port), "--data-dir", str(self.data_dir)],
            stdout=subprocess.PIPE, stderr=log, cwd=ROOT,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        if not line.startswith("tasksctl engine ready"):
            raise RuntimeError(f"engine did not start; see {workdir / 'engine.log'}")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/v1/status") as resp:
            data: dict[str, Any] = json.loads(resp.read())
            return data

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


class Peer:
    name = "gcloud-tasks-emulator (peer)"

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.proc = peer.start(self.port, workdir / "peer.log")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def make_clients(address: str, count: int) -> list[Any]:
    import grpc
    from google.cloud import tasks_v2
    from google.cloud.tasks_v2.services.cloud_tasks.transports import (
        CloudTasksGrpcAsyncIOTransport,
    )

    return [
        tasks_v2.CloudTasksAsyncClient(
            transport=CloudTasksGrpcAsyncIOTransport(channel=grpc.aio.insecure_channel(address))
        )
        for _ in range(count)
    ]


async def prepare_queue(address: str) -> None:
    (client,) = make_clients(address, 1)
    await client.create_queue(parent=PARENT, queue={"name": QUEUE})
    await client.pause_queue(name=QUEUE)  # nobody dispatches during the benchmark


async def load(address: str, mode: str, count: int, seconds: float, clients: int,
               in_flight: int, prefix: str) -> tuple[int, int, float, list[float]]:  # fmt: skip
    """Run the bounded create loop; returns (acknowledged, errors, elapsed, latencies)."""
    pool = make_clients(address, clients)
    issued = 0
    done = 0
    errors = 0
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker(client: Any) -> None:
        nonlocal issued, done, errors
        while issued < count and time.perf_counter() < deadline:
            n = issued
            issued += 1
            task: dict[str, Any] = {
                "http_request": {"url": "http://127.0.0.1:9/bench", "body": BODY}
            }
            if mode == "named":
                task["name"] = f"{QUEUE}/tasks/{prefix}-{n:08d}-{os.urandom(4).hex()}"
            started = time.perf_counter()
            try:
                await client.create_task(parent=QUEUE, task=task, timeout=30)
            except Exception:
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(pool[i % clients]) for i in range(in_flight)))
    return done, errors, time.perf_counter() - started, latencies


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


def run_scenario(server: Any, mode: str, args: argparse.Namespace) -> Result:
    pid = server.proc.pid
    load_before = os.getloadavg()[0]
    asyncio.run(load(server.address, mode, 300, 10, args.clients, args.in_flight, f"warm-{mode}"))
    server_cpu, client_cpu = cpu_seconds(pid), time.process_time()
    done, errors, elapsed, latencies = asyncio.run(
        load(server.address, mode, args.count, args.seconds, args.clients, args.in_flight, mode)
    )
    server_cpu, client_cpu = cpu_seconds(pid) - server_cpu, time.process_time() - client_cpu
    latencies.sort()
    return Result(
        target=server.name,
        mode=mode,
        creates=done,
        errors=errors,
        seconds=round(elapsed, 3),
        per_second=round(done / elapsed, 1),
        p50_ms=round(percentile(latencies, 0.50) * 1000, 2),
        p99_ms=round(percentile(latencies, 0.99) * 1000, 2),
        server_cpu_us_per_create=round(server_cpu / max(done, 1) * 1e6, 1),
        client_cpu_us_per_create=round(client_cpu / max(done, 1) * 1e6, 1),
        load_before=round(load_before, 2),
    )


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def summarize(results: list[Result]) -> list[dict[str, Any]]:
    """Per (target, mode): the median of the rounds (the machine is shared, so runs vary)."""
    rows: list[dict[str, Any]] = []
    keys = list(dict.fromkeys((r.target, r.mode) for r in results))
    for target, mode in keys:
        runs = [r for r in results if (r.target, r.mode) == (target, mode)]
        rows.append(
            {
                "target": target,
                "mode": mode,
                "rounds": len(runs),
                "per_second": round(median([r.per_second for r in runs]), 1),
                "per_second_each": [r.per_second for r in runs],
                "p50_ms": round(median([r.p50_ms for r in runs]), 2),
                "p99_ms": round(median([r.p99_ms for r in runs]), 2),
                "server_cpu_us": round(median([r.server_cpu_us_per_create for r in runs]), 1),
                "client_cpu_us": round(median([r.client_cpu_us_per_create for r in runs]), 1),
                "creates": sum(r.creates for r in runs),
                "errors": sum(r.errors for r in runs),
                "load_before_each": [r.load_before for r in runs],
            }
        )
    return rows


def write_report(results: list[Result], args: argparse.Namespace, notes: list[str]) -> None:
    import grpc
    from google.cloud import tasks_v2

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.platform()}",
        "load_average_at_end": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "client": f"google-cloud-tasks {tasks_v2.__version__} (CloudTasksAsyncClient)",
        "peer": peer.PEER_PACKAGE,
        "clients": args.clients,
        "in_flight": args.in_flight,
        "bound": f"{args.count} creates or {args.seconds:g} s per scenario (+300 warm-up)",
        "rounds": args.rounds,
    }
    summary = summarize(results)
    out.with_suffix(".json").write_text(
        json.dumps(
            {
                "meta": meta,
                "summary": summary,
                "runs": [asdict(r) for r in results],
                "notes": notes,
            },
            indent=2,
        )
        + "\n"
    )
    lines = ["# CreateTask throughput: tasksctl engine vs gcloud-tasks-emulator", ""]
    lines += [f"- {key}: {value}" for key, value in meta.items()]
    lines += [
        "",
        "Medians over the rounds (each round runs every scenario once, engine and peer "
        "back to back).",
        "",
        "| target | tasks | creates/s (median) | each round | p50 ms | p99 ms "
        "| server CPU µs/create | client CPU µs/create | creates | errors |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in summary:
        each = ", ".join(f"{x:,.0f}" for x in row["per_second_each"])
        lines.append(
            f"| {row['target']} | {row['mode']} | {row['per_second']:,.0f} | {each} "
            f"| {row['p50_ms']} | "
            f"{row['p99_ms']} | {row['server_cpu_us']:,.0f} | {row['client_cpu_us']:,.0f} | "
            f"{row['creates']:,} | {row['errors']} |"
        )
    lines += ["", *[f"- {note}" for note in notes], ""]
    out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=20_000, help="creates per scenario")
    parser.add_argument("--seconds", type=float, default=20.0, help="time cap per scenario")
    parser.add_argument("--rounds", type=int, default=3, help="repeat every scenario this often")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--targets", default="engine,peer")
    parser.add_argument("--modes", default="unnamed,named")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "create.md"))
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="tasksctl-bench-"))
    results: list[Result] = []
    notes: list[str] = []
    lost = 0
    try:
        for round_no in range(args.rounds):
            for mode in args.modes.split(","):
                for target in args.targets.split(","):
                    where = workdir / f"{round_no}-{mode}-{target}"
                    where.mkdir(parents=True)
                    server: Any = Engine(where) if target == "engine" else Peer(where)
                    try:
                        asyncio.run(prepare_queue(server.address))
                        result = run_scenario(server, mode, args)
                        if target == "engine":
                            status = server.status()
                            acknowledged = result.creates + 300  # + warm-up
                            lost += max(0, acknowledged - int(status["tasks"]))
                            result.extra = {
                                "tasks_on_disk": int(status["tasks"]),
                                "acknowledged_incl_warmup": acknowledged,
                                "commits": status["store"]["batches"],
                                "writes": status["store"]["writes"],
                            }
                        results.append(result)
                        print(f"round {round_no + 1}: {result.target:30} {mode:8} "
                              f"{result.per_second:8,.0f}/s p50 {result.p50_ms} ms "
                              f"p99 {result.p99_ms} ms server {result.server_cpu_us_per_create} us "
                              f"(1-min load before: {result.load_before})",
                              file=sys.stderr)  # fmt: skip
                    finally:
                        server.stop()
        engine_runs = [r for r in results if r.target == Engine.name]
        if engine_runs:
            writes = sum(r.extra["writes"] for r in engine_runs)
            commits = sum(r.extra["commits"] for r in engine_runs)
            notes.append(
                "Durability: every engine create was committed (WAL, synchronous=FULL) before its "
                f"answer; after each run the tasks on disk matched the acknowledged creates "
                f"({'none' if not lost else lost} missing). {writes:,} writes shared "
                f"{commits:,} fsync'ed commits ({writes / max(commits, 1):.1f} per commit)."
            )
        summary = {(row["target"], row["mode"]): row for row in summarize(results)}
        for mode in args.modes.split(","):
            ours, theirs = summary.get((Engine.name, mode)), summary.get((Peer.name, mode))
            if ours and theirs:
                notes.append(
                    f"{mode}: engine / peer = "
                    f"{ours['per_second'] / theirs['per_second']:.2f}x (medians)"
                )
        write_report(results, args, notes)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
