"""public_port.PublicPort: gRPC and REST on one loopback listener, told apart by first bytes."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest

from tasksctl.engine import public_port
from tasksctl.engine.grpc_front import GrpcConnection
from tasksctl.engine.preface import PREFACE, is_grpc
from tasksctl.engine.public_port import PublicPort, _Sniffer, method_lookup

DEADLINE_S = 10.0
SERVICE = "test.Port"
REST_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nrest"
SETTINGS_ACK = b"\x00\x00\x00\x04\x01\x00\x00\x00\x00"


def _identity(data: bytes) -> bytes:
    return data


class Service:
    """Echo, and a call held until ``gate`` is set."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()

    async def echo(self, request: bytes, context: Any) -> bytes:
        return b"echo:" + request

    async def slow(self, request: bytes, context: Any) -> bytes:
        self.entered.set()
        await self.gate.wait()
        return b"slow:" + request

    def handler(self) -> Any:
        methods = {
            name: grpc.unary_unary_rpc_method_handler(
                behaviour, request_deserializer=_identity, response_serializer=_identity
            )
            for name, behaviour in (("Echo", self.echo), ("Slow", self.slow))
        }
        return grpc.method_handlers_generic_handler(SERVICE, methods)


class FakeRest(asyncio.Protocol):
    """Records what it reads; answers a fixed response once a request head is complete."""

    def __init__(self, received: list[bytearray]) -> None:
        self.data = bytearray()
        received.append(self.data)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.data += data
        if b"\r\n\r\n" in self.data and self.transport is not None:
            self.transport.write(REST_ANSWER)
            self.transport.close()


@dataclass
class Running:
    port: PublicPort
    number: int
    service: Service
    rest: list[bytearray] = field(default_factory=list)


@asynccontextmanager
async def running_port() -> AsyncIterator[Running]:
    listener = socket.create_server(("127.0.0.1", 0))
    service = Service()
    rest: list[bytearray] = []
    port = PublicPort(listener, [service.handler()], lambda: FakeRest(rest))
    await port.start()
    try:
        yield Running(port, listener.getsockname()[1], service, rest)
    finally:
        await port.close(0.0)


async def unary_call(number: int, method: str, request: bytes) -> bytes:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{number}") as channel:
        stub = channel.unary_unary(
            f"/{SERVICE}/{method}", request_serializer=_identity, response_deserializer=_identity
        )
        answer: bytes = await stub(request, timeout=DEADLINE_S)
        return answer


async def read_all(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.read(), DEADLINE_S)


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        (PREFACE, True),
        (b"PRI", True),
        (b"PR", None),
        (b"P", None),
        (b"", None),
        (b"POST /v2/x HTTP/1.1\r\n", False),
        (b"PATCH /v2/x HTTP/1.1\r\n", False),
        (b"PU", False),
        (b"GET / HTTP/1.1\r\n", False),
        (b"\x16\x03\x01", False),  # a TLS hello is not gRPC prior knowledge
    ],
)
def test_classification(first: bytes, expected: bool | None) -> None:
    assert is_grpc(first) is expected


class CountingHandler(grpc.GenericRpcHandler):  # type: ignore[misc]
    def __init__(self, known: dict[str, Any]) -> None:
        self.known = known
        self.asked: list[str] = []

    def service(self, details: Any) -> Any:
        self.asked.append(details.method)
        return self.known.get(details.method)


def test_method_lookup_finds_remembers_and_misses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(public_port, "LOOKUP_CACHE", 3)
    echo = object()
    first = CountingHandler({})
    second = CountingHandler({"/s/Echo": echo})
    lookup = method_lookup([first, second])
    assert lookup("/s/Echo") is echo
    assert lookup("/s/Echo") is echo
    assert second.asked == ["/s/Echo"], "looked up once"
    assert first.asked == ["/s/Echo"], "every handler is asked in order"
    assert lookup("/s/Nope") is None
    assert lookup("/s/Nope") is None
    assert second.asked == ["/s/Echo", "/s/Nope"], "a miss is remembered too"
    for index in range(5):  # the cache is full: further misses are asked every time
        assert lookup(f"/s/Other{index}") is None
    assert lookup("/s/Other4") is None
    assert second.asked.count("/s/Other4") == 2


