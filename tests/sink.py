"""A real HTTP target for tests: an aiohttp server on 127.0.0.1 in a background thread.

    from tests.sink import Hang, HugeBody, Redirect, Reset, Respond, Sink, sink_fixture

    with Sink() as sink:
        sink.plan("/flaky", 503, 503, 200)          # per-path sequence; the last step repeats
        sink.plan("/slow", Respond(200, delay=0.5))
        ... dispatch to sink.url_for("/flaky") ...
        first, second, third = sink.wait_for(3, timeout=5, path="/flaky")
        assert first.headers["X-CloudTasks-TaskRetryCount"] == "0"

    sink = sink_fixture()   # in a test module: a function-scoped fixture named `sink`

Every request is recorded (method, path, query, headers, raw header names, body, monotonic and
wall receive times) before the plan answers it. Steps: an ``int`` status, :class:`Respond`
(status, body, headers, delay), :class:`Redirect`, :class:`Hang` (never answers; the time the
client drops the connection is recorded), :class:`Reset` (TCP RST, no answer) and
:class:`HugeBody` (a large body streamed lazily; the bytes actually written are recorded).
:class:`ServerThread` runs any other aiohttp application the same way (OIDC cert endpoints).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Self

import pytest
from aiohttp import web
from multidict import CIMultiDict


class ServerThread:
    """Serve an ``aiohttp.web.Application`` on 127.0.0.1:<free port> from a daemon thread."""

    def __init__(self, app: web.Application, host: str = "127.0.0.1") -> None:
        self.app = app
        self.host = host
        self.port = 0
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="test-http-server", daemon=True)
        self._ready = threading.Event()
        self._runner: web.AppRunner | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url_for(self, path: str) -> str:
        return self.url + (path if path.startswith("/") else "/" + path)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._start())
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        self.port = int(server.sockets[0].getsockname()[1])

    def start(self) -> Self:
        self._thread.start()
        if not self._ready.wait(10) or self._error is not None:
            raise RuntimeError(f"test server did not start: {self._error!r}")
        return self

    def call(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the server's loop (thread-safe)."""
        self.loop.call_soon_threadsafe(fn)

    async def _before_stop(self) -> None:
        """Hook for subclasses: release handlers that would otherwise never return."""

    def stop(self) -> None:
        if not self._thread.is_alive():
            return

        async def shutdown() -> None:
            await self._before_stop()
            if self._runner is not None:
                await self._runner.cleanup()

        future = asyncio.run_coroutine_threadsafe(shutdown(), self.loop)
        with contextlib.suppress(Exception):
            future.result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class Respond:
    """Answer ``status`` with ``body`` and ``headers`` after ``delay`` seconds."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def Redirect(location: str, status: int = 302) -> Respond:
    """A redirect answer (the dispatcher must not follow it)."""
    return Respond(status, headers={"Location": location})


@dataclass(frozen=True)
class Hang:
    """Never answer; return only when the client goes away or the sink closes."""


@dataclass(frozen=True)
class Reset:
    """Drop the connection with a TCP RST instead of answering."""


@dataclass(frozen=True)
class HugeBody:
    """Answer ``status`` with ``size`` bytes, written lazily in ``chunk``-sized pieces."""

    size: int = 50 * 1024 * 1024
    status: int = 200
    chunk: int = 64 * 1024


@dataclass(frozen=True)
class AllTogether:
    """Hold the answer until ``parties`` requests are in flight at once (or ``timeout`` passes),
    then answer ``status``: proves requests run side by side without betting on timing."""

    parties: int
    status: int = 200
    timeout: float = 10.0


Step = int | Respond | Hang | Reset | HugeBody | AllTogether


@dataclass
class Recorded:
    """One request as the sink received it."""

    seq: int
    method: str
    path: str
    query: str
    headers: CIMultiDict[str]
    header_names: list[str]
    body: bytes
    received_monotonic: float
    received_wall: float
    step: Step
    disconnected_monotonic: float | None = None  # Hang: when the client dropped the connection
    bytes_sent: int = 0  # HugeBody: body bytes written before the client went away


class Sink(ServerThread):
    """Records every request and answers it according to a programmable plan."""

    def __init__(self, default: Step = 200) -> None:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        super().__init__(app)
        self.default: Step = default
        self._plans: dict[str, list[Step]] = {}
        self._records: list[Recorded] = []
        self._cond = threading.Condition()
        self._in_flight = 0
        self.peak_in_flight = 0
        self._closing: asyncio.Event | None = None

    # -- programming the answers ------------------------------------------------------------

    def plan(self, path: str, *steps: Step) -> Sink:
        """Answer requests to ``path`` with ``steps`` in order; the last step repeats."""
        if not steps:
            raise ValueError("plan() needs at least one step")
        with self._cond:
            self._plans[path] = list(steps)
        return self

    def _next_step(self, path: str) -> Step:
        with self._cond:
            steps = self._plans.get(path)
            if not steps:
                return self.default
            return steps.pop(0) if len(steps) > 1 else steps[0]

    # -- reading what arrived ----------------------------------------------------------------

    @property
    def requests(self) -> list[Recorded]:
        with self._cond:
            return list(self._records)

    def requests_for(self, path: str) -> list[Recorded]:
        with self._cond:
            return [r for r in self._records if r.path == path]

    @property
    def in_flight(self) -> int:
        with self._cond:
            return self._in_flight

    def wait_for(self, n: int, timeout: float = 5.0, path: str | None = None) -> list[Recorded]:
        """Block until ``n`` requests (to ``path``, if given) arrived; returns them in order."""

        def matching() -> list[Recorded]:
            return [r for r in self._records if path is None or r.path == path]

        with self._cond:
            if not self._cond.wait_for(lambda: len(matching()) >= n, timeout):
                got = len(matching())
                raise AssertionError(f"sink got {got} of {n} requests within {timeout}s")
            return matching()

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Block until ``predicate()`` holds (checked whenever the sink records something)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"condition not met within {timeout}s")
                self._cond.wait(min(left, 0.02))

    # -- serving -----------------------------------------------------------------------------

    async def _before_stop(self) -> None:
        if self._closing is not None:
            self._closing.set()

    def _closing_event(self) -> asyncio.Event:
        if self._closing is None:
            self._closing = asyncio.Event()
        return self._closing

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        received_monotonic, received_wall = time.monotonic(), time.time()
        body = await request.read()
        step = self._next_step(request.path)
        with self._cond:
            record = Recorded(
                seq=len(self._records),
                method=request.method,
                path=request.path,
                query=request.query_string,
                headers=CIMultiDict(request.headers),
                header_names=[k.decode("latin-1") for k, _ in request.raw_headers],
                body=body,
                received_monotonic=received_monotonic,
                received_wall=received_wall,
                step=step,
            )
            self._records.append(record)
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            self._cond.notify_all()
        try:
            return await self._answer(request, step, record)
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()

    async def _answer(
        self, request: web.Request, step: Step, record: Recorded
    ) -> web.StreamResponse:
        if isinstance(step, int):
            step = Respond(step)
        if isinstance(step, Respond):
            if step.delay:
                await asyncio.sleep(step.delay)
            return web.Response(status=step.status, body=step.body, headers=step.headers)
        if isinstance(step, AllTogether):
            closing = self._closing_event()
            deadline = time.monotonic() + step.timeout
            while self.peak_in_flight < step.parties and not closing.is_set():
                if time.monotonic() >= deadline:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(closing.wait(), 0.002)
            return web.Response(status=step.status)
        if isinstance(step, Hang):
            closing = self._closing_event()
            while not closing.is_set():
                transport = request.transport
                if transport is None or transport.is_closing():
                    with self._cond:
                        record.disconnected_monotonic = time.monotonic()
                        self._cond.notify_all()
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(closing.wait(), 0.005)
            return web.Response(status=504)
        if isinstance(step, Reset):
            transport = request.transport
            if transport is not None:
                sock = transport.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                transport.abort()
            raise asyncio.CancelledError  # nothing left to answer on
        return await self._huge(request, step, record)

    async def _huge(
        self, request: web.Request, step: HugeBody, record: Recorded
    ) -> web.StreamResponse:
        response = web.StreamResponse(status=step.status)
        response.content_length = step.size
        response.content_type = "application/octet-stream"
        await response.prepare(request)
        chunk = b"x" * step.chunk
        sent = 0
        try:
            while sent < step.size:
                piece = chunk[: min(step.chunk, step.size - sent)]
                await response.write(piece)
                sent += len(piece)
                with self._cond:
                    record.bytes_sent = sent
            await response.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the client stopped reading and closed: exactly what we test for
        return response


def sink_fixture(default: Step = 200) -> Any:
    """A function-scoped pytest fixture yielding a started :class:`Sink`.

    Assign it in a test module (``sink = sink_fixture()``) to get a fixture named ``sink``.
    """

    @pytest.fixture
    def _sink() -> Iterator[Sink]:
        with Sink(default) as sink:
            yield sink

    return _sink
