"""The engine's small HTTP side port (aiohttp): health, status, and room for more routes.

Other modules add their routes the same way ``add_routes`` does: a function taking the
``web.Application`` and the ``Engine``, appended to ``Engine.http_route_adders`` before start
(OIDC discovery/JWKS, dispatch statistics, ...).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from tasksctl import __version__
from tasksctl.engine import event_loop, records
from tasksctl.engine.launch_gate import ApiActivity
from tasksctl.engine.side_guard import SideGuard

if TYPE_CHECKING:
    from tasksctl.engine.runtime import Engine

ENGINE_KEY: web.AppKey[Engine] = web.AppKey("engine")


def build_app(engine: Engine) -> web.Application:
    """The side-port application with every registered route group, behind the guard."""
    guard = SideGuard(engine.config.host, lambda: engine.config.http_port)
    app = web.Application(middlewares=[guard.middleware, _api_first(engine.service.api_activity)])
    app[ENGINE_KEY] = engine
    for add in engine.http_route_adders:
        add(app, engine)
    return app


def _api_first(activity: ApiActivity) -> Middleware:
    """Count side-port reads (``engine top``, status checks) as API activity: the dispatcher
    yields to them (launch_gate.py). Writes such as ``clock:advance`` are dispatch work."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "GET":
            return await handler(request)
        activity.begin()
        try:
            return await handler(request)
        finally:
            activity.end()

    return middleware


def add_routes(app: web.Application, engine: Engine) -> None:
    """``GET /healthz`` and ``GET /v1/status``."""
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/v1/status", _status)


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def _status(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    return web.json_response(status_payload(engine))


def status_payload(engine: Engine) -> dict[str, object]:
    """What ``/v1/status`` answers (and ``tasksctl engine status`` prints)."""
    queues, tasks = engine.store.read(records.counts)
    config = engine.config
    return {
        "version": __version__,
        "pid": os.getpid(),
        "started_at": engine.started_at,
        "uptime_seconds": round(time.monotonic() - engine.started_monotonic, 3),
        "grpc_address": config.grpc_address,
        "http_url": config.http_url,
        "data_dir": str(config.data_dir),
        "dedup_window_seconds": config.dedup_window,
        "queue_tombstone_seconds": config.queue_tombstone_seconds,
        "queues": queues,
        "tasks": tasks,
        "durability": engine.store.durability,
        "event_loop": event_loop.running_loop_kind(),
        "grpc_server": engine.grpc_server,
        "store": {"batches": engine.store.batches, "writes": engine.store.ops},
        "dispatcher": True,
        # Delivery outcomes answered but not yet committed (bounded, see dispatcher.py).
        "dispatcher_unrecorded": engine.dispatcher.unrecorded,
    }
