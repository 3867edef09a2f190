"""The REST gateway: match an HTTP rule, build the request, await the gRPC handler, answer JSON.

The handlers are taken from the generic handlers the gRPC server registers (the public
``GenericRpcHandler.service`` lookup), so REST and gRPC run the very same code: validation,
storage and dispatch exist once. Where the gRPC path would ``context.abort``, ``_RestContext``
raises ``RestAbort``, which becomes Google's JSON error.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from aiohttp import web

from tasksctl.engine.rest.errors import RestAbort, invalid_argument, not_found
from tasksctl.engine.rest.rules import HttpRule, client_rules, split_verb
from tasksctl.engine.rest.transcode import build_request, response_json
from tasksctl.engine.rpc import find_method
from tasksctl.engine.side_guard import SideGuard

log = logging.getLogger("tasksctl.engine.rest")

# The services whose methods the v2 REST surface binds (CloudTasks and its two mixins).
SERVICES = (
    "google.cloud.tasks.v2.CloudTasks",
    "google.cloud.location.Locations",
    "google.longrunning.Operations",
)
# Google's HTTP front end refuses bigger request bodies with this 400.
MAX_REQUEST_BYTES = 32 * 1024 * 1024
# firebase-admin's emulator form of the task paths (no "/v2").
EMULATOR_PREFIX = "/projects/"
JSON_TYPE = "application/json; charset=UTF-8"

Call = Callable[[Any, Any], Awaitable[Any]]


@dataclass(frozen=True)
class Route:
    rule: HttpRule
    request_cls: Any
    call: Call


class _RestContext:
    """The part of ``grpc.aio.ServicerContext`` the handlers use: ``abort``."""

    async def abort(self, code: grpc.StatusCode, details: str = "", *_: Any) -> None:
        raise RestAbort(code.name, details)


_CONTEXT = _RestContext()


def build_routes(handlers: Sequence[grpc.GenericRpcHandler]) -> list[Route]:
    """Every client HTTP rule bound to the gRPC handler that serves its method."""
    routes: list[Route] = []
    for rule in client_rules():
        method = _find_handler(handlers, rule.method_name)
        if method is None:
            log.warning("no handler serves %s; its REST route is left out", rule.method_name)
            continue
        deserializer: Any = method.request_deserializer
        routes.append(Route(rule, deserializer.__self__, method.unary_unary))
    return routes


def _find_handler(
    handlers: Sequence[grpc.GenericRpcHandler], method_name: str
) -> grpc.RpcMethodHandler | None:
    for service in SERVICES:
        found = find_method(handlers, f"/{service}/{method_name}")
        if found is not None:
            return found
    return None


class RestGateway:
    """An aiohttp low-level handler serving the v2 REST surface from ``routes``."""

    def __init__(self, routes: list[Route], guard: SideGuard | None = None) -> None:
        self.guard = guard  # refuses browser cross-site writes and foreign Host names
        self._by_verb: dict[tuple[str, str], list[Route]] = {}
        for route in routes:
            key = (route.rule.http_method, route.rule.verb)
            self._by_verb.setdefault(key, []).append(route)

    def match(self, http_method: str, raw_path: str) -> tuple[Route, dict[str, str], bool]:
        """The route, its path variables, and whether the path came in the emulator form:
        ``/projects/...`` without ``/v2``, as firebase-admin sends to CLOUD_TASKS_EMULATOR_HOST."""
        path, verb = split_verb(raw_path)
        candidates = self._by_verb.get((http_method, verb), [])
        for candidate, emulator_form in ((path, False), ("/v2" + path, True)):
            if emulator_form and not path.startswith(EMULATOR_PREFIX):
                break
            for route in candidates:
                values = route.rule.match(candidate, verb)
                if values is not None:
                    return route, values, emulator_form
        raise not_found(f"The requested URL {raw_path} was not found on this server.")

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        pretty = request.query.get("prettyPrint", "true") != "false"
        refused = self.guard.rest_problem(request) if self.guard is not None else None
        if refused is not None:
            status = "PERMISSION_DENIED" if refused[0] == 403 else "INVALID_ARGUMENT"
            return _error(RestAbort(status, refused[1]), request)
        try:
            route, values, emulator_form = self.match(request.method, request.url.raw_path)
            body = await _read_body(request)
            message = build_request(
                route.rule, route.request_cls, values, request.query.items(), body
            )
            result = await route.call(message, _CONTEXT)
        except RestAbort as abort:
            return _error(abort, request)
        except Exception as exc:  # a bug here must not look like aiohttp's HTML page
            log.exception("REST %s %s failed", request.method, request.path)
            return _error(RestAbort("INTERNAL", f"Internal error: {exc}"), request)
        integer_enums = "enum-encoding=int" in request.query.get("$alt", "")
        wrap = emulator_form and route.rule.method_name == "CreateTask"
        body = response_json(result, integer_enums, pretty, wrap_task=wrap)
        return web.Response(body=body, content_type="application/json", charset="UTF-8")


async def _read_body(request: web.BaseRequest) -> bytes:
    length = request.content_length
    if length is not None and length > MAX_REQUEST_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    total = 0
    while chunk := await request.content.read(65536):
        total += len(chunk)
        if total > MAX_REQUEST_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large() -> RestAbort:
    return invalid_argument(f"Request payload size exceeds the limit: {MAX_REQUEST_BYTES} bytes.")


def _error(abort: RestAbort, request: web.BaseRequest) -> web.Response:
    response = web.Response(
        status=abort.http_status, body=abort.body(), content_type="application/json",
        charset="UTF-8",
    )  # fmt: skip
    if not request.content.at_eof():
        response.force_close()  # the unread body would otherwise be parsed as the next request
    return response


def build_server(
    handlers: Sequence[grpc.GenericRpcHandler], guard: SideGuard | None = None
) -> web.Server:
    """The aiohttp protocol factory serving REST; needs a running loop."""
    return web.Server(RestGateway(build_routes(handlers), guard), access_log=None)
