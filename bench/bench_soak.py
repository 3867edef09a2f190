"""Soak: creates, dispatch through a faulty target, and engine restarts, for a few minutes.

    .venv/bin/python bench/bench_soak.py                    # 180 s, writes results/soak.{md,json}
    .venv/bin/python bench/bench_soak.py --seconds 60 --rate 100

One engine process (free loopback ports, temporary data dir) and, in this process, an aiohttp
target that fails transiently: 5 % of answers are 500, 10 % reset the connection, 5 % answer
after 0.3 s; the rest 200 at once. (More 5xx than that makes the engine throttle the queues, as
Cloud Tasks does on high error rates: at 20 % 500s a queue settles near 10 dispatches/s.)
Four queues retry without limit (0.1 s to 1 s backoff), so
every task must in the end be delivered with a 2xx. A creator thread makes named tasks at
``--rate``/s (bounded by ``--max-tasks``); every ``--restart-every`` seconds the engine is killed
(``kill -9`` or SIGTERM, alternating) and started again on the same data dir.

Reported: created (acknowledged creates), delivered (tasks that got a 2xx), duplicated (tasks
that got more than one 2xx: at-least-once allows them only around a kill), still queued
(acknowledged, not yet delivered, but in the engine after the drain), lost (acknowledged, never
delivered and no longer in the engine; target 0), crashes (engine exits nobody asked for; target 0),
engine RSS over each life (growth from 10 s after start to the end of that life), load average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from aiohttp import web

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PARENT = "projects/soak/locations/here"
QUEUES = [f"{PARENT}/queues/soak-{n}" for n in range(4)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FaultySink:
    """In-process aiohttp target on its own thread; counts 2xx answers per task name."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.ok: Counter[str] = Counter()
        self.attempts = 0
        self.lock = threading.Lock()
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        self.ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(runner.setup())
        self.loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self.ready.set()
        self.loop.run_forever()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        name = request.headers.get("X-CloudTasks-TaskName", "")
        await request.read()
        roll = self.rng.random()
        with self.lock:
            self.attempts += 1
        if roll < 0.05:
            return web.Response(status=500)
        if roll < 0.15:
            transport = request.transport
            if transport is not None:
                sock = transport.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                    )
                transport.close()
            return web.Response(status=500)
        if roll < 0.20:
            await asyncio.sleep(0.3)
        with self.lock:
            self.ok[name] += 1
        return web.Response(status=200)


class Engine:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.http_port = free_port()
        self.proc: subprocess.Popen[str] | None = None
        self.log = open(data_dir.parent / "engine.log", "a")

    def start(self) -> None:
        args = [
            sys.executable, "-m", "tasksctl", "engine", "run", "--host", "127.0.0.1",
            "--port", str(self.port), "--http-port", str(self.http_port),
            "--data-dir", str(self.data_dir), "--dedup-window", "1h",
        ]  # fmt: skip
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("tasksctl engine ready"):
                return
            if not line and self.proc.poll() is not None:
                break
        raise RuntimeError("engine did not start; see engine.log")

    def rss_mib(self) -> float | None:
        if self.proc is None:
            return None
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def stop(self, hard: bool) -> None:
        assert self.proc is not None
        if hard:
            self.proc.kill()
        else:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def make_client(address: str) -> Any:
    import grpc
    from google.cloud import tasks_v2
    from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

    channel = grpc.insecure_channel(address)
    return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))


