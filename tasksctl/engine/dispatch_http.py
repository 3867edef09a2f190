"""Side-port routes of the dispatcher (JSON contracts used by the CLI).

* OIDC discovery, JWKS and PEM certs (``oidc.register_routes``);
* ``GET /v1/failed?queue=<full queue name>``: tasks given up, with their attempt history;
* ``POST /v1/reset``: empty the engine, ``{"queues_deleted": n, "tasks_deleted": m}``;
* ``GET /v1/stats``: live per-queue figures for ``engine top`` (cached for 0.5 s).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tasksctl.engine import dispatch_records as drec
from tasksctl.engine import oidc
from tasksctl.engine.validation import STATE_NAMES

if TYPE_CHECKING:
    from tasksctl.engine.dispatcher import Dispatcher, QueueWorker
    from tasksctl.engine.runtime import Engine

STATS_CACHE_S = 0.5
RATE_WINDOW_S = 5.0
LATENCY_WINDOW_S = 60.0
_STATE_TEXT = {v: k for k, v in STATE_NAMES.items()}


def rfc3339(value_us: int) -> str:
    when = datetime.fromtimestamp(value_us / 1e6, UTC)
    return when.isoformat(timespec="microseconds").replace("+00:00", "Z")


def add_routes(app: web.Application, engine: Engine) -> None:
    """Mount the dispatcher's routes on the side port."""
    dispatcher: Dispatcher = engine.dispatcher
    oidc.register_routes(app, dispatcher.keys())
    cache: dict[str, Any] = {}

    async def failed(request: web.Request) -> web.Response:
        queue = request.query.get("queue", "")
        if not queue:
            return web.json_response({"error": "the queue parameter is required"}, status=400)
        now = engine.clock.now_us()
        rows = engine.store.read(lambda c: drec.list_failed(c, queue, now))
        tasks = [
            {
                "name": r.name,
                "url": r.url,
                "method": r.method,
                "gave_up_at": rfc3339(r.gave_up_us),
                "dispatch_count": r.dispatch_count,
                "attempts": [
                    {
                        "time": rfc3339(a["time_us"]),
                        "status": a["status"],
                        "latency_ms": a["latency_ms"],
                        "error": a["error"],
                        "response_head": a["response_head"],
                    }
                    for a in r.attempts
                ],
            }
            for r in rows
        ]
        return web.json_response({"tasks": tasks})

    async def reset(request: web.Request) -> web.Response:
        queues, tasks = await dispatcher.reset()
        engine.service.forget_queue_names()
        cache.clear()
        return web.json_response({"queues_deleted": queues, "tasks_deleted": tasks})

    async def stats(request: web.Request) -> web.Response:
        mono = time.monotonic()
        if cache and mono - cache["at"] < STATS_CACHE_S:
            return web.json_response(cache["payload"])
        payload = stats_payload(engine, dispatcher)
        cache.update(at=mono, payload=payload)
        return web.json_response(payload)

    app.router.add_get("/v1/failed", failed)
    app.router.add_post("/v1/reset", reset)
    app.router.add_get("/v1/stats", stats)


def stats_payload(engine: Engine, dispatcher: Dispatcher) -> dict[str, Any]:
    now = engine.clock.time()
    now_us = engine.clock.now_us()
    mono = time.monotonic()
    queues = []
    for name in sorted(engine.store.read(drec.queue_names)):
        worker = dispatcher.workers.get(name)
        if worker is None or worker.queue is None:
            continue
        queues.append(_queue_stats(engine, worker, now_us, mono))
    return {
        "time": now,
        "uptime_s": round(mono - engine.started_monotonic, 3),
        "queues": queues,
    }


def _queue_stats(engine: Engine, worker: QueueWorker, now_us: int, mono: float) -> dict[str, Any]:
    backlog, due = engine.store.read(lambda c: drec.queue_counts(c, worker.queue_id, now_us))
    in_flight = worker.sending
    flow = worker.flow
    latencies = sorted(r.latency_ms for r in worker.recent if mono - r.at <= LATENCY_WINDOW_S)

    def per_second(kinds: tuple[str, ...] | None) -> float:
        return round(worker.rates.per_second(RATE_WINDOW_S, mono, kinds), 3)

    limits = worker.queue.rate_limits
    return {
        "name": worker.name,
        "state": _STATE_TEXT.get(worker.queue.state, "STATE_UNSPECIFIED"),
        "backlog": backlog,
        "due": max(0, due - len(worker.in_flight)),
        "in_flight": in_flight,
        "max_concurrent": limits.max_concurrent_dispatches,
        "rate_limit": limits.max_dispatches_per_second,
        "effective_rate": round(flow.effective_rate, 3) if flow else 0.0,
        "dispatch_rate": per_second(None),
        "success_rate": per_second(("done",)),
        "retry_rate": per_second(("retry",)),
        "failure_rate": per_second(("gave_up",)),
        "latency_p50_ms": _percentile(latencies, 0.50),
        "latency_p99_ms": _percentile(latencies, 0.99),
    }


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    index = min(len(values) - 1, int(q * len(values)))
    return round(values[index], 3)
