"""REST and the shared port: CreateTask over REST beside gRPC, and gRPC through the shared port
against the engine as it was before REST (gRPC alone on the main port), in the same run.

Two engines run side by side on free ports, each with its own data dir:
- ``direct``: ``TASKSCTL_ENGINE_GRPC_ONLY=1``, grpc.aio bound on the main port (the old engine);
- ``shared``: the default, gRPC and REST on the main port (since 0.2 both served on the
  engine's loop, gRPC by its own front, grpc_front.py; before, gRPC went through a relay
  process, which ``TASKSCTL_ENGINE_GRPC=grpcio`` still runs).

The machine is shared and its load swings within seconds, so the comparison is made of many
short paired slices: each pair runs one slice on each engine back to back (alternating which
goes first), and the verdict is the median of the per-pair ratios shared/direct.
- ``grpc x64``: 8 official async clients, 64 creates in flight (throughput, p50/p99);
- ``grpc x1``: one client, one create at a time (latency);
- ``getqueue x1``: GetQueue one at a time (no disk write: the relay hop's own cost);
- ``rest x64`` / ``rest x1`` (shared only): HTTP/1.1 + JSON with aiohttp, keep-alive.
The issue's bar: gRPC through the shared port within 10 % of direct, throughput and latency.

    .venv/bin/python bench/bench_rest.py                # writes bench/results/rest.{md,json}
    .venv/bin/python bench/bench_rest.py --pairs 4 --no-write
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_create import (  # noqa: E402
    BODY,
    QUEUE,
    Engine,
    cpu_seconds,
    load,
    make_clients,
    percentile,
    prepare_queue,
)

RESULTS = ROOT / "bench" / "results"


class DirectEngine(Engine):
    """The engine with gRPC alone on its main port (no REST, no relay)."""

    name = "direct"

    def __init__(self, workdir: Path) -> None:
        os.environ["TASKSCTL_ENGINE_GRPC_ONLY"] = "1"
        try:
            super().__init__(workdir)
        finally:
            del os.environ["TASKSCTL_ENGINE_GRPC_ONLY"]


class SharedEngine(Engine):
    name = "shared"


class ThreadRelayEngine(Engine):
    """The shared port with its relay on a thread of the engine (``--thread``)."""

    name = "shared-thread"

    def __init__(self, workdir: Path) -> None:
        os.environ["TASKSCTL_ENGINE_RELAY"] = "thread"
        try:
            super().__init__(workdir)
        finally:
            del os.environ["TASKSCTL_ENGINE_RELAY"]


@dataclass
class Run:
    engine: str
    scenario: str
    round: int
    creates: int
    errors: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float
    server_cpu_us: float
    load: float


async def rest_load(
    port: int, count: int, seconds: float, in_flight: int
) -> tuple[int, int, float, list[float]]:
    """CreateTask over REST with ``in_flight`` keep-alive connections."""
    import aiohttp

    url = f"http://127.0.0.1:{port}/v2/{QUEUE}/tasks"
    body = base64.b64encode(BODY).decode()
    task = {"httpRequest": {"url": "http://127.0.0.1:9/bench", "body": body}}
    payload = json.dumps({"task": task}).encode()
    headers = {"Content-Type": "application/json"}
    issued = done = errors = 0
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal issued, done, errors
            while issued < count and time.perf_counter() < deadline:
                issued += 1
                started = time.perf_counter()
                try:
                    async with session.post(url, data=payload, headers=headers) as response:
                        await response.read()
                        ok = response.status == 200
                except aiohttp.ClientError:
                    ok = False
                if not ok:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
    return done, errors, time.perf_counter() - started, latencies


async def get_queue_load(
    address: str, count: int, seconds: float
) -> tuple[int, int, float, list[float]]:
    """GetQueue one at a time: no disk write, so the relay's hop is what differs (latency)."""
    (client,) = make_clients(address, 1)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    while len(latencies) < count and time.perf_counter() < deadline:
        begin = time.perf_counter()
        await client.get_queue(name=QUEUE, timeout=30)
        latencies.append(time.perf_counter() - begin)
    return len(latencies), 0, time.perf_counter() - started, latencies


def process_tree_cpu(pid: int) -> float:
    """CPU seconds of the engine and its children (the shared port's relay process)."""
    total = cpu_seconds(pid)
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            total += cpu_seconds(int(child))
    return total