def run(args: argparse.Namespace) -> dict[str, Any]:
    from google.api_core import exceptions as gexc

    rng = random.Random(args.seed)
    sink = FaultySink(args.seed)
    work = Path(tempfile.mkdtemp(prefix="tasksctl-soak-"))
    engine = Engine(work / "data")
    engine.start()
    client = make_client(f"127.0.0.1:{engine.port}")
    for name in QUEUES:
        client.create_queue(
            parent=PARENT,
            queue={"name": name,
                   "rate_limits": {"max_dispatches_per_second": 500},
                   "retry_config": {"max_attempts": -1, "min_backoff": {"nanos": 100_000_000},
                                    "max_backoff": {"seconds": 1}, "max_doublings": 3}},
        )  # fmt: skip
    acked: set[str] = set()
    state: dict[str, Any] = {"client": client, "running": True}
    stop = threading.Event()
    url = f"http://127.0.0.1:{sink.port}/work"

    def creator() -> None:
        n = 0
        next_at = time.monotonic()
        while not stop.is_set() and n < args.max_tasks:
            next_at += 1.0 / args.rate
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if not state["running"]:
                next_at = time.monotonic()
                continue
            n += 1
            task_id = f"t{n}"
            queue = QUEUES[n % len(QUEUES)]
            try:
                state["client"].create_task(
                    parent=queue,
                    task={"name": f"{queue}/tasks/{task_id}",
                          "http_request": {"url": url, "body": b"soak"}},
                    timeout=5.0, retry=None,
                )  # fmt: skip
                acked.add(task_id)
            except gexc.GoogleAPICallError:
                pass  # not acknowledged (the engine was going down): not counted

    thread = threading.Thread(target=creator, daemon=True)
    started = time.monotonic()
    thread.start()
    crashes = 0
    restarts = {"kill -9": 0, "SIGTERM": 0}
    lives: list[dict[str, Any]] = []
    life_start = time.monotonic()
    rss_first: float | None = None
    rss_last: float | None = None
    next_restart = started + args.restart_every * rng.uniform(0.6, 1.4)
    while time.monotonic() - started < args.seconds:
        time.sleep(0.5)
        if engine.proc is not None and engine.proc.poll() is not None:
            crashes += 1  # exited on its own
            engine.start()
            state["client"] = make_client(f"127.0.0.1:{engine.port}")
        if rss_first is None and time.monotonic() - life_start >= 10:
            rss_first = engine.rss_mib()
        rss_last = engine.rss_mib() or rss_last
        if time.monotonic() >= next_restart:
            hard = sum(restarts.values()) % 2 == 0
            state["running"] = False
            lives.append({"seconds": round(time.monotonic() - life_start, 1),
                          "rss_10s_mib": rss_first, "rss_end_mib": rss_last})  # fmt: skip
            engine.stop(hard=hard)
            restarts["kill -9" if hard else "SIGTERM"] += 1
            engine.start()
            state["client"] = make_client(f"127.0.0.1:{engine.port}")
            state["running"] = True
            life_start, rss_first, rss_last = time.monotonic(), None, None
            next_restart = time.monotonic() + args.restart_every * rng.uniform(0.6, 1.4)
    stop.set()
    thread.join(10)
    create_seconds = time.monotonic() - started
    drain_started = time.monotonic()
    while time.monotonic() - drain_started < args.drain:
        with sink.lock:
            delivered = set(sink.ok)
        if acked <= delivered:
            break
        time.sleep(0.5)
    drain_seconds = time.monotonic() - drain_started
    rss_last = engine.rss_mib() or rss_last
    lives.append({"seconds": round(time.monotonic() - life_start, 1),
                  "rss_10s_mib": rss_first, "rss_end_mib": rss_last})  # fmt: skip
    with sink.lock:
        ok = Counter(sink.ok)
        attempts = sink.attempts
    status = json.loads(
        __import__("urllib.request")
        .request.urlopen(f"http://127.0.0.1:{engine.http_port}/v1/status", timeout=10)
        .read()
    )
    queued: set[str] = set()
    final_client = make_client(f"127.0.0.1:{engine.port}")
    for name in QUEUES:
        queued.update(t.name.rsplit("/", 1)[-1] for t in final_client.list_tasks(parent=name))
    engine.stop(hard=False)
    log_text = (work / "engine.log").read_text(errors="replace")
    undelivered = acked - set(ok)
    lost = sorted(undelivered - queued, key=lambda t: int(t[1:]))
    return {
        "seconds": round(create_seconds, 1),
        "drain_seconds": round(drain_seconds, 1),
        "rate_target": args.rate,
        "created": len(acked),
        "delivered": sum(1 for t in acked if ok[t] > 0),
        "duplicated": sum(1 for t in acked if ok[t] > 1),
        "still_queued": len(undelivered & queued),
        "lost": len(lost),
        "lost_examples": lost[:10],
        "attempts_seen_by_sink": attempts,
        "left_in_engine": status.get("tasks"),
        "crashes": crashes,
        "restarts": restarts,
        "tracebacks_in_log": log_text.count("Traceback"),
        "lives": lives,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def report(result: dict[str, Any], args: argparse.Namespace) -> str:
    growth = [
        round(life["rss_end_mib"] - life["rss_10s_mib"], 1)
        for life in result["lives"]
        if life["rss_10s_mib"] and life["rss_end_mib"]
    ]
    lines = [
        "# Soak: creates, faulty dispatch and restarts (bench/bench_soak.py)",
        "",
        f"Run: `{' '.join(['.venv/bin/python', 'bench/bench_soak.py', *sys.argv[1:]])}`; "
        f"load average at the end {result['loadavg']} (2 cores, shared).",
        "",
        "| figure | value | target |",
        "|---|---|---|",
        f"| creating for | {result['seconds']} s at up to {args.rate}/s | |",
        f"| created (acknowledged) | {result['created']:,} | |",
        f"| delivered (2xx) | {result['delivered']:,} | = created |",
        f"| still queued after the drain | {result['still_queued']} | 0 |",
        f"| lost (neither delivered nor in the engine) | {result['lost']} | 0 |",
        f"| duplicated (2xx twice, around a kill) | {result['duplicated']} | small |",
        f"| crashes (unrequested exits) | {result['crashes']} | 0 |",
        f"| restarts | {result['restarts']['kill -9']} kill -9, "
        f"{result['restarts']['SIGTERM']} SIGTERM | |",
        f"| attempts seen by the target | {result['attempts_seen_by_sink']:,} | |",
        f"| drain after the last create | {result['drain_seconds']} s | |",
        f"| tasks left in the engine | {result['left_in_engine']} | 0 |",
        f"| tracebacks in the engine log | {result['tracebacks_in_log']} | 0 |",
        f"| RSS growth per life (10 s after start to end, MiB) | {growth} | flat |",
        "",
        "Engine lives: "
        + "; ".join(
            f"{life['seconds']} s, RSS {life['rss_10s_mib'] and round(life['rss_10s_mib'], 1)}"
            f" -> {life['rss_end_mib'] and round(life['rss_end_mib'], 1)} MiB"
            for life in result["lives"]
        ),
        "",
        "The target fails 5 % of answers with 500, resets 10 % of connections and delays 5 % by "
        "0.3 s; the queues retry without limit, so every acknowledged task must end up delivered.",
    ]
    if result["lost_examples"]:
        lines.append(f"\nLost (first 10): {result['lost_examples']}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="creating phase length")
    parser.add_argument("--rate", type=float, default=60.0, help="creates per second")
    parser.add_argument("--max-tasks", type=int, default=50_000)
    parser.add_argument("--restart-every", type=float, default=30.0)
    parser.add_argument("--drain", type=float, default=120.0, help="max seconds to drain")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    result = run(args)
    text = report(result, args)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "soak.md").write_text(text)
        (RESULTS / "soak.json").write_text(json.dumps(result, indent=2) + "\n")
    sys.exit(1 if result["lost"] or result["crashes"] else 0)


if __name__ == "__main__":
    main()
