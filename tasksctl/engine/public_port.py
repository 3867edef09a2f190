"""The engine's main port, served on its event loop: gRPC and REST told apart by the first bytes.

A new connection is classified as soon as three bytes arrived: the HTTP/2 prior-knowledge
preface (``PRI * HTTP/2.0``; gRPC clients send it at once, and no HTTP/1.1 method is "PRI") is
gRPC, served by ``grpc_front.GrpcConnection``; anything else is HTTP/1.1, i.e. REST, served by
aiohttp's protocol. The bytes read so far are replayed to the chosen protocol, so nothing is
lost. A connection that sends nothing for ``CLASSIFY_TIMEOUT`` seconds is dropped.

Stopping: ``stop_accepting`` closes the listener; ``close(grace)`` sends every gRPC connection a
GOAWAY, waits up to ``grace`` for the calls in progress to be answered, then cuts what is left.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Sequence
from typing import Any

import grpc

from tasksctl.engine.grpc_front import GrpcConnection
from tasksctl.engine.preface import is_grpc
from tasksctl.engine.rpc import find_method

log = logging.getLogger("tasksctl.engine.public_port")

CLASSIFY_TIMEOUT = 30.0
# Paths looked up once; more distinct unknown paths than this are not remembered.
LOOKUP_CACHE = 256


def method_lookup(handlers: Sequence[grpc.GenericRpcHandler]) -> Callable[[str], Any]:
    """``path → RpcMethodHandler | None``, remembered per path."""
    known: dict[str, Any] = {}

    def lookup(path: str) -> Any:
        try:
            return known[path]
        except KeyError:
            found = find_method(handlers, path)
            if found is not None or len(known) < LOOKUP_CACHE:
                known[path] = found
            return found

    return lookup


class _Sniffer(asyncio.Protocol):
    """Holds a new connection until its first bytes say which protocol it speaks."""

    def __init__(self, port: PublicPort) -> None:
        self._port = port
        self._transport: Any = None
        self._seen = b""
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._timer = asyncio.get_running_loop().call_later(CLASSIFY_TIMEOUT, transport.close)

    def data_received(self, data: bytes) -> None:
        self._seen += data
        kind = is_grpc(self._seen)
        if kind is None:
            return
        if self._timer is not None:
            self._timer.cancel()
        protocol = self._port.grpc_protocol() if kind else self._port.rest_protocol()
        self._transport.set_protocol(protocol)
        protocol.connection_made(self._transport)
        protocol.data_received(self._seen)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()


class PublicPort:
    """gRPC and REST on one listener, on the running loop; see the module docstring."""

    def __init__(
        self,
        listener: socket.socket,
        handlers: Sequence[grpc.GenericRpcHandler],
        rest_protocol: Callable[[], asyncio.Protocol],
    ) -> None:
        self._listener = listener
        self._lookup = method_lookup(handlers)
        self._rest_protocol = rest_protocol
        self._connections: set[GrpcConnection] = set()
        self._server: asyncio.AbstractServer | None = None
        self.grpc_connections = 0
        self.rest_connections = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Sniffer(self), sock=self._listener)

    def grpc_protocol(self) -> GrpcConnection:
        connection = GrpcConnection(self._lookup, self._connections.discard)
        self._connections.add(connection)
        self.grpc_connections += 1
        return connection

    def rest_protocol(self) -> asyncio.Protocol:
        self.rest_connections += 1
        return self._rest_protocol()

    def stop_accepting(self) -> None:
        """Close the listener; connections already open carry on."""
        if self._server is not None:
            self._server.close()

    async def close(self, grace: float) -> None:
        """GOAWAY to every gRPC connection, wait up to ``grace`` for their calls, then cut."""
        self.stop_accepting()
        connections = list(self._connections)
        for connection in connections:
            connection.go_away()
        waiting = [connection.closed for connection in connections]
        if waiting:
            await asyncio.wait(waiting, timeout=grace)
        for connection in list(self._connections):
            connection.abort()