def measure(engine: Engine, scenario: str, round_no: int, args: argparse.Namespace) -> Run:
    transport, flight = scenario.split(" x")
    in_flight = int(flight)
    count = args.count if in_flight > 1 else args.count_serial
    clients = min(8, in_flight)

    def once(n: int, tag: str) -> tuple[int, int, float, list[float]]:
        if transport == "grpc":
            return asyncio.run(load(engine.address, "unnamed", n, args.seconds, clients,
                                    in_flight, tag))  # fmt: skip
        if transport == "getqueue":
            return asyncio.run(get_queue_load(engine.address, n * 3, args.seconds))
        return asyncio.run(rest_load(engine.port, n, args.seconds, in_flight))

    load_now = os.getloadavg()[0]
    cpu = process_tree_cpu(engine.proc.pid)
    done, errors, elapsed, latencies = once(count, scenario)
    cpu = process_tree_cpu(engine.proc.pid) - cpu
    latencies.sort()
    return Run(
        engine=engine.name, scenario=scenario, round=round_no, creates=done, errors=errors,
        seconds=round(elapsed, 3), per_second=round(done / elapsed, 1),
        p50_ms=round(percentile(latencies, 0.5) * 1000, 3),
        p99_ms=round(percentile(latencies, 0.99) * 1000, 3),
        server_cpu_us=round(cpu / max(done, 1) * 1e6, 1), load=round(load_now, 2),
    )  # fmt: skip


def summarize(runs: list[Run]) -> list[dict[str, Any]]:
    rows = []
    for key in dict.fromkeys((r.scenario, r.engine) for r in runs):
        mine = [r for r in runs if (r.scenario, r.engine) == key]
        rows.append({
            "scenario": key[0], "engine": key[1], "rounds": len(mine),
            "per_second": round(statistics.median(r.per_second for r in mine), 1),
            "per_second_each": [r.per_second for r in mine],
            "p50_ms": round(statistics.median(r.p50_ms for r in mine), 3),
            "p99_ms": round(statistics.median(r.p99_ms for r in mine), 3),
            "server_cpu_us": round(statistics.median(r.server_cpu_us for r in mine), 1),
            "creates": sum(r.creates for r in mine), "errors": sum(r.errors for r in mine),
            "load_each": [r.load for r in mine],
        })  # fmt: skip
    return rows


def paired(runs: list[Run], scenario: str, field: str, engine: str = "shared") -> list[float]:
    """``engine``/direct of ``field`` for each pair (same scenario, same pair index)."""
    out = []
    for number in sorted({r.round for r in runs if r.scenario == scenario}):
        pair = {r.engine: r for r in runs if r.scenario == scenario and r.round == number}
        if "direct" in pair and engine in pair and getattr(pair["direct"], field):
            out.append(getattr(pair[engine], field) / getattr(pair["direct"], field))
    return out


def paired_difference(runs: list[Run], scenario: str, engine: str) -> list[float]:
    """p50 of ``engine`` minus p50 of direct (ms) for each pair."""
    out = []
    for number in sorted({r.round for r in runs if r.scenario == scenario}):
        pair = {r.engine: r for r in runs if r.scenario == scenario and r.round == number}
        if "direct" in pair and engine in pair:
            out.append(pair[engine].p50_ms - pair["direct"].p50_ms)
    return out


def ratios(runs: list[Run]) -> list[str]:
    """Median per-pair ratios shared/direct per gRPC scenario, and REST beside gRPC."""
    notes = []
    for engine in ("shared", "shared-thread"):
        for scenario in ("grpc x64", "grpc x1", "getqueue x1"):
            tput = paired(runs, scenario, "per_second", engine)
            if not tput:
                continue
            p50 = statistics.median(paired(runs, scenario, "p50_ms", engine))
            p99 = statistics.median(paired(runs, scenario, "p99_ms", engine))
            cpu = statistics.median(paired(runs, scenario, "server_cpu_us", engine))
            t = statistics.median(tput)
            verdict = "within 10 %" if t >= 0.9 and p50 <= 1.1 else "NOT within 10 %"
            added = statistics.median(paired_difference(runs, scenario, engine)) * 1000
            notes.append(
                f"{scenario}: {engine}/direct over {len(tput)} pairs (median of per-pair "
                f"ratios): throughput {t:.3f}, p50 latency {p50:.3f} ({added:+.0f} µs), "
                f"p99 {p99:.3f}, server CPU/call {cpu:.3f} ({verdict} on throughput and p50)"
            )
    rows = {(r["scenario"], r["engine"]): r for r in summarize(runs)}
    rest, grpc = rows.get(("rest x64", "shared")), rows.get(("grpc x64", "shared"))
    if rest and grpc:
        share = rest["per_second"] / grpc["per_second"]
        notes.append(f"REST x64 / gRPC x64 (same shared engine): {share:.2f} of gRPC's throughput")
    return notes


