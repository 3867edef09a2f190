"""gRPC served on the engine's own event loop: HTTP/2 framing for unary calls, nothing more.

Every Cloud Tasks RPC is unary, so the server needs a small part of HTTP/2: the connection
preface and SETTINGS, PING answers, flow control both ways, HEADERS (+ CONTINUATION) and DATA in,
and per call one HEADERS + DATA + trailers out. Header blocks are decoded with ``hpack``
(python-hyper's HPACK codec, which keeps the dynamic table every client relies on); what the
server sends is encoded without touching any table, so its bytes are constant and cheap.

Why not ``grpc.aio``: its server owns its sockets, so REST on the same port needed a relay
process in front of it, and each call then cost the relay's CPU (~100 µs) on top of grpc.aio's
own (~250 µs, measured with canned answers in ``bench/grpc_floor.py``). Here a call costs one
read, one coalesced write and the handler; the same port serves REST by protocol sniffing
(``Sniffer``).

Handlers are the servicer's ``grpc.RpcMethodHandler`` objects (``lookup(path)``); the context
they get supports ``abort``, the only part of ``ServicerContext`` the servicer uses.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import urllib.parse
import zlib
from collections.abc import Callable
from typing import Any

import grpc
from hpack import Decoder, HPACKError

from tasksctl.engine.eager import start_eagerly
from tasksctl.engine.preface import PREFACE

log = logging.getLogger("tasksctl.engine.grpc_front")


# Frame types and flags (RFC 9113 §6).
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY = range(8)
WINDOW_UPDATE, CONTINUATION = 8, 9
END_STREAM = ACK = 0x1
END_HEADERS, PADDED, PRIORITY_FLAG = 0x4, 0x8, 0x20
# Settings (RFC 9113 §6.5.2).
HEADER_TABLE_SIZE, MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE = 0x1, 0x3, 0x4, 0x5
MAX_HEADER_LIST_SIZE = 0x6
# Error codes (RFC 9113 §7).
NO_ERROR, PROTOCOL_ERROR, FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR = 0x0, 0x1, 0x3, 0x6
COMPRESSION_ERROR, REFUSED_STREAM = 0x9, 0x7

# gRPC status codes this module answers by itself.
INTERNAL = grpc.StatusCode.INTERNAL.value[0]
UNIMPLEMENTED = grpc.StatusCode.UNIMPLEMENTED.value[0]
RESOURCE_EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]

DEFAULT_WINDOW = 65_535
DEFAULT_FRAME = 16_384
# What we let a client send before it must wait for a WINDOW_UPDATE: generous, so requests of
# normal size never wait, and credit is returned in bulk.
RECV_WINDOW = 16 * 1024 * 1024
RECV_FRAME = 1 << 20
STREAMS_LIMIT = 1000
HEADER_LIST_LIMIT = 64 * 1024
# Largest message accepted (the engine's gRPC limit, also its REST body limit's order).
MAX_MESSAGE = 64 * 1024 * 1024

_FRAME_HEAD = struct.Struct(">I B I")  # length<<8|type, flags, stream id
_SETTING = struct.Struct(">HI")
_U32 = struct.Struct(">I")

Lookup = Callable[[str], Any]


def _frame(ftype: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    return _FRAME_HEAD.pack(len(payload) << 8 | ftype, flags, stream_id) + payload


def _hpack_int(value: int, prefix_bits: int, first: int) -> bytes:
    """An HPACK integer (RFC 7541 §5.1) whose first byte carries ``first``'s high bits."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out = bytearray((first | limit,))
    value -= limit
    while value >= 128:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _literal(name: bytes, value: bytes) -> bytes:
    """A header field "literal without indexing, new name" (RFC 7541 §6.2.2), no Huffman."""
    return b"\x00" + _hpack_int(len(name), 7, 0) + name + _hpack_int(len(value), 7, 0) + value


# ":status: 200" is static-table entry 8; content-type is entry 31 (literal, indexed name).
RESPONSE_HEADERS = b"\x88" + b"\x0f\x10" + _hpack_int(16, 7, 0) + b"application/grpc"
OK_TRAILERS = _literal(b"grpc-status", b"0")
# At most 12 bytes each once percent-encoded: 1,001 characters stay under 16,384 bytes.
MESSAGE_LIMIT = 1000
_MESSAGE_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


