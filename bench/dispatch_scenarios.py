"""The dispatch benchmark's scenarios; each returns one JSON-able dict of figures.

Every scenario starts a fresh server (our engine, or the peer) and fresh sink(s) as
subprocesses on 127.0.0.1, is bounded in task count and in time, and stops them itself.
``Size`` holds the counts and durations (``--quick`` shrinks them). See bench_dispatch.py.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dispatch_harness import (
    PARENT,
    EngineProc,
    PeerProc,
    SinkProc,
    batch_create,
    cpu_seconds,
    create_each,
    make_client,
    mean_concurrency,
    percentile,
    queue_path,
    queue_spec,
    rates,
    task_pb,
    wait_for,
)

from tasksctl.engine.validation import burst_for_rate

CALLERS = 4  # concurrent BatchCreateTasks calls
PEER_IN_FLIGHT = 32  # concurrent CreateTask calls to the peer
RETRY = {"min_backoff": 0.1, "max_backoff": 1.0, "max_doublings": 2, "max_attempts": 6}


@dataclass
class Size:
    """Counts and durations of every scenario (full run or ``--quick``)."""

    throughput_queues: int = 8
    throughput_tasks: int = 20_000
    saturation_queues: int = 16  # 16 x 500/s: the engine, not the rates, is the limit
    saturation_tasks: int = 40_000
    peer_cap_s: float = 20.0  # the peer is slow: measure it at most this long
    rate_seconds: tuple[tuple[float, float], ...] = ((1, 20), (10, 10), (100, 10), (500, 10))
    concurrency_cap: int = 50
    concurrency_delay: float = 0.1
    concurrency_tasks: int = 4_000
    retry_tasks: int = 50
    lateness_tasks: int = 2_000
    lateness_spread_s: float = 10.0
    rss_tasks: int = 1_000_000
    peer_rss_tasks: int = 100_000

    @classmethod
    def quick(cls) -> Size:
        return cls(
            throughput_tasks=8_000,
            saturation_tasks=12_000,
            peer_cap_s=8.0,
            rate_seconds=((1, 8), (10, 5), (100, 5), (500, 5)),
            concurrency_tasks=1_500,
            retry_tasks=10,
            lateness_tasks=500,
            lateness_spread_s=5.0,
            rss_tasks=100_000,
            peer_rss_tasks=10_000,
        )


class Cpu:
    """CPU seconds used by some processes (and this one) between ``start`` and ``stop``."""

    def __init__(self, **pids: int) -> None:
        self.pids = pids
        self.before = {k: cpu_seconds(p) for k, p in pids.items()}
        self.client_before = time.process_time()
        self.wall = time.perf_counter()

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self.wall
        out = {
            f"{k}_cpu_s": round(cpu_seconds(p) - self.before[k], 2) for k, p in self.pids.items()
        }
        out["bench_client_cpu_s"] = round(time.process_time() - self.client_before, 2)
        out["wall_s"] = round(wall, 2)
        return out


def start_server(target: str, workdir: Path) -> EngineProc | PeerProc:
    return EngineProc(workdir) if target == "engine" else PeerProc(workdir)


async def setup(
    server: EngineProc | PeerProc,
    specs: list[dict[str, Any]],
    tasks: dict[str, list[Any]],
    *,
    paused: bool,
) -> dict[str, Any]:
    """Create the queues (paused if asked) and their tasks; returns how the creating went."""
    client = make_client(server.address)
    try:
        bursts = []
        for spec in specs:
            created_queue = await client.create_queue(parent=PARENT, queue=spec)
            bursts.append(created_queue.rate_limits.max_burst_size)
            if paused:
                await client.pause_queue(name=spec["name"])
        sent = failed = 0
        started = time.perf_counter()
        for queue, items in tasks.items():
            if isinstance(server, EngineProc):
                n, bad, _ = await batch_create(client, queue, iter(items), CALLERS, 600)
                failed += bad
            else:
                n, bad, _ = await create_each(client, queue, items, PEER_IN_FLIGHT, 600)
                failed += bad
            sent += n
        return {
            "created": sent,
            "create_failures": failed,
            "create_s": round(time.perf_counter() - started, 3),
            "reported_max_burst_size": sorted(set(bursts)),
        }
    finally:
        await client.transport.close()


async def resume(
    server: EngineProc | PeerProc, names: list[str], took: list[float] | None = None
) -> float:
    """Resume the queues (concurrently); returns the wall time when they were sent.

    ``took`` receives how long each ResumeQueue call took.
    """
    client = make_client(server.address)

    async def one(name: str) -> None:
        started = time.perf_counter()
        await client.resume_queue(name=name)
        if took is not None:
            took.append(time.perf_counter() - started)

    try:
        at = time.time()
        await asyncio.gather(*(one(n) for n in names))
        return at
    finally:
        await client.transport.close()


def make_tasks(
    target: str, queue: str, url: str, count: int, *, schedule: list[float] | None = None
) -> list[Any]:
    """Tasks for one queue; the peer gets names (it derives unnamed ones from the clock)."""
    named = target == "peer"
    return [
        task_pb(
            url,
            None if schedule is None else schedule[i],
            f"{queue}/tasks/t{i:07d}" if named else None,
        )
        for i in range(count)
    ]


def arrivals(sink: SinkProc) -> dict[str, list[float]]:
    """Sorted arrival times per queue id (X-CloudTasks-QueueName)."""
    out: dict[str, list[float]] = defaultdict(list)
    for record in sink.requests():
        out[record["queue"]].append(float(record["received"]))
    for times in out.values():
        times.sort()
    return out


def check_stored(server: EngineProc | PeerProc, expected: int) -> dict[str, Any]:
    if not isinstance(server, EngineProc):
        return {}
    stored = int(server.side("/v1/status")["tasks"])
    return {"stored_before_resume": stored, "stored_ok": stored == expected}


def stopping(*procs: Any) -> None:
    for proc in procs:
        try:
            proc.stop()
        except Exception:
            pass


class Sampler(threading.Thread):
    """Calls ``fn`` every ``interval`` seconds until stopped; keeps (time, value) pairs."""

    def __init__(self, fn: Any, interval: float) -> None:
        super().__init__(daemon=True)
        self.fn, self.interval = fn, interval
        self.samples: list[tuple[float, Any]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.interval):
            try:
                self.samples.append((time.time(), self.fn()))
            except Exception:
                pass

    def stop(self) -> list[tuple[float, Any]]:
        self.done.set()
        self.join(5)
        return self.samples


def side_probe(engine: EngineProc, sink: SinkProc) -> tuple[float, int, int]:
    """(ms GET /v1/status took, writes the store has committed, requests the sink has seen).

    The side port shares the engine's event loop with the gRPC API and the dispatcher, so its
    latency is the API's responsiveness under dispatch load; deliveries minus committed writes
    is the backlog of answered attempts whose outcome is not recorded yet.
    """
    started = time.perf_counter()
    status = engine.side("/v1/status")
    took = (time.perf_counter() - started) * 1000
    return took, int(status["store"]["writes"]), int(sink.stats()["total"])


# -- 1. throughput across queues --------------------------------------------------------------


def throughput(target: str, size: Size, workdir: Path, queues: int, count: int) -> dict[str, Any]:
    """``queues`` queues at 500/s, ``count`` tasks preloaded while paused, then all resumed."""
    server, sink = start_server(target, workdir), SinkProc()
    try:
        names = [f"tp{i}" for i in range(queues)]
        per_queue = count // len(names)
        specs = [queue_spec(n, rate=500) for n in names]
        tasks = {
            queue_path(n): make_tasks(target, queue_path(n), sink.url(), per_queue) for n in names
        }
        created = asyncio.run(setup(server, specs, tasks, paused=True))
        total = per_queue * len(names)
        created |= check_stored(server, total)
        probe, base = None, 0
        if isinstance(server, EngineProc):
            engine = server
            base = int(engine.side("/v1/status")["store"]["writes"])
            probe = Sampler(lambda: side_probe(engine, sink), 0.5)
            probe.start()
        cpu = Cpu(server=server.pid, sink=sink.pid)
        took: list[float] = []
        resumed_at = asyncio.run(resume(server, [queue_path(n) for n in names], took))
        cap = total / 1500 + 30 if target == "engine" else size.peer_cap_s
        got, _waited, ended = wait_for(lambda: int(sink.stats()["total"]), total, cap, stall=5)
        used = cpu.stop()
        probes = [v for _, v in probe.stop()] if probe else []
        api_ms = sorted(ms for ms, _, _ in probes)
        unrecorded = max((seen - (writes - base) for _, writes, seen in probes), default=None)
        by_queue = arrivals(sink)
        times = sorted(t for ts in by_queue.values() for t in ts)
        n = len(times)
        # "Sustained": while every queue is delivering: from 0.5 s after the last queue's
        # first arrival until the first queue runs dry.
        lo = max((ts[0] for ts in by_queue.values()), default=0.0) + 0.5
        hi = min((ts[-1] for ts in by_queue.values()), default=0.0)
        inside = sum(1 for t in times if lo <= t <= hi)
        return {
            "queues": len(names),
            "tasks": total,
            "delivered": got,
            "ended": ended,
            **created,
            "ceiling_per_s": 500 * len(names),
            "resume_rpc_s_max": round(max(took), 3) if took else None,
            "first_arrival_after_resume_ms": [
                round((by_queue[q][0] - resumed_at) * 1000) for q in sorted(by_queue)
            ],
            "overall_per_s": round((n - 1) / (times[-1] - times[0]), 1) if n > 1 else None,
            "sustained_per_s": round(inside / (hi - lo), 1) if hi - lo >= 1.0 else None,
            "sustained_window_s": round(hi - lo, 2),
            "per_queue_per_s": [
                round((len(ts) - 1) / (ts[-1] - ts[0]), 1)
                for _, ts in sorted(by_queue.items())
                if len(ts) > 1
            ],
            "side_port_latency_ms": {
                "n": len(api_ms),
                "p50": rnd(percentile(api_ms, 0.5), 1),
                "max": rnd(api_ms[-1] if api_ms else None, 1),
            },
            "max_delivered_not_recorded": unrecorded,
            "per_second_counts": list(sink.stats()["per_second"].values()),
            **used,
        }
    finally:
        stopping(server, sink)


# -- 2. rate accuracy ---------------------------------------------------------------------------


def rate(
    target: str, size: Size, workdir: Path, per_second: float, seconds: float
) -> dict[str, Any]:
    """One queue at ``per_second``: burst + rate * seconds tasks preloaded paused, then resumed."""
    server, sink = start_server(target, workdir), SinkProc()
    try:
        burst = burst_for_rate(per_second)
        count = burst + int(per_second * seconds)
        name = queue_path(f"rate{int(per_second)}")
        tasks = {name: make_tasks(target, name, sink.url(), count)}
        created = asyncio.run(
            setup(server, [queue_spec(name.rsplit("/", 1)[1], rate=per_second)], tasks, paused=True)
        )
        created |= check_stored(server, count)
        if target == "engine":  # exclude the burst the engine reports (GetQueue)
            burst = int(created["reported_max_burst_size"][0])
        cpu = Cpu(server=server.pid, sink=sink.pid)
        asyncio.run(resume(server, [name]))
        cap = seconds * 1.5 + 15 if target == "engine" else min(size.peer_cap_s, seconds + 10)
        got, _waited, ended = wait_for(lambda: int(sink.stats()["total"]), count, cap, stall=5)
        used = cpu.stop()
        times = sorted(t for ts in arrivals(sink).values() for t in ts)
        measured = rates(times, burst)
        steady = measured.get("steady_per_s")
        return {
            "configured_per_s": per_second,
            "max_burst_size": burst,
            "tasks": count,
            "delivered": got,
            "ended": ended,
            **created,
            **measured,
            "steady_error_pct": round((steady / per_second - 1) * 100, 3) if steady else None,
            **used,
        }
    finally:
        stopping(server, sink)


# -- 3. peak in flight vs the concurrency cap --------------------------------------------------


def concurrency(target: str, size: Size, workdir: Path) -> dict[str, Any]:
    """One queue, cap ``concurrency_cap``, rate 500/s, sink answering after ``delay``."""
    cap, delay = size.concurrency_cap, size.concurrency_delay
    server = start_server(target, workdir)
    sink = SinkProc(delay=delay, quiet=False)
    try:
        count = size.concurrency_tasks if target == "engine" else 50
        name = queue_path("capped")
        tasks = {name: make_tasks(target, name, sink.url(), count)}
        spec = queue_spec("capped", rate=500, concurrent=cap)
        created = asyncio.run(setup(server, [spec], tasks, paused=True))
        created |= check_stored(server, count)
        sampler = None
        if isinstance(server, EngineProc):
            engine = server

            def queue_stats() -> dict[str, Any]:
                stats: dict[str, Any] = engine.side("/v1/stats")["queues"][0]
                return stats

            sampler = Sampler(queue_stats, 0.25)
            sampler.start()
        cpu = Cpu(server=server.pid, sink=sink.pid)
        asyncio.run(resume(server, [name]))
        limit = count * delay / cap * 2 + 20 if target == "engine" else size.peer_cap_s
        got, _waited, ended = wait_for(lambda: int(sink.stats()["total"]), count, limit, stall=5)
        used = cpu.stop()
        full = sampler.stop() if sampler else []
        samples = [(t, int(q["in_flight"])) for t, q in full]
        steady_stats = [q for t, q in full if q["latency_p50_ms"] is not None]
        latency_p50 = (
            statistics.median(q["latency_p50_ms"] for q in steady_stats) if steady_stats else None
        )
        stats = sink.stats()
        times = sorted(t for ts in arrivals(sink).values() for t in ts)
        lo, hi = (times[0] + 1.0, times[-1] - 1.0) if times else (0.0, 0.0)
        steady_samples = sorted(v for t, v in samples if lo <= t <= hi)
        second_peaks = [
            line["in_flight_peak"]
            for line in sink.per_second_lines()
            if lo <= line["t"] and line["t"] + 1 <= hi
        ]
        mean_sink = mean_concurrency(times, delay, lo, hi) if hi > lo else None
        in_window = [t for t in times if lo <= t <= hi]
        steady = len(in_window) / (hi - lo) if hi > lo else None
        cycle_ms = cap / steady * 1000 if steady else None
        return {
            "cap": cap,
            "sink_delay_s": delay,
            "tasks": count,
            "delivered": got,
            "ended": ended,
            **created,
            "sink_peak_in_flight": stats["peak_in_flight"],
            "sink_mean_in_flight_steady": round(mean_sink, 2) if mean_sink else None,
            "sink_mean_utilization_pct": round(mean_sink / cap * 100, 1) if mean_sink else None,
            "sink_per_second_peaks_steady": second_peaks,
            "steady_per_s": rnd(steady, 1),
            # Little's law: each slot is reused every cap/rate seconds; the request itself
            # (as the engine times it) takes latency_p50; the rest is spent in the engine.
            "slot_cycle_ms": rnd(cycle_ms),
            "engine_request_latency_p50_ms": latency_p50,
            "slot_time_outside_request_ms": rnd(cycle_ms - latency_p50)
            if cycle_ms and latency_p50
            else None,
            "engine_in_flight_samples_steady": steady_samples,
            "engine_in_flight_max": max((v for _, v in samples), default=None),
            "engine_in_flight_median_steady": (
                statistics.median(steady_samples) if steady_samples else None
            ),
            **used,
        }
    finally:
        stopping(server, sink)


def rnd(value: float | None, digits: int = 2) -> float | None:
    """``round`` that passes None through."""
    return None if value is None else round(value, digits)
