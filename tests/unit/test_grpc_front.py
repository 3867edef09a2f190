"""grpc_front.GrpcConnection on a real loopback socket: grpc.aio as a client, h2 for framing."""

from __future__ import annotations

import asyncio
import gzip
import urllib.parse
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

import grpc
import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest
from h2.errors import ErrorCodes
from hpack import Decoder, Encoder
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    HeadersFrame,
    SettingsFrame,
)

from tasksctl.engine import grpc_front
from tasksctl.engine.grpc_front import MESSAGE_LIMIT, GrpcConnection, status_trailers
from tasksctl.engine.preface import PREFACE

DEADLINE_S = 10.0
SERVICE = "/test.Front/"
BIG = bytes(range(256)) * 1200  # 307,200 bytes
FAIL_MESSAGE = "naïve 100% sure: ✓ %41 über\tend"
E = TypeVar("E")

# Frame types, as the RFC numbers them (independent of the module's own constants).
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8
END_STREAM = ACK = 0x1


def _identity(data: bytes) -> bytes:
    return data


def _unary(behaviour: Callable[[bytes, Any], Any]) -> Any:
    return grpc.unary_unary_rpc_method_handler(
        behaviour, request_deserializer=_identity, response_serializer=_identity
    )


class Handlers:
    """The test service: echo, abort, raise, a slow call held by ``gate``, a big answer."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        self.slow_returned = asyncio.Event()
        self.table = {
            SERVICE + "Echo": _unary(self.echo),
            SERVICE + "Fail": _unary(self.fail),
            SERVICE + "Boom": _unary(self.boom),
            SERVICE + "Slow": _unary(self.slow),
            SERVICE + "Big": _unary(self.big),
            SERVICE + "Long": _unary(self.long_error),
        }

    def lookup(self, path: str) -> Any:
        return self.table.get(path)

    async def echo(self, request: bytes, context: Any) -> bytes:
        await asyncio.sleep(0)  # answered from the task, not on the reading stack
        return request

    async def fail(self, request: bytes, context: Any) -> bytes:
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION, FAIL_MESSAGE)
        raise AssertionError("abort returned")

    async def boom(self, request: bytes, context: Any) -> bytes:
        raise ValueError("boom")

    async def slow(self, request: bytes, context: Any) -> bytes:
        self.entered.set()
        await self.gate.wait()
        self.slow_returned.set()
        return b"slow:" + request

    async def big(self, request: bytes, context: Any) -> bytes:
        return BIG

    async def long_error(self, request: bytes, context: Any) -> bytes:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "é" * 50_000)
        raise AssertionError("abort returned")


class CountingConnection(GrpcConnection):
    """Counts the bytes the server read (to see that a compressed request was compressed)."""

    received = 0

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        super().data_received(data)


@dataclass
class Server:
    port: int
    handlers: Handlers
    connections: list[CountingConnection] = field(default_factory=list)
    closed: list[GrpcConnection] = field(default_factory=list)


@asynccontextmanager
async def serve() -> AsyncIterator[Server]:
    """A GrpcConnection server on 127.0.0.1, on this loop."""
    handlers = Handlers()
    state = Server(0, handlers)

    def factory() -> CountingConnection:
        connection = CountingConnection(handlers.lookup, state.closed.append)
        state.connections.append(connection)
        return connection

    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()
        for connection in state.connections:
            connection.abort()
        await server.wait_closed()


async def unary_call(channel: Any, method: str, request: bytes) -> bytes:
    stub = channel.unary_unary(
        SERVICE + method, request_serializer=_identity, response_deserializer=_identity
    )
    answer: bytes = await stub(request, timeout=DEADLINE_S)
    return answer


def message(body: bytes, compressed: bool = False) -> bytes:
    """A gRPC length-prefixed message."""
    return bytes([compressed]) + len(body).to_bytes(4, "big") + body


def request_headers(method: str, *extra: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    return [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", (SERVICE + method).encode()),
        (b":authority", b"127.0.0.1"),
        (b"content-type", b"application/grpc"),
        (b"te", b"trailers"),
        *extra,
    ]


def parse_frames(data: bytes) -> list[Frame]:
    """hyperframe's view of serialized frames (e.g. what h2 meant to send)."""
    frames, pos = [], 0
    while pos < len(data):
        frame, length = Frame.parse_frame_header(memoryview(data[pos : pos + 9]))
        frame.parse_body(memoryview(data[pos + 9 : pos + 9 + length]))
        frames.append(frame)
        pos += 9 + length
    return frames


