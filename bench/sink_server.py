"""A fast standalone HTTP target for the dispatch benchmarks.

    python bench/sink_server.py --port 9000 [--delay 0.05] [--status 200] [--duration 60]

Answers every request with ``--status`` (after ``--delay`` seconds) and counts it. Once a second
it prints a JSON line ``{"t": <second>, "count": <requests that second>, "in_flight_peak": ...,
"queues": {<X-CloudTasks-QueueName>: <count>}}``; on exit (SIGINT/SIGTERM or ``--duration``) it
prints a summary line ``{"summary": {...}}``. Control endpoints, not counted:

* ``GET /__stats``: totals, peak in flight, per-second counts, per-queue totals and schedule
  lateness percentiles (receive time minus ``X-CloudTasks-TaskETA`` for first attempts, ms);
* ``GET /__requests``: the recorded requests (queue, task, retry count, ETA, receive time) when
  ``--record`` is given (bounded by ``--max-records``), for retry-interval measurements;
* ``POST /__reset``: forget everything counted so far.

The first stdout line is ``sink ready on http://HOST:PORT`` so a harness can wait for it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from collections import Counter, defaultdict
from typing import Any

from aiohttp import web


class Stats:
    """Counters kept by the sink; reset by ``POST /__reset``."""

    def __init__(self, record: bool, max_records: int) -> None:
        self.record = record
        self.max_records = max_records
        self.reset()

    def reset(self) -> None:
        self.started = time.time()
        self.total = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self.second_peak = 0
        self.per_second: dict[int, int] = defaultdict(int)
        self.queue_second: dict[int, Counter[str]] = defaultdict(Counter)
        self.queues: Counter[str] = Counter()
        self.lateness_ms: list[float] = []
        self.records: list[dict[str, Any]] = []

    def summary(self) -> dict[str, Any]:
        late = sorted(self.lateness_ms)

        def pct(p: float) -> float | None:
            return round(late[min(len(late) - 1, int(p * len(late)))], 3) if late else None

        return {
            "total": self.total,
            "peak_in_flight": self.peak_in_flight,
            "elapsed": round(time.time() - self.started, 3),
            "per_second": {str(k): v for k, v in sorted(self.per_second.items())},
            "queues": dict(self.queues),
            "lateness_ms": {"n": len(late), "p50": pct(0.5), "p99": pct(0.99), "max": pct(1.0)},
        }


def make_handler(stats: Stats, status: int, delay: float) -> Any:
    async def handle(request: web.BaseRequest) -> web.Response:
        path = request.path
        if path == "/__stats":
            return web.json_response(stats.summary())
        if path == "/__requests":
            return web.json_response(stats.records)
        if path == "/__reset" and request.method == "POST":
            stats.reset()
            return web.json_response({"reset": True})
        now = time.time()
        second = int(now)
        stats.total += 1
        stats.in_flight += 1
        stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
        stats.second_peak = max(stats.second_peak, stats.in_flight)
        stats.per_second[second] += 1
        headers = request.headers
        queue = headers.get("X-CloudTasks-QueueName", "")
        stats.queues[queue] += 1
        stats.queue_second[second][queue] += 1
        retry = headers.get("X-CloudTasks-TaskRetryCount", "0")
        eta = headers.get("X-CloudTasks-TaskETA")
        if eta is not None and retry == "0":
            try:
                stats.lateness_ms.append((now - float(eta)) * 1000.0)
            except ValueError:
                pass
        if stats.record and len(stats.records) < stats.max_records:
            stats.records.append({
                "queue": queue,
                "task": headers.get("X-CloudTasks-TaskName", ""),
                "retry": retry,
                "eta": eta,
                "received": now,
            })  # fmt: skip
        try:
            await request.read()
            if delay > 0:
                await asyncio.sleep(delay)
            return web.Response(status=status)
        finally:
            stats.in_flight -= 1

    return handle


async def reporter(stats: Stats, quiet: bool) -> None:
    """Print the previous second's counts once a second."""
    while True:
        await asyncio.sleep(1.0 - (time.time() % 1.0))
        second = int(time.time()) - 1
        peak, stats.second_peak = stats.second_peak, stats.in_flight
        if quiet:
            continue
        line = {
            "t": second,
            "count": stats.per_second.get(second, 0),
            "in_flight_peak": peak,
            "queues": dict(stats.queue_second.pop(second, {})),
        }
        print(json.dumps(line), flush=True)


async def serve(args: argparse.Namespace) -> None:
    stats = Stats(args.record, args.max_records)
    server = web.Server(make_handler(stats, args.status, args.delay), access_log=None)
    runner = web.ServerRunner(server, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port, backlog=4096)
    await site.start()
    port = runner.addresses[0][1]
    print(f"sink ready on http://{args.host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    report = asyncio.create_task(reporter(stats, args.quiet))
    try:
        if args.duration > 0:
            await asyncio.wait_for(stop.wait(), args.duration)
        else:
            await stop.wait()
    except TimeoutError:
        pass
    finally:
        report.cancel()
        print(json.dumps({"summary": stats.summary()}), flush=True)
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before answering")
    parser.add_argument("--duration", type=float, default=0.0, help="stop after N s (0: never)")
    parser.add_argument("--record", action="store_true", help="keep per-request records")
    parser.add_argument("--max-records", type=int, default=200_000)
    parser.add_argument("--quiet", action="store_true", help="no per-second lines")
    args = parser.parse_args(argv)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