async def test_an_http1_request_reaches_the_rest_protocol_with_every_byte() -> None:
    async with running_port() as running:
        request = b"GET /v2/projects/p/locations/l/queues HTTP/1.1\r\nHost: x\r\n\r\n"
        reader, writer = await asyncio.open_connection("127.0.0.1", running.number)
        writer.write(request[:2])  # fewer bytes than the sniffer needs, then the rest
        await writer.drain()
        writer.write(request[2:])
        assert await read_all(reader) == REST_ANSWER
        writer.close()
        assert [bytes(data) for data in running.rest] == [request]
        assert (running.port.rest_connections, running.port.grpc_connections) == (1, 0)


async def test_grpc_calls_work_on_the_same_port() -> None:
    async with running_port() as running:
        assert await unary_call(running.number, "Echo", b"hi") == b"echo:hi"
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await unary_call(running.number, "Missing", b"x")
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert running.port.grpc_connections == 2 and running.port.rest_connections == 0
        assert running.rest == []


async def test_a_preface_sent_byte_by_byte_is_still_grpc() -> None:
    async with running_port() as running:
        reader, writer = await asyncio.open_connection("127.0.0.1", running.number)
        writer.transport.get_extra_info("socket").setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
        )
        for byte in PREFACE:
            writer.write(bytes([byte]))
            await writer.drain()
        writer.write(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")  # an empty SETTINGS frame
        seen = b""
        while SETTINGS_ACK not in seen:  # the server's HTTP/2 answers: SETTINGS, ..., ACK
            chunk = await asyncio.wait_for(reader.read(1 << 16), DEADLINE_S)
            assert chunk, "closed instead of speaking HTTP/2"
            seen += chunk
        assert seen[3] == 4, "the first frame is the server's SETTINGS"
        writer.close()
        assert running.port.grpc_connections == 1 and running.rest == []


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.protocol: asyncio.BaseProtocol | None = None
        self.written = bytearray()
        self.closed = False

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


async def test_the_sniffer_waits_for_three_bytes_and_replays_them() -> None:
    """Deterministic split points (a socket may coalesce the bytes)."""
    with socket.socket() as unused:
        port = PublicPort(unused, [], lambda: FakeRest([]))
    transport = FakeTransport()
    sniffer = _Sniffer(port)
    sniffer.connection_made(transport)
    for byte in PREFACE[:2]:
        sniffer.data_received(bytes([byte]))
        assert transport.protocol is None, "undecided after fewer than three bytes"
    sniffer.data_received(PREFACE[2:] + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
    assert isinstance(transport.protocol, GrpcConnection)
    assert transport.written.endswith(SETTINGS_ACK), "the whole preface reached HTTP/2"
    assert port.grpc_connections == 1 and not transport.closed
    sniffer.connection_lost(None)


async def test_a_silent_connection_is_closed_after_the_classify_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(public_port, "CLASSIFY_TIMEOUT", 0.2)
    async with running_port() as running:
        reader, writer = await asyncio.open_connection("127.0.0.1", running.number)
        loop = asyncio.get_running_loop()
        opened = loop.time()
        assert await read_all(reader) == b""
        assert loop.time() - opened >= 0.15
        writer.close()
        assert (running.port.rest_connections, running.port.grpc_connections) == (0, 0)


async def test_close_lets_a_running_call_finish_within_the_grace() -> None:
    async with running_port() as running:
        call = asyncio.create_task(unary_call(running.number, "Slow", b"last"))
        await asyncio.wait_for(running.service.entered.wait(), DEADLINE_S)
        closing = asyncio.create_task(running.port.close(DEADLINE_S))
        await asyncio.sleep(0)
        assert not closing.done(), "close waits for the running call"
        running.service.gate.set()
        assert await asyncio.wait_for(call, DEADLINE_S) == b"slow:last"
        await asyncio.wait_for(closing, DEADLINE_S)  # returned when the connection closed
        assert running.port._connections == set()
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", running.number)


async def test_close_cuts_a_call_that_outlasts_the_grace() -> None:
    async with running_port() as running:
        call = asyncio.create_task(unary_call(running.number, "Slow", b"stuck"))
        await asyncio.wait_for(running.service.entered.wait(), DEADLINE_S)
        await asyncio.wait_for(running.port.close(0.05), DEADLINE_S)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await asyncio.wait_for(call, DEADLINE_S)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        running.service.gate.set()  # the handler finishing later answers nobody, harmlessly
        await asyncio.sleep(0)
