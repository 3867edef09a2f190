"""The grpcio fallback's shared port (relay and hand-over), in-process with real loopback sockets.

The classification itself (``preface.is_grpc``) is tested in test_public_port.py.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tasksctl.engine import shared_port
from tasksctl.engine.preface import PREFACE as GRPC_PREFACE
from tasksctl.engine.shared_port import SharedPort

DEADLINE_S = 20.0


class EchoUpstream:
    """Stands in for the gRPC server: echoes everything, closes after the client's EOF."""

    def __init__(self) -> None:
        _address, self.sockaddr = shared_port.internal_address("test")
        self.family = socket.AF_UNIX if self.sockaddr is not None else socket.AF_INET
        self.server = socket.socket(self.family, socket.SOCK_STREAM)
        self.server.bind(self.sockaddr if self.sockaddr is not None else ("127.0.0.1", 0))
        if self.sockaddr is None:
            self.sockaddr = self.server.getsockname()
        self.server.listen()
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn: socket.socket) -> None:
        with conn:
            data = bytearray()
            while chunk := conn.recv(1 << 16):
                data += chunk
                conn.sendall(chunk)
            self.received.append(bytes(data))

    def close(self) -> None:
        try:
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked in _serve
        except OSError:
            pass
        self.server.close()
        self.thread.join(DEADLINE_S)


@pytest.fixture
def port() -> Iterator[tuple[SharedPort, int, list[socket.socket], EchoUpstream]]:
    upstream = EchoUpstream()
    listener = socket.create_server(("127.0.0.1", 0))
    http: list[socket.socket] = []
    shared = SharedPort(
        listener, shared_port.connect_upstream(upstream.sockaddr, upstream.family), http.append
    )
    shared.start()
    yield shared, listener.getsockname()[1], http, upstream
    shared.stop_accepting()
    shared.close()
    upstream.close()
    for sock in http:
        sock.close()


def recv_all(sock: socket.socket) -> bytes:
    sock.settimeout(DEADLINE_S)
    data = bytearray()
    while chunk := sock.recv(1 << 16):
        data += chunk
    return bytes(data)


def wait_for(predicate: Any) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def test_grpc_bytes_are_relayed_both_ways_with_half_close(port: Any) -> None:
    shared, number, _, upstream = port
    payload = GRPC_PREFACE + os.urandom(5 * 1024 * 1024)  # several pipe-fulls: back-pressure
    with socket.create_connection(("127.0.0.1", number)) as client:
        sender = threading.Thread(target=lambda: (client.sendall(payload),
                                                  client.shutdown(socket.SHUT_WR)))  # fmt: skip
        sender.start()
        echoed = recv_all(client)
        sender.join()
    assert echoed == payload
    wait_for(lambda: upstream.received == [payload])
    wait_for(lambda: not shared._relays)  # both sides closed: nothing left behind
    assert shared.relayed_connections == 1


def test_preface_arriving_byte_by_byte_is_still_grpc(port: Any) -> None:
    shared, number, http, _ = port
    with socket.create_connection(("127.0.0.1", number)) as client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in GRPC_PREFACE[:3]:
            client.send(bytes([byte]))
            time.sleep(0.02)
        client.sendall(GRPC_PREFACE[3:])
        client.shutdown(socket.SHUT_WR)
        assert recv_all(client) == GRPC_PREFACE
    assert shared.relayed_connections == 1 and http == []


def test_http_connections_are_handed_over_unread(port: Any) -> None:
    shared, number, http, _ = port
    request = b"GET /v2/projects/p/locations HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", number)) as client:
        client.sendall(request)
        wait_for(lambda: len(http) == 1)
        handed = http[0]
        handed.setblocking(True)
        handed.settimeout(DEADLINE_S)
        assert handed.recv(1024) == request  # the peek consumed nothing
        handed.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
        assert client.recv(1024).startswith(b"HTTP/1.1 204")
    assert shared.relayed_connections == 0


def test_silent_and_closed_connections_leave_nothing_behind(port: Any) -> None:
    shared, number, http, _ = port
    for _ in range(20):
        socket.create_connection(("127.0.0.1", number)).close()
    wait_for(lambda: shared.http_connections == 0 and not shared._pending)
    assert http == [] and shared.relayed_connections == 0


def test_unreachable_grpc_server_closes_the_client(port: Any) -> None:
    _shared, number, _, upstream = port
    upstream.close()
    with socket.create_connection(("127.0.0.1", number)) as client:
        client.sendall(GRPC_PREFACE)
        try:
            assert recv_all(client) == b""
        except ConnectionResetError:
            pass  # closed with the unread preface in its buffer: the kernel resets


def test_many_connections_at_once(port: Any) -> None:
    shared, number, _, _upstream = port
    clients = [socket.create_connection(("127.0.0.1", number)) for _ in range(100)]
    try:
        for index, client in enumerate(clients):
            client.sendall(GRPC_PREFACE + str(index).encode())
            client.shutdown(socket.SHUT_WR)
        for index, client in enumerate(clients):
            assert recv_all(client) == GRPC_PREFACE + str(index).encode()
    finally:
        for client in clients:
            client.close()
    wait_for(lambda: not shared._relays)
