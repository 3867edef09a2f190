"""The load scenario of ``bench_latency.py``: API latency while the engine dispatches flat out.

One engine and one ``sink_server.py`` (answers 200 at once), both subprocesses on 127.0.0.1.
``queues`` queues at 500/s each (a ceiling far above what 2 cores deliver, so the engine, not
the rates, is the limit) get ``tasks`` tasks preloaded while paused; then all are resumed and,
while they dispatch, three probes run one call at a time, each paced every ``interval`` s:

* ``CreateTask`` (official async client) into a separate paused queue;
* ``GetQueue`` of one of the dispatching queues;
* ``GET /v1/stats`` on the side port (what ``engine top`` polls).

Only probes that start and end inside the dispatch window count: from the first delivery
after the resumes until the sink has seen 97 % of the tasks. The report gives p50/p99/max per
probe, the delivery rate at the sink over that window, and the largest backlog of answered but
unrecorded delivery outcomes the engine reported (``/v1/status``).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
from dispatch_harness import (
    PARENT,
    EngineProc,
    SinkProc,
    batch_create,
    cpu_seconds,
    load1,
    loadavg,
    make_client,
    percentile,
    queue_path,
    queue_spec,
    task_pb,
)

PROBE_QUEUE = "probe"


def summary_ms(values: list[float]) -> dict[str, Any]:
    ordered = sorted(values)
    out: dict[str, Any] = {"n": len(ordered)}
    for label, q in (("p50", 0.5), ("p99", 0.99)):
        value = percentile(ordered, q)
        out[label] = None if value is None else round(value * 1000, 2)
    out["max"] = round(ordered[-1] * 1000, 2) if ordered else None
    return out


async def _probe(
    name: str,
    call: Any,
    interval: float,
    stop: asyncio.Event,
    samples: dict[str, list[tuple[float, float]]],
) -> None:
    """Call ``call()`` every ``interval`` s (one at a time); keep (start, seconds) pairs."""
    out = samples.setdefault(name, [])
    errors = samples.setdefault(f"{name} errors", [])
    while not stop.is_set():
        started = time.perf_counter()
        try:
            await call()
        except Exception:
            errors.append((started, 0.0))
        else:
            out.append((started, time.perf_counter() - started))
        rest = interval - (time.perf_counter() - started)
        if rest > 0:
            try:
                await asyncio.wait_for(stop.wait(), rest)
            except TimeoutError:
                pass


async def _run(
    engine: EngineProc, sink: SinkProc, queues: int, tasks: int, interval: float, cap_s: float
) -> dict[str, Any]:
    names = [queue_path(f"load{i}") for i in range(queues)]
    client = make_client(engine.address)
    probe_client = make_client(engine.address)
    try:
        for name in names:
            await client.create_queue(parent=PARENT, queue=queue_spec(name.rsplit("/", 1)[1],
                                                                      rate=500))  # fmt: skip
            await client.pause_queue(name=name)
        probe_queue = queue_path(PROBE_QUEUE)
        await client.create_queue(parent=PARENT, queue={"name": probe_queue})
        await client.pause_queue(name=probe_queue)
        per_queue = tasks // queues
        started = time.perf_counter()
        for name in names:
            await batch_create(
                client, name, iter([task_pb(sink.url()) for _ in range(per_queue)]), 4, 600
            )
        create_s = time.perf_counter() - started
        total = per_queue * queues
        stored = int(engine.side("/v1/status")["tasks"])

        from google.cloud import tasks_v2

        task_msg = tasks_v2.Task.pb()
        request_pb = tasks_v2.CreateTaskRequest.pb()
        get_pb = tasks_v2.GetQueueRequest.pb()
        stats_url = f"http://127.0.0.1:{engine.http_port}/v1/stats"
        status_url = f"http://127.0.0.1:{engine.http_port}/v1/status"
        samples: dict[str, list[tuple[float, float]]] = {}
        backlog: list[tuple[float, int]] = []
        delivered: list[tuple[float, int]] = []
        stop = asyncio.Event()

        async with aiohttp.ClientSession() as http:

            async def create() -> None:
                task = task_msg(http_request={"url": sink.url("/probe"), "body": b"p"})
                request = tasks_v2.CreateTaskRequest.wrap(request_pb(parent=probe_queue, task=task))
                await probe_client.create_task(request=request, timeout=30)

            async def get_queue() -> None:
                request = tasks_v2.GetQueueRequest.wrap(get_pb(name=names[0]))
                await probe_client.get_queue(request=request, timeout=30)

            async def stats() -> None:
                async with http.get(stats_url) as resp:
                    await resp.read()

            async def watch() -> None:
                """Every 0.25 s: sink deliveries and the engine's unrecorded-outcome backlog."""
                while not stop.is_set():
                    now = time.perf_counter()
                    async with http.get(f"{sink.base}/__stats") as resp:
                        delivered.append((now, int((await resp.json())["total"])))
                    async with http.get(status_url) as resp:
                        status = await resp.json()
                    value = status.get("dispatcher_unrecorded")
                    if value is not None:
                        backlog.append((now, int(value)))
                    if delivered[-1][1] >= total:
                        stop.set()
                    try:
                        await asyncio.wait_for(stop.wait(), 0.25)
                    except TimeoutError:
                        pass

            cpu_before = cpu_seconds(engine.pid)
            resumed = time.perf_counter()
            await asyncio.gather(*(client.resume_queue(name=n) for n in names))
            probes = [
                asyncio.create_task(_probe("CreateTask", create, interval, stop, samples)),
                asyncio.create_task(_probe("GetQueue", get_queue, interval, stop, samples)),
                asyncio.create_task(_probe("GET /v1/stats", stats, interval, stop, samples)),
                asyncio.create_task(watch()),
            ]
            try:
                await asyncio.wait_for(stop.wait(), cap_s)
            except TimeoutError:
                pass
            stop.set()
            await asyncio.gather(*probes)
            cpu_used = cpu_seconds(engine.pid) - cpu_before
            ended = time.perf_counter()
    finally:
        await client.transport.close()
        await probe_client.transport.close()

    # The dispatch window: first delivery seen .. 97 % delivered (interpolated on the samples).
    lo = next((t for t, n in delivered if n > 0), resumed)
    hi = next((t for t, n in delivered if n >= 0.97 * total), ended)
    n_lo = next((n for t, n in delivered if t >= lo), 0)
    n_hi = next((n for t, n in delivered if t >= hi), delivered[-1][1] if delivered else 0)
    out: dict[str, Any] = {
        "queues": queues,
        "tasks": total,
        "stored_before_resume": stored,
        "preload_s": round(create_s, 2),
        "delivered": delivered[-1][1] if delivered else 0,
        "window_s": round(hi - lo, 2),
        "delivered_per_s_in_window": round((n_hi - n_lo) / (hi - lo), 1) if hi > lo else None,
        "first_delivery_after_resume_ms": round((lo - resumed) * 1000, 1),
        "engine_cpu_s": round(cpu_used, 2),
        "probe_interval_ms": round(interval * 1000, 1),
        "max_unrecorded_outcomes": max((v for _, v in backlog), default=None),
        "probes": {},
    }
    for name in ("CreateTask", "GetQueue", "GET /v1/stats"):
        inside = [
            took for start, took in samples.get(name, []) if lo <= start and start + took <= hi
        ]
        out["probes"][name] = summary_ms(inside)
        out["probes"][name]["errors"] = len(samples.get(f"{name} errors", []))
    return out


def run(workdir: Path, *, queues: int, tasks: int, interval: float, cap_s: float,
        engine_args: list[str]) -> dict[str, Any]:  # fmt: skip
    """One load scenario on a fresh engine and sink; returns its figures."""
    before = loadavg()
    engine = EngineProc(workdir, extra_args=engine_args)
    sink = SinkProc(record=False)
    try:
        result = asyncio.run(_run(engine, sink, queues, tasks, interval, cap_s))
    finally:
        engine.stop()
        sink.stop()
    result["engine_args"] = engine_args
    result["load_before"] = before
    result["load_after"] = loadavg()
    result["load1_before"] = float(before.split()[0])
    result["load1_after"] = load1()
    return result
