"""A real HTTP target in the test's own event loop: aiohttp on 127.0.0.1, requests on a queue.

Unlike tests/sink.py (a server thread polled from outside), this one lives on the loop that runs
the dispatcher under test, so a test awaits ``next()`` instead of polling, and each request
records the engine clock's time at its arrival.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Self

from aiohttp import web
from multidict import CIMultiDict

from tasksctl.engine.clock import Clock


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: CIMultiDict[str]
    body: bytes
    clock_us: int  # the engine clock when the request arrived


class LoopSink:
    """``async with LoopSink(clock) as sink``; ``sink.plan(path, 503, 200)``; ``await sink.next()``.

    A path's planned statuses are answered in turn; the last one repeats (default 200).
    ``hold(path)`` keeps its answers back until the test releases them.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.received: asyncio.Queue[Received] = asyncio.Queue()
        self._plans: dict[str, list[int]] = {}
        self._gates: dict[str, asyncio.Event] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    def plan(self, path: str, *statuses: int) -> None:
        self._plans[path] = list(statuses)

    def hold(self, path: str) -> asyncio.Event:
        """Answer requests to ``path`` only once the returned event is set (arrival is recorded
        at once)."""
        gate = self._gates[path] = asyncio.Event()
        return gate

    def url_for(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def next(self, timeout: float = 10.0) -> Received:
        return await asyncio.wait_for(self.received.get(), timeout)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.put_nowait(
            Received(
                request.method, request.path, CIMultiDict(request.headers), body,
                self.clock.now_us(),
            )
        )  # fmt: skip
        gate = self._gates.get(request.path)
        if gate is not None:
            await gate.wait()
        steps = self._plans.get(request.path, [200])
        status = steps.pop(0) if len(steps) > 1 else steps[0]
        return web.Response(status=status, text="sink")

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