def status_trailers(code: int, message: str) -> bytes:
    """``grpc-status`` and ``grpc-message`` (percent-encoded as the gRPC spec asks; cut to
    ``MESSAGE_LIMIT`` characters so the block always fits one frame of the smallest size)."""
    block = _literal(b"grpc-status", str(code).encode())
    if len(message) > MESSAGE_LIMIT:
        message = message[:MESSAGE_LIMIT] + "…"
    if message:
        encoded = urllib.parse.quote(message, safe=_MESSAGE_SAFE)
        block += _literal(b"grpc-message", encoded.encode("ascii"))
    return block


class RpcAbort(Exception):
    """Raised by ``Context.abort``: the call ends with this status."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class Context:
    """The part of ``grpc.aio.ServicerContext`` the servicer uses: ``abort``."""

    __slots__ = ()

    async def abort(self, code: grpc.StatusCode, details: str = "", *_: Any) -> None:
        raise RpcAbort(code.value[0], details)


_CONTEXT = Context()


class _Stream:
    __slots__ = ("body", "headers", "outbox", "reset", "window")

    def __init__(self, window: int) -> None:
        self.body = bytearray()
        self.headers: dict[bytes, bytes] = {}
        self.window = window  # what we may still send on this stream
        self.outbox: list[bytes] | None = None  # [data, trailers] waiting for window
        self.reset = False


class ProtocolError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class GrpcConnection(asyncio.Protocol):
    """One HTTP/2 connection carrying unary gRPC calls."""

    def __init__(self, lookup: Lookup, on_close: Callable[[GrpcConnection], None]) -> None:
        self._lookup = lookup
        self._on_close = on_close
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._preface = False
        self._decoder = Decoder(max_header_list_size=HEADER_LIST_LIMIT)
        self._streams: dict[int, _Stream] = {}
        self._last_stream = 0
        self._headers_pending: tuple[int, int, bytearray] | None = None  # (id, flags, block)
        self._send_window = DEFAULT_WINDOW
        self._peer_initial_window = DEFAULT_WINDOW
        self._peer_frame = DEFAULT_FRAME
        self._table_update = b""
        self._recv_unacked = 0
        self._out: list[bytes] = []
        self._running = 0  # calls whose handler has not finished
        self._tasks: set[asyncio.Task[None]] = set()
        self._going_away = False
        self._waiting: list[int] = []  # streams with data held back by flow control
        self.closed = asyncio.get_running_loop().create_future()

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        settings = b"".join(
            _SETTING.pack(key, value)
            for key, value in (
                (MAX_CONCURRENT_STREAMS, STREAMS_LIMIT),
                (INITIAL_WINDOW_SIZE, RECV_WINDOW),
                (MAX_FRAME_SIZE, RECV_FRAME),
                (MAX_HEADER_LIST_SIZE, HEADER_LIST_LIMIT),
            )
        )
        self._send(_frame(SETTINGS, 0, 0, settings))
        self._send(_frame(WINDOW_UPDATE, 0, 0, _U32.pack(RECV_WINDOW - DEFAULT_WINDOW)))

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        try:
            if not self._preface:
                if len(buffer) < len(PREFACE):
                    if not PREFACE.startswith(bytes(buffer)):
                        raise ProtocolError(PROTOCOL_ERROR, "not an HTTP/2 preface")
                    return
                if buffer[: len(PREFACE)] != PREFACE:
                    raise ProtocolError(PROTOCOL_ERROR, "not an HTTP/2 preface")
                self._preface = True
                del buffer[: len(PREFACE)]
            self._read_frames(buffer)
        except ProtocolError as err:
            log.debug("HTTP/2 protocol error: %s", err)
            self._send(_frame(GOAWAY, 0, 0, _U32.pack(self._last_stream) + _U32.pack(err.code)))
            self._flush()
            if self._transport is not None:
                self._transport.close()
            return
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._streams.clear()
        if not self.closed.done():
            self.closed.set_result(None)
        self._on_close(self)

    # -- reading ----------------------------------------------------------------------------

    def _read_frames(self, buffer: bytearray) -> None:
        pos, size = 0, len(buffer)
        unpack = _FRAME_HEAD.unpack_from
        while size - pos >= 9:
            head, flags, stream_id = unpack(buffer, pos)
            length, ftype = head >> 8, head & 0xFF
            if length > RECV_FRAME:
                raise ProtocolError(FRAME_SIZE_ERROR, "frame too large")
            end = pos + 9 + length
            if end > size:
                break
            payload = bytes(buffer[pos + 9 : end])
            pos = end
            stream_id &= 0x7FFFFFFF
            if self._headers_pending is not None and ftype != CONTINUATION:
                raise ProtocolError(PROTOCOL_ERROR, "expected CONTINUATION")
            if ftype == DATA:
                self._on_data(stream_id, flags, payload)
            elif ftype == HEADERS:
                self._on_headers(stream_id, flags, payload)
            elif ftype == CONTINUATION:
                self._on_continuation(stream_id, flags, payload)
            elif ftype == WINDOW_UPDATE:
                self._on_window_update(stream_id, payload)
            elif ftype == SETTINGS:
                self._on_settings(stream_id, flags, payload)
            elif ftype == PING:
                if len(payload) != 8 or stream_id:
                    raise ProtocolError(FRAME_SIZE_ERROR, "bad PING")
                if not flags & ACK:
                    self._send(_frame(PING, ACK, 0, payload))
            elif ftype == RST_STREAM:
                stream = self._streams.pop(stream_id, None)
                if stream is not None:
                    stream.reset = True
                    if stream_id in self._waiting:  # its held answer no longer keeps us open
                        self._waiting.remove(stream_id)
            elif ftype == GOAWAY:
                self._going_away = True
            elif ftype == PUSH_PROMISE:
                raise ProtocolError(PROTOCOL_ERROR, "clients do not push")
            # PRIORITY and unknown frame types are ignored (RFC 9113 §5.5).
        del buffer[:pos]

    def _on_settings(self, stream_id: int, flags: int, payload: bytes) -> None:
        if stream_id or len(payload) % 6:
            raise ProtocolError(FRAME_SIZE_ERROR, "bad SETTINGS")
        if flags & ACK:
            return
        for offset in range(0, len(payload), 6):
            key, value = _SETTING.unpack_from(payload, offset)
            if key == INITIAL_WINDOW_SIZE:
                if value > 0x7FFFFFFF:
                    raise ProtocolError(FLOW_CONTROL_ERROR, "window too large")
                delta = value - self._peer_initial_window
                self._peer_initial_window = value
                for stream in self._streams.values():
                    stream.window += delta
            elif key == MAX_FRAME_SIZE:
                if not DEFAULT_FRAME <= value <= 0xFFFFFF:
                    raise ProtocolError(PROTOCOL_ERROR, "bad MAX_FRAME_SIZE")
                self._peer_frame = value
            elif key == HEADER_TABLE_SIZE and value < 4096:
                # We never add to the peer's table, but a decoder that shrank its table expects
                # the size update at the start of our next header block (RFC 7541 §4.2).
                self._table_update = _hpack_int(value, 5, 0x20)
        self._send(_frame(SETTINGS, ACK, 0))
        self._release_waiting()

    def _on_window_update(self, stream_id: int, payload: bytes) -> None:
        if len(payload) != 4:
            raise ProtocolError(FRAME_SIZE_ERROR, "bad WINDOW_UPDATE")
        increment = _U32.unpack(payload)[0] & 0x7FFFFFFF
        if stream_id == 0:
            self._send_window += increment
        else:
            stream = self._streams.get(stream_id)
            if stream is None:
                return
            stream.window += increment
        self._release_waiting()

    def _on_headers(self, stream_id: int, flags: int, payload: bytes) -> None:
        if stream_id == 0:
            raise ProtocolError(PROTOCOL_ERROR, "HEADERS on stream 0")
        start, end = 0, len(payload)
        if flags & PADDED:
            if not payload:
                raise ProtocolError(PROTOCOL_ERROR, "bad padding")
            start, end = 1, end - payload[0]
        if flags & PRIORITY_FLAG:
            start += 5
        if start > end:
            raise ProtocolError(PROTOCOL_ERROR, "bad padding")
        block = payload[start:end]
        if flags & END_HEADERS:
            self._headers_done(stream_id, flags, block)
        else:
            self._headers_pending = (stream_id, flags, bytearray(block))

    def _on_continuation(self, stream_id: int, flags: int, payload: bytes) -> None:
        pending = self._headers_pending
        if pending is None or pending[0] != stream_id:
            raise ProtocolError(PROTOCOL_ERROR, "unexpected CONTINUATION")
        pending[2].extend(payload)
        if len(pending[2]) > HEADER_LIST_LIMIT * 2:
            raise ProtocolError(PROTOCOL_ERROR, "header block too large")
        if flags & END_HEADERS:
            self._headers_pending = None
            self._headers_done(stream_id, pending[1], bytes(pending[2]))

    def _headers_done(self, stream_id: int, flags: int, block: bytes) -> None:
        try:
            fields = self._decoder.decode(block, raw=True)
        except HPACKError as err:  # the table is out of step with the peer's: fatal
            raise ProtocolError(COMPRESSION_ERROR, str(err)) from None
        stream = self._streams.get(stream_id)
        if stream is not None:  # trailers from the client end the request
            if flags & END_STREAM:
                self._request_complete(stream_id, stream)
            return
        if stream_id <= self._last_stream or not stream_id & 1:
            raise ProtocolError(PROTOCOL_ERROR, "bad stream id")
        self._last_stream = stream_id
        if len(self._streams) >= STREAMS_LIMIT or self._going_away:
            self._send(_frame(RST_STREAM, 0, stream_id, _U32.pack(REFUSED_STREAM)))
            return
        stream = _Stream(self._peer_initial_window)
        stream.headers = dict(fields)
        self._streams[stream_id] = stream
        if flags & END_STREAM:
            self._request_complete(stream_id, stream)

    def _on_data(self, stream_id: int, flags: int, payload: bytes) -> None:
        size = len(payload)
        self._recv_unacked += size
        if self._recv_unacked >= RECV_WINDOW // 2:
            self._send(_frame(WINDOW_UPDATE, 0, 0, _U32.pack(self._recv_unacked)))
            self._recv_unacked = 0
        stream = self._streams.get(stream_id)
        if stream is None:
            return  # reset or finished: the data is dropped (its credit was returned above)
        if flags & PADDED:
            if not payload or payload[0] >= size:
                raise ProtocolError(PROTOCOL_ERROR, "bad padding")
            payload = payload[1 : size - payload[0]]
        stream.body += payload
        if len(stream.body) > MAX_MESSAGE + 5:
            self._finish(stream_id, stream, RESOURCE_EXHAUSTED,
                         "request message larger than the engine accepts")  # fmt: skip
            # The answer came before the request ended: tell the client to stop sending.
            self._send(_frame(RST_STREAM, 0, stream_id, _U32.pack(NO_ERROR)))
            return
        if flags & END_STREAM:
            self._request_complete(stream_id, stream)
        elif len(stream.body) >= RECV_WINDOW // 2:
            self._send(_frame(WINDOW_UPDATE, 0, stream_id, _U32.pack(len(payload))))

    # -- calls ------------------------------------------------------------------------------

    def _request_complete(self, stream_id: int, stream: _Stream) -> None:
        headers = stream.headers
        path = headers.get(b":path", b"").decode("latin-1")
        handler = self._lookup(path) if headers.get(b":method") == b"POST" else None
        if handler is None:
            self._finish(stream_id, stream, UNIMPLEMENTED, f"Method not found: {path}")
            return
        try:
            message = self._message(stream)
            parse = handler.request_deserializer  # None: the handler takes bytes, as in grpc
            request = parse(message) if parse is not None else message
        except RpcAbort as abort:
            self._finish(stream_id, stream, abort.code, abort.message)
            return
        except Exception:
            self._finish(stream_id, stream, INTERNAL, "Failed to parse the request message")
            return
        self._running += 1
        task = start_eagerly(self._call(stream_id, stream, handler, request))
        if task is not None:  # the loop keeps only a weak reference to a task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _message(self, stream: _Stream) -> bytes:
        body = stream.body
        if len(body) < 5 or int.from_bytes(body[1:5], "big") != len(body) - 5:
            raise RpcAbort(INTERNAL, "Incomplete gRPC message")
        message = bytes(body[5:])
        if body[0]:  # compressed with the encoding the client names
            encoding = stream.headers.get(b"grpc-encoding", b"identity")
            if encoding == b"gzip":
                return zlib.decompress(message, 31)
            if encoding == b"deflate":
                return zlib.decompress(message)
            name = encoding.decode("latin-1")
            raise RpcAbort(UNIMPLEMENTED, f"Compression {name} is not supported")
        return message

    async def _call(self, stream_id: int, stream: _Stream, handler: Any, request: Any) -> None:
        try:
            response = await handler.unary_unary(request, _CONTEXT)
            serialize = handler.response_serializer
            payload = serialize(response) if serialize is not None else response
        except RpcAbort as abort:
            self._finish(stream_id, stream, abort.code, abort.message)
        except Exception as exc:
            log.exception("gRPC call %s failed", stream.headers.get(b":path"))
            self._finish(stream_id, stream, INTERNAL, str(exc))
        else:
            self._respond(stream_id, stream, payload)
        finally:
            self._running -= 1
            self._flush()

    def _respond(self, stream_id: int, stream: _Stream, payload: bytes) -> None:
        if stream.reset or self._transport is None:
            return
        self._send(_frame(HEADERS, END_HEADERS, stream_id, self._table_update + RESPONSE_HEADERS))
        self._table_update = b""
        data = b"\x00" + len(payload).to_bytes(4, "big") + payload
        trailers = _frame(HEADERS, END_HEADERS | END_STREAM, stream_id, OK_TRAILERS)
        stream.outbox = [data, trailers]
        self._drain(stream_id, stream)

    def _finish(self, stream_id: int, stream: _Stream, code: int, message: str) -> None:
        """A trailers-only answer: the call failed with ``code``."""
        self._streams.pop(stream_id, None)
        if stream.reset or self._transport is None:
            return
        block = self._table_update + RESPONSE_HEADERS + status_trailers(code, message)
        self._table_update = b""
        self._send(_frame(HEADERS, END_HEADERS | END_STREAM, stream_id, block))

    def _drain(self, stream_id: int, stream: _Stream) -> None:
        """Send what flow control allows of ``stream``'s outbox; the trailers once it is empty."""
        assert stream.outbox is not None
        data = stream.outbox[0]
        while data:
            room = min(self._send_window, stream.window, self._peer_frame)
            if room <= 0:
                stream.outbox[0] = data
                if stream_id not in self._waiting:
                    self._waiting.append(stream_id)
                return
            chunk, data = data[:room], data[room:]
            self._send_window -= len(chunk)
            stream.window -= len(chunk)
            self._send(_frame(DATA, 0, stream_id, chunk))
        self._send(stream.outbox[1])
        stream.outbox = None
        self._streams.pop(stream_id, None)

    def _release_waiting(self) -> None:
        waiting, self._waiting = self._waiting, []
        for stream_id in waiting:
            stream = self._streams.get(stream_id)
            if stream is not None and stream.outbox is not None:
                self._drain(stream_id, stream)

    # -- writing ----------------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        self._out.append(data)

    def _flush(self) -> None:
        # Written at once: uvloop's transports queue writes until the end of the loop
        # iteration, so answers finished together still leave in one send.
        if self._out and self._transport is not None:
            self._transport.write(b"".join(self._out))
        self._out.clear()
        if self._going_away and not (self._running or self._waiting) and self._transport:
            self._transport.close()

    # -- shutdown ---------------------------------------------------------------------------

    def go_away(self) -> None:
        """Refuse new calls, finish the running ones, then close (graceful stop)."""
        if self._transport is None:
            return
        self._going_away = True
        self._send(_frame(GOAWAY, 0, 0, _U32.pack(self._last_stream) + _U32.pack(NO_ERROR)))
        self._flush()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()