class RawFrame(NamedTuple):
    type: int
    flags: int
    stream: int
    payload: bytes


class Peer:
    """A client on asyncio streams: every frame the server sends is logged raw and, with an
    ``h2`` connection, fed to h2 too (whose automatic answers, e.g. SETTINGS ACK, are sent)."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        conn: h2.connection.H2Connection | None,
    ) -> None:
        self.reader, self.writer, self.h2 = reader, writer, conn
        self.frames: list[RawFrame] = []
        self.events: list[h2.events.Event] = []
        self.eof = False
        self._buffer = b""

    @classmethod
    async def open(cls, port: int, use_h2: bool = True) -> Peer:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        conn = None
        if use_h2:
            config = h2.config.H2Configuration(client_side=True, header_encoding=None)
            conn = h2.connection.H2Connection(config=config)
            conn.initiate_connection()
        peer = cls(reader, writer, conn)
        peer.flush()
        return peer

    def flush(self) -> None:
        if self.h2 is not None and (data := self.h2.data_to_send()):
            self.writer.write(data)

    def write(self, data: bytes) -> None:
        self.writer.write(data)

    async def pump(self, until: Callable[[], bool]) -> None:
        """Read (bounded in time) until ``until()`` holds; fails if the server closes first."""
        while not until():
            assert not self.eof, "the server closed the connection first"
            chunk = await asyncio.wait_for(self.reader.read(1 << 16), DEADLINE_S)
            if not chunk:
                self.eof = True
                continue
            self._buffer += chunk
            while len(self._buffer) >= 9:
                length = int.from_bytes(self._buffer[:3], "big")
                if len(self._buffer) < 9 + length:
                    break
                head, self._buffer = self._buffer[: 9 + length], self._buffer[9 + length :]
                stream = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
                self.frames.append(RawFrame(head[3], head[4], stream, head[9:]))
            if self.h2 is not None:
                self.events += self.h2.receive_data(chunk)
                self.flush()

    async def until_eof(self) -> None:
        await self.pump(lambda: self.eof)

    def of_type(self, ftype: int, stream: int | None = None) -> list[RawFrame]:
        return [f for f in self.frames if f.type == ftype and stream in (None, f.stream)]

    def events_of(self, kind: type[E], stream: int | None = None) -> list[E]:
        return [
            event
            for event in self.events
            if isinstance(event, kind) and stream in (None, getattr(event, "stream_id", None))
        ]

    def ended(self, stream: int) -> Callable[[], bool]:
        return lambda: bool(self.events_of(h2.events.StreamEnded, stream))

    def answer(self, stream: int) -> tuple[dict[bytes, bytes], bytes, dict[bytes, bytes]]:
        """(response headers, body, trailers) h2 decoded for ``stream``."""
        headers: dict[bytes, bytes] = {}
        for received in self.events_of(h2.events.ResponseReceived, stream):
            headers.update((bytes(k), bytes(v)) for k, v in received.headers or ())
        body = b"".join(e.data or b"" for e in self.events_of(h2.events.DataReceived, stream))
        trailers: dict[bytes, bytes] = {}
        for received_trailers in self.events_of(h2.events.TrailersReceived, stream):
            trailers.update((bytes(k), bytes(v)) for k, v in received_trailers.headers or ())
        return headers, body, trailers

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass


async def settled_peer(port: int, settings: dict[Any, int] | None = None) -> Peer:
    """An h2 peer whose SETTINGS (with ``settings``) the server has acknowledged."""
    peer = await Peer.open(port)
    assert peer.h2 is not None
    if settings:
        peer.h2.update_settings(settings)
        peer.flush()
    await peer.pump(
        lambda: len(peer.events_of(h2.events.SettingsAcknowledged)) == 1 + bool(settings)
    )
    return peer


def send_call(peer: Peer, stream: int, method: str, body: bytes) -> None:
    assert peer.h2 is not None
    peer.h2.send_headers(stream, request_headers(method))
    peer.h2.send_data(stream, message(body), end_stream=True)
    peer.flush()


# -- grpc.aio as the client --------------------------------------------------------------------


async def test_a_call_round_trips_its_bytes() -> None:
    async with serve() as server, grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        payload = bytes(range(256)) + "é".encode()
        assert await unary_call(ch, "Echo", payload) == payload
        assert await unary_call(ch, "Echo", b"") == b""


async def test_an_abort_reaches_the_client_with_its_code_and_exact_details() -> None:
    async with serve() as server, grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await unary_call(ch, "Fail", b"x")
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert caught.value.details() == FAIL_MESSAGE
        # The connection is still good for the next call.
        assert await unary_call(ch, "Echo", b"after") == b"after"


async def test_a_very_long_error_message_is_cut_to_fit_one_frame() -> None:
    async with serve() as server, grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await unary_call(ch, "Long", b"x")
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert caught.value.details() == "é" * MESSAGE_LIMIT + "…"
        assert await unary_call(ch, "Echo", b"after") == b"after"


async def test_a_handler_exception_is_internal() -> None:
    async with serve() as server, grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await unary_call(ch, "Boom", b"x")
        assert caught.value.code() == grpc.StatusCode.INTERNAL
        assert caught.value.details() == "boom"


async def test_an_unknown_method_is_unimplemented() -> None:
    async with serve() as server, grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await unary_call(ch, "Nope", b"x")
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert caught.value.details() == f"Method not found: {SERVICE}Nope"


async def test_64_concurrent_calls_on_one_channel_each_get_their_own_answer() -> None:
    async with serve() as server, grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        payloads = [f"call-{index}".encode() * (index + 1) for index in range(64)]
        answers = await asyncio.gather(*(unary_call(ch, "Echo", p) for p in payloads))
        assert answers == payloads
        assert len(server.connections) == 1


async def test_a_big_answer_and_a_big_request() -> None:
    async with serve() as server, grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        assert await unary_call(ch, "Big", b"") == BIG
        request = bytes(reversed(range(256))) * 5000  # 1.28 MB: more than the 64 KiB windows
        assert await unary_call(ch, "Echo", request) == request


async def test_a_gzip_channel_sends_compressed_requests_that_are_understood() -> None:
    async with (
        serve() as server,
        grpc.aio.insecure_channel(
            f"127.0.0.1:{server.port}", compression=grpc.Compression.Gzip
        ) as ch,
    ):
        request = b"compress me, " * 20_000  # 260 KB that gzip shrinks a lot
        assert await unary_call(ch, "Echo", request) == request
        assert server.connections[0].received < len(request) // 4, "it was sent compressed"


async def test_a_request_over_the_size_limit_is_resource_exhausted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(grpc_front, "MAX_MESSAGE", 1000)
    async with serve() as server, grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as ch:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await unary_call(ch, "Echo", b"x" * 5000)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert await unary_call(ch, "Echo", b"y" * 900) == b"y" * 900


def test_status_trailers_percent_encode_the_message() -> None:
    decoded = dict(Decoder().decode(status_trailers(9, FAIL_MESSAGE), raw=True))
    assert decoded[b"grpc-status"] == b"9"
    encoded = decoded[b"grpc-message"]
    assert encoded.isascii() and b"\t" not in encoded
    assert urllib.parse.unquote(encoded.decode()) == FAIL_MESSAGE
    assert b"grpc-message" not in dict(Decoder().decode(status_trailers(0, ""), raw=True))


# -- h2 as the client: framing -----------------------------------------------------------------


async def test_settings_are_exchanged_and_acknowledged() -> None:
    async with serve() as server:
        peer = await settled_peer(server.port)
        assert peer.h2 is not None
        remote = peer.h2.remote_settings
        assert remote.max_concurrent_streams == grpc_front.STREAMS_LIMIT
        assert remote.initial_window_size == grpc_front.RECV_WINDOW
        assert remote.max_frame_size == grpc_front.RECV_FRAME
        [update] = peer.of_type(WINDOW_UPDATE, 0)  # the connection window is opened up as well
        assert int.from_bytes(update.payload, "big") == grpc_front.RECV_WINDOW - 65_535
        await peer.close()


async def test_a_ping_is_answered_with_the_same_payload() -> None:
    async with serve() as server:
        peer = await settled_peer(server.port)
        assert peer.h2 is not None
        peer.h2.ping(b"8 bytes!")
        peer.flush()
        await peer.pump(lambda: bool(peer.events_of(h2.events.PingAckReceived)))
        [ack] = peer.events_of(h2.events.PingAckReceived)
        assert ack.ping_data == b"8 bytes!"
        assert [(f.flags, f.payload) for f in peer.of_type(PING)] == [(ACK, b"8 bytes!")]
        await peer.close()


async def test_padded_headers_with_priority_and_padded_data() -> None:
    async with serve() as server:
        peer = await settled_peer(server.port)
        assert peer.h2 is not None
        peer.h2.send_headers(1, request_headers("Echo"))
        [plain] = parse_frames(peer.h2.data_to_send())
        assert isinstance(plain, HeadersFrame)
        padded = HeadersFrame(
            1, plain.data, flags=["END_HEADERS", "PADDED", "PRIORITY"], pad_length=200
        )
        padded.depends_on, padded.stream_weight = 0, 15
        peer.write(padded.serialize())
        peer.h2.send_data(1, message(b"padded"), end_stream=True, pad_length=100)
        peer.flush()
        await peer.pump(peer.ended(1))
        headers, body, trailers = peer.answer(1)
        assert headers[b":status"] == b"200"
        assert headers[b"content-type"] == b"application/grpc"
        assert body == message(b"padded")
        assert trailers == {b"grpc-status": b"0"}
        await peer.close()


async def test_a_header_block_split_over_headers_and_continuations() -> None:
    async with serve() as server:
        peer = await settled_peer(server.port)
        assert peer.h2 is not None
        peer.h2.send_headers(1, request_headers("Echo", (b"x-filler", b"f" * 300)))
        [plain] = parse_frames(peer.h2.data_to_send())
        assert isinstance(plain, HeadersFrame)
        block = plain.data
        pieces = [
            HeadersFrame(1, block[:7]),
            ContinuationFrame(1, block[7:150]),
            ContinuationFrame(1, block[150:], flags=["END_HEADERS"]),
        ]
        peer.write(b"".join(piece.serialize() for piece in pieces))
        peer.h2.send_data(1, message(b"continued"), end_stream=True)
        peer.flush()
        await peer.pump(peer.ended(1))
        _headers, body, trailers = peer.answer(1)
        assert body == message(b"continued")
        assert trailers == {b"grpc-status": b"0"}
        await peer.close()


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [(b"gzip", gzip.compress), (b"deflate", zlib.compress)],
)
async def test_compressed_requests_are_decompressed(
    encoding: bytes, compress: Callable[[bytes], bytes]
) -> None:
    async with serve() as server:
        peer = await settled_peer(server.port)
        assert peer.h2 is not None
        payload = b"squeeze " * 500
        peer.h2.send_headers(1, request_headers("Echo", (b"grpc-encoding", encoding)))
        peer.h2.send_data(1, message(compress(payload), compressed=True), end_stream=True)
        # An unknown encoding is refused, not misread.
        peer.h2.send_headers(3, request_headers("Echo", (b"grpc-encoding", b"snappy")))
        peer.h2.send_data(3, message(b"whatever", compressed=True), end_stream=True)
        peer.flush()
        await peer.pump(lambda: peer.ended(1)() and peer.ended(3)())
        assert peer.answer(1)[1] == message(payload)
        _headers, body, trailers = peer.answer(3)
        assert body == b""
        assert trailers == {} and peer.answer(3)[0][b"grpc-status"] == b"12"  # trailers-only
        await peer.close()


async def test_a_small_client_window_gets_the_big_answer_only_as_credit_is_granted() -> None:
    window = 1000
    async with serve() as server:
        settings = {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window}
        peer = await settled_peer(server.port, settings)
        assert peer.h2 is not None
        send_call(peer, 1, "Big", b"")
        granted = window

        def received() -> int:
            return sum(len(e.data or b"") for e in peer.events_of(h2.events.DataReceived, 1))

        def window_spent_or_done(limit: int) -> Callable[[], bool]:
            return lambda: received() >= limit or peer.ended(1)()

        while not peer.ended(1)():
            await peer.pump(window_spent_or_done(granted))
            got = received()
            assert got <= granted, "the server sent more than the window allowed"
            if got == granted:
                peer.h2.increment_flow_control_window(window, stream_id=1)
                peer.h2.increment_flow_control_window(window)
                peer.flush()
                granted += window
        data_frames = peer.of_type(DATA, 1)
        assert all(len(f.payload) <= window for f in data_frames)
        assert len(data_frames) >= (len(BIG) + 5) // window
        _headers, body, trailers = peer.answer(1)
        assert body == message(BIG)
        assert trailers == {b"grpc-status": b"0"}
        last = peer.frames.index(peer.of_type(HEADERS, 1)[-1])
        assert last > peer.frames.index(data_frames[-1]), "the trailers come after all data"
        await peer.close()


async def test_a_reset_stream_gets_no_answer_and_the_connection_carries_on() -> None:
    async with serve() as server:
        peer = await settled_peer(server.port)
        assert peer.h2 is not None
        send_call(peer, 1, "Slow", b"never answered")
        await asyncio.wait_for(server.handlers.entered.wait(), DEADLINE_S)
        peer.h2.reset_stream(1, ErrorCodes.CANCEL)
        peer.h2.ping(b"after-rs")  # answered once the server has read the RST_STREAM
        peer.flush()
        await peer.pump(lambda: bool(peer.events_of(h2.events.PingAckReceived)))
        server.handlers.gate.set()
        await asyncio.wait_for(server.handlers.slow_returned.wait(), DEADLINE_S)
        send_call(peer, 3, "Echo", b"next")
        await peer.pump(peer.ended(3))
        assert peer.answer(3)[1] == message(b"next")
        assert [f for f in peer.frames if f.stream == 1] == []
        await peer.close()


async def test_a_garbage_preface_gets_goaway_protocol_error_and_a_close() -> None:
    async with serve() as server:
        peer = await Peer.open(server.port, use_h2=False)
        peer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await peer.until_eof()
        [goaway] = peer.of_type(GOAWAY)
        assert goaway.payload == (0).to_bytes(4, "big") + (1).to_bytes(4, "big")  # PROTOCOL_ERROR
        await asyncio.wait_for(server.connections[0].closed, DEADLINE_S)
        assert server.closed == server.connections
        await peer.close()


async def test_a_smaller_header_table_is_announced_at_the_start_of_the_next_block() -> None:
    async with serve() as server:
        peer = await settled_peer(server.port, {h2.settings.SettingCodes.HEADER_TABLE_SIZE: 0})
        assert peer.h2 is not None
        send_call(peer, 1, "Echo", b"one")
        await peer.pump(peer.ended(1))  # h2 would fail the block without the size update
        send_call(peer, 3, "Echo", b"two")
        await peer.pump(peer.ended(3))
        assert peer.of_type(HEADERS, 1)[0].payload[0] == 0x20  # "dynamic table size = 0"
        assert peer.of_type(HEADERS, 3)[0].payload[0] != 0x20  # said once is enough
        assert peer.answer(1)[:2] == ({b":status": b"200", b"content-type": b"application/grpc"},
                                      message(b"one"))  # fmt: skip
        assert peer.answer(3)[1] == message(b"two")
        await peer.close()


# -- graceful stop ------------------------------------------------------------------------------


async def test_go_away_refuses_new_streams_finishes_the_running_call_then_closes() -> None:
    async with serve() as server:
        # Raw frames: h2 takes a GOAWAY as the end and would refuse the answers that follow.
        peer = await Peer.open(server.port, use_h2=False)
        encoder, decoder = Encoder(), Decoder()
        peer.write(PREFACE + SettingsFrame(0).serialize())

        def call(stream: int, method: str, body: bytes) -> bytes:
            block = encoder.encode(request_headers(method))
            return (
                HeadersFrame(stream, block, flags=["END_HEADERS"]).serialize()
                + DataFrame(stream, message(body), flags=["END_STREAM"]).serialize()
            )

        peer.write(call(1, "Slow", b"running"))
        await asyncio.wait_for(server.handlers.entered.wait(), DEADLINE_S)
        [connection] = server.connections
        connection.go_away()
        await peer.pump(lambda: bool(peer.of_type(GOAWAY)))
        [goaway] = peer.of_type(GOAWAY)
        assert goaway.payload == (1).to_bytes(4, "big") + (0).to_bytes(4, "big")  # NO_ERROR
        peer.write(call(3, "Echo", b"too late"))
        await peer.pump(lambda: bool(peer.of_type(RST_STREAM, 3)))
        assert peer.of_type(RST_STREAM, 3)[0].payload == (7).to_bytes(4, "big")  # REFUSED
        assert not connection.closed.done(), "the running call holds the connection open"
        server.handlers.gate.set()
        await peer.until_eof()
        await asyncio.wait_for(connection.closed, DEADLINE_S)
        assert server.closed == [connection]
        headers, data, trailers = [f for f in peer.frames if f.stream == 1]
        assert (headers.type, data.type, trailers.type) == (HEADERS, DATA, HEADERS)
        assert dict(decoder.decode(headers.payload, raw=True))[b":status"] == b"200"
        assert data.payload == message(b"slow:running")
        assert trailers.flags & END_STREAM
        assert dict(decoder.decode(trailers.payload, raw=True)) == {b"grpc-status": b"0"}
        assert peer.of_type(DATA, 3) == [] and peer.of_type(HEADERS, 3) == []
        await peer.close()


async def test_go_away_on_an_idle_connection_closes_it_at_once() -> None:
    async with serve() as server:
        peer = await settled_peer(server.port)
        [connection] = server.connections
        connection.go_away()
        await peer.pump(lambda: bool(peer.events_of(h2.events.ConnectionTerminated)))
        [terminated] = peer.events_of(h2.events.ConnectionTerminated)
        assert terminated.error_code == ErrorCodes.NO_ERROR
        assert terminated.last_stream_id == 0
        await asyncio.wait_for(connection.closed, DEADLINE_S)
        await peer.close()


async def test_go_away_closes_once_an_answer_held_by_flow_control_is_reset() -> None:
    async with serve() as server:
        settings = {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1000}
        peer = await settled_peer(server.port, settings)
        assert peer.h2 is not None
        send_call(peer, 1, "Big", b"")
        await peer.pump(lambda: len(peer.of_type(DATA, 1)) == 1)  # then the window is spent
        peer.h2.reset_stream(1, ErrorCodes.CANCEL)
        peer.h2.ping(b"after-rs")
        peer.flush()
        await peer.pump(lambda: bool(peer.events_of(h2.events.PingAckReceived)))
        [connection] = server.connections
        connection.go_away()
        await peer.until_eof()  # nothing is left to send: the connection closes at once
        await asyncio.wait_for(connection.closed, DEADLINE_S)
        await peer.close()