def write_report(runs: list[Run], args: argparse.Namespace) -> None:
    import grpc

    rows = summarize(runs)
    notes = ratios(runs)
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.platform()}",
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "load_average_at_end": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "pairs": args.pairs,
        "slice": f"{args.count} creates (x64) / {args.count_serial} (x1) or {args.seconds:g} s",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {"meta": meta, "summary": rows, "notes": notes, "runs": [asdict(r) for r in runs]}
    (RESULTS / "rest.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# REST and the shared port: CreateTask over REST and gRPC, shared port vs direct", "",
        *[f"- {k}: {v}" for k, v in meta.items()], "",
        "`direct` = the engine before REST (gRPC bound on the main port, "
        "`TASKSCTL_ENGINE_GRPC_ONLY=1`); `shared` = gRPC and REST on one port, gRPC relayed to "
        "an internal unix socket by the shared port's relay process. Each pair runs one short "
        "slice on each engine back to back, alternating which goes first; the table gives "
        "medians over the slices, the notes the median of the per-pair ratios. Server CPU "
        "includes the relay process.",
        "",
        "| scenario | engine | creates/s (median) | each slice | p50 ms | p99 ms "
        "| server CPU µs/create | creates | errors | load each slice |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]  # fmt: skip
    for r in rows:
        lines.append(
            f"| {r['scenario']} | {r['engine']} | {r['per_second']:,.0f} | "
            f"{', '.join(f'{x:,.0f}' for x in r['per_second_each'])} | {r['p50_ms']} | "
            f"{r['p99_ms']} | {r['server_cpu_us']} | {r['creates']:,} | {r['errors']} | "
            f"{', '.join(str(x) for x in r['load_each'])} |"
        )
    lines += ["", *[f"- {n}" for n in notes], ""]
    (RESULTS / "rest.md").write_text("\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=15, help="paired slices per gRPC scenario")
    parser.add_argument("--rest-slices", type=int, default=5, help="slices per REST scenario")
    parser.add_argument("--count", type=int, default=2000, help="creates per x64 slice")
    parser.add_argument("--count-serial", type=int, default=200, help="creates per x1 slice")
    parser.add_argument("--seconds", type=float, default=10.0, help="time bound per slice")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--thread", action="store_true", help="also the relay on a thread (shared-thread)"
    )
    args = parser.parse_args()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-rest-") as tmp:
        (Path(tmp) / "d").mkdir()
        (Path(tmp) / "s").mkdir()
        direct, shared = DirectEngine(Path(tmp) / "d"), SharedEngine(Path(tmp) / "s")
        engines: list[Engine] = [direct, shared]
        if args.thread:
            (Path(tmp) / "t").mkdir()
            engines.append(ThreadRelayEngine(Path(tmp) / "t"))
        try:
            for engine in engines:
                asyncio.run(prepare_queue(engine.address))
                asyncio.run(load(engine.address, "unnamed", 500, 10, 8, 64, "warm"))
            for scenario in ("grpc x64", "grpc x1", "getqueue x1"):
                for number in range(args.pairs):
                    group = engines if number % 2 == 0 else engines[::-1]
                    for engine in group:
                        runs.append(measure(engine, scenario, number, args))
                        print(asdict(runs[-1]), flush=True)
            for scenario in ("rest x64", "rest x1"):
                for number in range(args.rest_slices):
                    runs.append(measure(shared, scenario, number, args))
                    print(asdict(runs[-1]), flush=True)
        finally:
            for engine in engines:
                engine.stop()
    if args.no_write:
        print("\n".join(ratios(runs)))
    else:
        write_report(runs, args)


if __name__ == "__main__":
    main()
