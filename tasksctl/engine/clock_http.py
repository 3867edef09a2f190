"""Side-port routes for tests: the engine clock, the attempt history, idempotency drills.

Parameters come from the query string or a JSON object body (either works); answers are JSON,
errors ``{"error": "..."}`` with 400 (bad value), 404 (no such queue) or 409 (the clock is real).

* ``GET /v1/clock`` -> ``{"mode": "manual"|"real", "now": RFC3339, "now_us", "redeliver"}``
* ``POST /v1/clock:advance?by=DURATION`` (``10m``, ``2d``, seconds) and
  ``POST /v1/clock:set?time=RFC3339``: move the manual clock forward; answer once every attempt
  due by the new time was made and recorded: the clock fields plus ``"attempts": n``.
* ``GET /v1/attempts?task=NAME`` or ``?queue=NAME`` -> ``{"attempts": [...]}`` oldest first
  (``attempt_log.to_json``).
* ``GET /v1/queue-activity?queue=NAME`` -> ``{"tasks", "in_flight", "redeliveries"}``.
* ``POST /v1/redeliver?fraction=F`` -> ``{"redeliver": F}``: the ``--redeliver`` share, now.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tasksctl.engine import attempt_log, records
from tasksctl.engine import dispatch_records as drec
from tasksctl.engine.dispatch_http import rfc3339
from tasksctl.engine.spans import parse_span
from tasksctl.engine.time_control import ClockBackwards, ClockNotManual, TimeControl
from tasksctl.errors import TasksctlError

if TYPE_CHECKING:
    from tasksctl.engine.runtime import Engine

Handler = Callable[[web.Request], Awaitable[web.Response]]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _params(request: web.Request) -> dict[str, str]:
    params = dict(request.query)
    if request.can_read_body:
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            raise _Bad("the body is not JSON") from None
        if not isinstance(body, dict):
            raise _Bad("the body must be a JSON object")
        params.update({str(k): str(v) for k, v in body.items()})
    return params


class _Bad(Exception):
    pass


def _guard(handler: Handler) -> Handler:
    async def guarded(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except (_Bad, ClockBackwards, TasksctlError, ValueError) as exc:
            return _error(400, str(exc))
        except ClockNotManual as exc:
            return _error(409, str(exc))

    return guarded


def add_routes(app: web.Application, engine: Engine) -> None:
    """Mount the clock, attempt-history and redelivery routes."""
    dispatcher = engine.dispatcher
    control = TimeControl(dispatcher)

    def clock_state() -> dict[str, Any]:
        now = engine.clock.now_us()
        return {
            "mode": control.mode,
            "now": rfc3339(now),
            "now_us": now,
            "redeliver": dispatcher.redeliveries.fraction,
        }

    async def show(request: web.Request) -> web.Response:
        return web.json_response(clock_state())

    async def advance(request: web.Request) -> web.Response:
        text = (await _params(request)).get("by", "")
        made = await control.advance(parse_span(text))
        return web.json_response({**clock_state(), "attempts": made})

    async def set_time(request: web.Request) -> web.Response:
        from tasksctl.resources import parse_timestamp

        text = (await _params(request)).get("time", "")
        when = parse_timestamp(text, "time")
        target = int(when.timestamp()) * 1_000_000 + when.microsecond
        made = await control.advance_to(target)
        return web.json_response({**clock_state(), "attempts": made})

    async def attempts(request: web.Request) -> web.Response:
        task, queue = request.query.get("task"), request.query.get("queue")
        log = dispatcher.attempt_log
        if task:
            found = log.of_task(task)
        elif queue:
            found = log.of_queue(queue)
        else:
            raise _Bad("give task=NAME or queue=NAME")
        return web.json_response({"attempts": [attempt_log.to_json(a, rfc3339) for a in found]})

    async def activity(request: web.Request) -> web.Response:
        name = request.query.get("queue", "")
        if not name:
            raise _Bad("the queue parameter is required")
        found = engine.store.read(lambda c: records.find_queue(c, name))
        if found is None:
            return _error(404, f"no queue {name}")
        tasks, _ = engine.store.read(lambda c: drec.queue_counts(c, found.id, 0))
        worker = dispatcher.workers.get(name)
        return web.json_response(
            {
                "tasks": tasks,
                "in_flight": len(worker.in_flight) if worker is not None else 0,
                "redeliveries": dispatcher.redeliveries.pending(name),
            }
        )

    async def redeliver(request: web.Request) -> web.Response:
        text = (await _params(request)).get("fraction", "")
        try:
            fraction = float(text)
        except ValueError:
            raise _Bad(f"fraction must be a number from 0 to 1, not {text!r}") from None
        if not 0 <= fraction <= 1:
            raise _Bad(f"fraction must be from 0 to 1, not {fraction:g}")
        dispatcher.redeliveries.fraction = fraction
        return web.json_response({"redeliver": fraction})

    app.router.add_get("/v1/clock", _guard(show))
    app.router.add_post("/v1/clock:advance", _guard(advance))
    app.router.add_post("/v1/clock:set", _guard(set_time))
    app.router.add_get("/v1/attempts", _guard(attempts))
    app.router.add_get("/v1/queue-activity", _guard(activity))
    app.router.add_post("/v1/redeliver", _guard(redeliver))
