"""CreateTask latency for 1, 8 and 64 callers in flight, engine vs peer in one run, and the API's
latency while the engine dispatches flat out (issue 11).

Part 1, ``levels`` (``--levels 1,8,64``): for each round, each target is started fresh (our
engine: ``python -m tasksctl engine run`` on free loopback ports and a temporary data dir, once
per ``--durability`` mode; the peer: ``gcloud-tasks-emulator`` 0.6.2 from bench/peer.py; the
floor: bench/grpc_floor.py --stack native, the engine's own gRPC front answering canned
bytes, which no server on that front can beat), one paused queue is created, and for each
level the official ``CloudTasksAsyncClient`` drives CreateTask with that many calls in flight
(1 = sequential: one call, wait, the next; 8: 8 clients with one call each; 64: 8 clients
with 8 calls each; gRPC shares connections between clients of one target, so a handful of
connections carry the calls), after a warm-up, bounded by ``--count`` creates and
``--seconds`` per level. Targets alternate their order every round. Figures per level:
creates/s, p50, p99, and the 1-minute load average before it.

Part 2, ``load`` (bench/latency_load.py): 16 queues x 500/s dispatching to a loopback sink;
CreateTask, GetQueue and GET /v1/stats p50/p99 measured while it runs.

    .venv/bin/python bench/bench_latency.py                    # writes results/latency.{md,json}
    .venv/bin/python bench/bench_latency.py --rounds 1 --parts levels --targets engine
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import latency_load
import peer
from dispatch_harness import (
    PARENT,
    ROOT,
    EngineProc,
    FloorProc,
    PeerProc,
    cpu_seconds,
    load1,
    loadavg,
    make_client,
    percentile,
    queue_path,
)

QUEUE = queue_path("latency")
BODY = b"x" * 100
WARMUP = 200
CLIENTS_MAX = 8


def settle_load(limit: float, wait: float) -> None:
    """Wait (bounded) for the 1-minute load average to drop below ``limit``."""
    deadline = time.monotonic() + wait
    while load1() >= limit and time.monotonic() < deadline:
        time.sleep(3.0)


async def drive(address: str, in_flight: int, count: int, seconds: float) -> dict[str, Any]:
    """``in_flight`` concurrent CreateTask loops; returns rate and latency figures."""
    from google.cloud import tasks_v2

    clients = [make_client(address) for _ in range(min(in_flight, CLIENTS_MAX))]
    task_pb = tasks_v2.Task.pb()
    request_pb = tasks_v2.CreateTaskRequest.pb()
    latencies: list[float] = []
    errors = 0
    issued = 0
    deadline = time.perf_counter() + seconds

    async def worker(client: Any) -> None:
        nonlocal issued, errors
        while issued < count and time.perf_counter() < deadline:
            issued += 1
            task = task_pb(http_request={"url": "http://127.0.0.1:9/latency", "body": BODY})
            request = tasks_v2.CreateTaskRequest.wrap(request_pb(parent=QUEUE, task=task))
            started = time.perf_counter()
            try:
                await client.create_task(request=request, timeout=30)
            except Exception:
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker(clients[i % len(clients)]) for i in range(in_flight)))
        elapsed = time.perf_counter() - started
    finally:
        for client in clients:
            await client.transport.close()
    latencies.sort()
    return {
        "creates": len(latencies),
        "errors": errors,
        "seconds": round(elapsed, 3),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": _ms(percentile(latencies, 0.5)),
        "p99_ms": _ms(percentile(latencies, 0.99)),
    }


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)


async def prepare(address: str) -> None:
    client = make_client(address)
    try:
        await client.create_queue(parent=PARENT, queue={"name": QUEUE})
        await client.pause_queue(name=QUEUE)  # nobody dispatches during the benchmark
    finally:
        await client.transport.close()


def run_target(label: str, server: Any, levels: list[int], args: argparse.Namespace,
               round_no: int) -> list[dict[str, Any]]:  # fmt: skip
    asyncio.run(prepare(server.address))
    rows = []
    for level in levels:
        asyncio.run(drive(server.address, level, WARMUP, 10))
        before = load1()
        cpu = cpu_seconds(server.pid)
        count = args.count_sequential if level == 1 else args.count
        row = asyncio.run(drive(server.address, level, count, args.seconds))
        row["server_cpu_us_per_create"] = round(
            (cpu_seconds(server.pid) - cpu) / max(row["creates"], 1) * 1e6, 1
        )
        row |= {"target": label, "in_flight": level, "round": round_no, "load1_before": before}
        row["load1_after"] = load1()
        if isinstance(server, EngineProc):
            status = server.side("/v1/status")
            row["store_commits"] = status["store"]["batches"]
            row["store_writes"] = status["store"]["writes"]
        rows.append(row)
        print(f"round {round_no}: {label:28} {level:3} in flight {row['per_second']:8,.0f}/s "
              f"p50 {row['p50_ms']} ms p99 {row['p99_ms']} ms (load {before:.2f})",
              file=sys.stderr)  # fmt: skip
    if isinstance(server, EngineProc):
        stored = int(server.side("/v1/status")["tasks"])
        acked = sum(r["creates"] for r in rows) + WARMUP * len(levels)
        rows[-1]["tasks_on_disk"] = stored
        rows[-1]["acknowledged"] = acked
    return rows


GRPC_ONLY_ENV = "TASKSCTL_ENGINE_GRPC_ONLY"
GRPC_STACK_ENV = "TASKSCTL_ENGINE_GRPC"
# bench/grpc_floor.py --stack native: the engine's gRPC front answering canned bytes (what no
# engine on that front can beat).
FLOOR = "floor"
ENGINE_VARIANTS = {"engine": "", "engine-grpcio": " grpcio", "engine-direct": " direct"}


def targets_of(args: argparse.Namespace) -> list[tuple[str, list[str] | None]]:
    """(label, engine args or None for the peer and the floor).

    ``engine``: as users run it (gRPC and REST on one port, both served on the engine's loop);
    ``engine-grpcio``: ``TASKSCTL_ENGINE_GRPC=grpcio``, grpc.aio behind the shared-port relay
    (the stack before this change); ``engine-direct``: ``TASKSCTL_ENGINE_GRPC_ONLY=1``,
    grpc.aio alone on the main port.
    """
    out: list[tuple[str, list[str] | None]] = []
    for name in args.targets.split(","):
        if name in ("peer", FLOOR):
            out.append((name, None))
            continue
        suffix = ENGINE_VARIANTS[name]
        for mode in args.durability.split(",") if args.durability else [""]:
            label = f"engine{suffix}" + (f" ({mode})" if mode else "")
            out.append((label, ["--durability", mode] if mode else []))
    return out


def start_engine(label: str, where: Path, engine_args: list[str]) -> EngineProc:
    env = {}
    if "direct" in label:
        env[GRPC_ONLY_ENV] = "1"
    elif "grpcio" in label:
        env[GRPC_STACK_ENV] = "grpcio"
    os.environ.update(env)
    try:
        return EngineProc(where, extra_args=engine_args)
    finally:
        for name in env:
            del os.environ[name]


def levels_part(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    levels = [int(x) for x in args.levels.split(",")]
    targets = targets_of(args)
    rows: list[dict[str, Any]] = []
    for round_no in range(1, args.rounds + 1):
        settle_load(args.load_limit, args.load_wait)
        order = targets if round_no % 2 else list(reversed(targets))
        for label, engine_args in order:
            where = workdir / f"levels-{round_no}-{label.replace(' ', '_')}"
            where.mkdir(parents=True)
            server: Any
            if label == FLOOR:
                server = FloorProc(where)
            elif engine_args is None:
                server = PeerProc(where)
            else:
                server = start_engine(label, where, engine_args)
            try:
                rows += run_target(label, server, levels, args, round_no)
            finally:
                server.stop()
    return rows


def load_part(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    runs = []
    modes = args.durability.split(",") if args.durability else [""]
    for round_no in range(1, args.load_rounds + 1):
        for mode in modes:
            settle_load(args.load_limit, args.load_wait)
            where = workdir / f"load-{round_no}-{mode or 'default'}"
            where.mkdir(parents=True)
            result = latency_load.run(
                where, queues=args.load_queues, tasks=args.load_tasks,
                interval=args.probe_interval, cap_s=args.load_seconds,
                engine_args=["--durability", mode] if mode else [],
            )  # fmt: skip
            result["round"] = round_no
            result["target"] = f"engine ({mode})" if mode else "engine"
            runs.append(result)
            probes = result["probes"]
            print(f"load round {round_no} {result['target']}: "
                  f"{result['delivered_per_s_in_window']}/s dispatched; "
                  + "; ".join(f"{k} p50 {v['p50']} p99 {v['p99']} ms" for k, v in probes.items())
                  + f" (load {result['load1_before']:.2f})", file=sys.stderr)  # fmt: skip
    return runs


# -- report -----------------------------------------------------------------------------------


def ratio_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Engine / peer creates/s per round and level (same round = same machine state)."""
    out = []
    for row in rows:
        if row["target"] == "peer":
            continue
        peer_row = next(
            (p for p in rows if p["target"] == "peer" and p["round"] == row["round"]
             and p["in_flight"] == row["in_flight"]), None,
        )  # fmt: skip
        if peer_row and peer_row["per_second"]:
            out.append({
                "round": row["round"], "target": row["target"], "in_flight": row["in_flight"],
                "ratio": round(row["per_second"] / peer_row["per_second"], 2),
                "p50_ratio": round(peer_row["p50_ms"] / row["p50_ms"], 2),
            })  # fmt: skip
    return out


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def verdicts(ratios: list[dict[str, Any]], load: list[dict[str, Any]]) -> list[str]:
    """One line per target: the median same-round ratio (and every round) against the goal."""
    lines = []
    keys = list(dict.fromkeys((r["target"], r["in_flight"]) for r in ratios))
    for target, level in keys:
        each = [r["ratio"] for r in ratios if (r["target"], r["in_flight"]) == (target, level)]
        if target == FLOOR:
            lines.append(
                f"- {FLOOR} (canned answers on the engine's own gRPC front, no work), "
                f"{level} in flight: floor/peer median {median(each):.2f}x (a ceiling, no goal)"
            )
            continue
        goal = 1.0 if level == 1 else 1.3
        met = sum(1 for x in each if x >= goal)
        lines.append(
            f"- {target}, {level} in flight: engine/peer median {median(each):.2f}x "
            f"(goal >= {goal}x; met in {met} of {len(each)} rounds)"
        )
    for name in ("CreateTask", "GetQueue", "GET /v1/stats"):
        p99s = [r["probes"][name]["p99"] for r in load if r["probes"][name]["p99"] is not None]
        if p99s:
            met = sum(1 for x in p99s if x < 25)
            lines.append(
                f"- under dispatch load, {name} p99: {', '.join(f'{x:g}' for x in p99s)} ms "
                f"(goal < 25 ms; met in {met} of {len(p99s)} runs)"
            )
    return lines


def write_report(meta: dict[str, Any], rows: list[dict[str, Any]], load: list[dict[str, Any]],
                 out: Path, notes: list[str] | None = None) -> None:  # fmt: skip
    ratios = ratio_rows(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    notes = list(notes or [])
    data = {"meta": meta, "levels": rows, "ratios": ratios, "load": load, "notes": notes}
    out.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n")
    lines = ["# CreateTask latency (1, 8, 64 in flight) and API latency under dispatch load", ""]
    lines += [f"- {k}: {v}" for k, v in meta.items()]
    lines += ["", "## Against the targets (issue 11)", "", *verdicts(ratios, load)]
    if notes:
        lines += ["", "## Notes", "", *[f"- {n}" for n in notes]]
    if rows:
        lines += [
            "", "## CreateTask, engine vs peer, same run", "",
            "Every round starts each target fresh; 1-min load average before each level.", "",
            "| round | target | in flight | creates/s | p50 ms | p99 ms | server CPU µs/create "
            "| load before |",
            "|---:|---|---:|---:|---:|---:|---:|---:|",
        ]  # fmt: skip
        for r in rows:
            lines.append(
                f"| {r['round']} | {r['target']} | {r['in_flight']} | {r['per_second']:,.0f} "
                f"| {r['p50_ms']} | {r['p99_ms']} | {r['server_cpu_us_per_create']:,.0f} "
                f"| {r['load1_before']:.2f} |"
            )
        if ratios:
            lines += [
                "", "Engine / peer creates/s in the same round (target: 1 in flight >= 1.0, "
                "8 and 64 >= 1.3):", "",
                "| target | in flight | each round | median |", "|---|---:|---|---:|",
            ]  # fmt: skip
            keys = list(dict.fromkeys((r["target"], r["in_flight"]) for r in ratios))
            for target, level in keys:
                each = [
                    r["ratio"] for r in ratios if (r["target"], r["in_flight"]) == (target, level)
                ]
                lines.append(f"| {target} | {level} | {', '.join(f'{x:.2f}' for x in each)} "
                             f"| {median(each):.2f} |")  # fmt: skip
        lost = [r for r in rows if "tasks_on_disk" in r and r["tasks_on_disk"] != r["acknowledged"]]
        checked = [r for r in rows if "tasks_on_disk" in r]
        if checked:
            lines += ["", f"Engine runs: tasks on disk == acknowledged creates in "
                      f"{len(checked) - len(lost)} of {len(checked)} runs."]  # fmt: skip
    if load:
        lines += [
            "", "## API latency while dispatching at full rate", "",
            "Probes (one call at a time each, paced) during the dispatch window; "
            "target p99 < 25 ms.",
            "",
            "| round | target | dispatched/s | window s | CreateTask p50/p99/max ms "
            "| GetQueue p50/p99/max ms | /v1/stats p50/p99/max ms | max unrecorded outcomes "
            "| load before |",
            "|---:|---|---:|---:|---|---|---|---:|---|",
        ]  # fmt: skip
        for r in load:
            cells = []
            for name in ("CreateTask", "GetQueue", "GET /v1/stats"):
                p = r["probes"][name]
                cells.append(f"{p['p50']} / {p['p99']} / {p['max']} (n={p['n']})")
            lines.append(
                f"| {r['round']} | {r['target']} | {r['delivered_per_s_in_window']} "
                f"| {r['window_s']} | {' | '.join(cells)} | {r['max_unrecorded_outcomes']} "
                f"| {r['load_before']} |"
            )
    lines.append("")
    out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parts", default="levels,load")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--levels", default="1,8,64")
    parser.add_argument("--targets", default="engine,peer,floor")
    parser.add_argument(
        "--durability",
        default="",
        help="comma-separated engine --durability modes (default: the engine's)",
    )
    parser.add_argument("--count", type=int, default=8000, help="creates per level (8, 64)")
    parser.add_argument("--count-sequential", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=8.0, help="time cap per level")
    parser.add_argument("--load-rounds", type=int, default=2)
    parser.add_argument("--load-queues", type=int, default=16)
    parser.add_argument("--load-tasks", type=int, default=48_000)
    parser.add_argument("--load-seconds", type=float, default=40.0)
    parser.add_argument("--probe-interval", type=float, default=0.01)
    parser.add_argument(
        "--load-limit",
        type=float,
        default=1.5,
        help="wait (bounded) for the 1-min load to drop below this",
    )
    parser.add_argument("--load-wait", type=float, default=60.0)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "latency.md"))
    parser.add_argument("--from-json", metavar="PATH", help="only re-render an earlier run")
    parser.add_argument("--note", action="append", default=[], help="a note for the report")
    args = parser.parse_args()
    if args.from_json:
        data = json.loads(Path(args.from_json).read_text())
        notes = [*data.get("notes", []), *args.note]
        write_report(data["meta"], data["levels"], data["load"], Path(args.out), notes)
        return

    import grpc
    from google.cloud import tasks_v2

    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.platform()}",
        "load_average_at_start": loadavg(),
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "client": f"google-cloud-tasks {tasks_v2.__version__} (CloudTasksAsyncClient)",
        "peer": peer.PEER_PACKAGE,
        "bound": f"{args.count_sequential} sequential / {args.count} concurrent creates or "
        f"{args.seconds:g} s per level (+{WARMUP} warm-up)",
        "rounds": args.rounds,
    }
    workdir = Path(tempfile.mkdtemp(prefix="tasksctl-latency-"))
    try:
        parts = args.parts.split(",")
        rows = levels_part(args, workdir) if "levels" in parts else []
        load = load_part(args, workdir) if "load" in parts else []
        meta["load_average_at_end"] = loadavg()
        write_report(meta, rows, load, Path(args.out), args.note)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
