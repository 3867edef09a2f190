"""The fallback stack's shared port (``TASKSCTL_ENGINE_GRPC=grpcio``): a splice relay to grpc.aio.

By default the engine serves gRPC itself on its event loop (``public_port``, ``grpc_front``)
and none of this runs. With the fallback stack, grpc.aio owns its sockets, so it cannot share
a listener with aiohttp. The public port is then a plain listening socket served by one
selector loop (``SharedPort``), which runs in a child process (``relay_process``: the relay
then never takes the engine's GIL) or on a thread of the engine:

- a new connection is classified by its first bytes, read with ``MSG_PEEK`` so nothing is
  consumed: the HTTP/2 prior-knowledge preface (``PRI * HTTP/2.0``; gRPC clients send it
  at once) is gRPC, anything else is HTTP/1.1, i.e. REST;
- a REST connection is handed to the engine's event loop (``on_http(sock)``; from the child
  process over ``SCM_RIGHTS``), which serves it with aiohttp as if it had accepted it itself;
- a gRPC connection is relayed byte for byte to the gRPC server, which listens on an internal
  address (an abstract unix socket on Linux). The relay moves data with ``os.splice`` through a
  pipe per direction (no copy into Python), driven by ``selectors``, so the engine's event loop
  never sees gRPC bytes.

Back-pressure: while a pipe holds bytes its destination could not take, the source is not read.
Half-closes are forwarded (``shutdown(SHUT_WR)``); an error on either side closes both.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from tasksctl.engine.preface import PEEK_BYTES, is_grpc

log = logging.getLogger("tasksctl.engine.shared_port")

CHUNK = 1 << 16
# A connection that sends nothing for this long before being classified is dropped.
CLASSIFY_TIMEOUT = 30.0
COMMAND_STOP_ACCEPTING = b"stop-accepting"
COMMAND_STOP = b"stop"
_SPLICE = getattr(os, "splice", None)
_SPLICE_FLAGS = getattr(os, "SPLICE_F_MOVE", 0) | getattr(os, "SPLICE_F_NONBLOCK", 0)
_GONE = (errno.ECONNRESET, errno.EPIPE, errno.ENOTCONN, errno.ECONNABORTED, errno.ETIMEDOUT)


def internal_address(tag: str) -> tuple[str, Any]:
    """(gRPC address, socket address) for the internal gRPC listener."""
    if hasattr(socket, "AF_UNIX") and os.uname().sysname == "Linux":
        name = f"tasksctl-{tag}-{os.getpid()}-{os.urandom(4).hex()}"
        return f"unix-abstract:{name}", "\0" + name
    return "127.0.0.1:0", None


class _Direction:
    """Bytes flowing from ``src`` to ``dst`` through a pipe (splice) or a buffer."""

    __slots__ = ("buffer", "dst", "eof", "pending", "pipe_r", "pipe_w", "src")

    def __init__(self, src: socket.socket, dst: socket.socket) -> None:
        self.src, self.dst = src, dst
        self.pending = 0  # bytes read from src, not yet written to dst
        self.eof = False
        self.buffer = b""
        if _SPLICE is not None:
            self.pipe_r, self.pipe_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        else:
            self.pipe_r = self.pipe_w = -1

    def read(self) -> int:
        """Move what ``src`` has into the pipe; 0 at EOF, -1 when nothing was ready."""
        try:
            if _SPLICE is not None:
                count = _SPLICE(self.src.fileno(), self.pipe_w, CHUNK, flags=_SPLICE_FLAGS)
            else:
                self.buffer = self.src.recv(CHUNK)
                count = len(self.buffer)
        except BlockingIOError:
            return -1
        self.pending += count
        return int(count)

    def flush(self) -> bool:
        """Write pending bytes to ``dst``; True when everything went."""
        while self.pending:
            try:
                if _SPLICE is not None:
                    count = _SPLICE(self.pipe_r, self.dst.fileno(), self.pending,
                                    flags=_SPLICE_FLAGS)  # fmt: skip
                else:
                    count = self.dst.send(self.buffer)
                    self.buffer = self.buffer[count:]
            except BlockingIOError:
                return False
            self.pending -= count
        return True

    def close(self) -> None:
        for fd in (self.pipe_r, self.pipe_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.pipe_r = self.pipe_w = -1


class _Relay:
    """One client connection relayed to the gRPC server."""

    __slots__ = ("client", "closed", "down", "up", "upstream")

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client, self.upstream = client, upstream
        self.up = _Direction(client, upstream)
        self.down = _Direction(upstream, client)
        self.closed = False


class SharedPort:
    """The public listener and its relay thread; see the module docstring."""

    def __init__(
        self,
        listener: socket.socket,
        upstream: Callable[[], socket.socket],
        on_http: Callable[[socket.socket], object],
        control: socket.socket | None = None,
    ) -> None:
        self._listener = listener
        self._control = control  # relay_process: commands from the engine; EOF = engine gone
        self._upstream = upstream
        self._on_http = on_http
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._pending: dict[int, tuple[socket.socket, float]] = {}
        self._relays: set[_Relay] = set()
        self._stop = False
        self._accepting = True
        self._closed_listener = False
        self._thread = threading.Thread(target=self._run, name="tasksctl-shared-port", daemon=True)
        self.relayed_connections = 0
        self.http_connections = 0

    # -- lifecycle (called from the engine's loop) --------------------------------------------

    def start(self) -> None:
        """Serve on a thread of its own."""
        self._prepare()
        self._thread.start()

    def run(self) -> None:
        """Serve on the calling thread until stopped (``relay_process`` does this)."""
        self._prepare()
        self._run()

    def _prepare(self) -> None:
        self._listener.setblocking(False)
        self._wake_r.setblocking(False)
        self._selector.register(self._listener, selectors.EVENT_READ, self._accept)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        if self._control is not None:
            self._selector.register(self._control, selectors.EVENT_READ, self._command)

    def stop_accepting(self) -> None:
        """Close the public listener; live connections keep flowing."""
        self._accepting = False
        self._wake()

    def close(self) -> None:
        """Stop the thread and close every connection it holds."""
        self._stop = True
        self._wake()
        if self._thread.is_alive():
            self._thread.join(5)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    # -- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop:
                events = self._selector.select(timeout=5.0 if self._pending else None)
                for key, mask in events:
                    callback = key.data
                    if callback is None:
                        self._drain_wake()
                    else:
                        callback(key.fileobj, mask)
                if self._pending:
                    self._expire_pending()
        except Exception:
            log.exception("shared port relay failed")
        finally:
            self._shutdown()

    def _command(self, control: Any, mask: int) -> None:
        try:
            command = self._control.recv(64) if self._control is not None else b""
        except BlockingIOError:
            return
        except OSError:
            command = b""
        if command == COMMAND_STOP_ACCEPTING:
            self._accepting = False
            self._drain_wake()
        else:  # "stop", or EOF: the engine stopped or died
            self._stop = True

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_r.recv(4096)
        if not self._accepting and self._listener.fileno() >= 0 and not self._closed_listener:
            self._closed_listener = True
            self._selector.unregister(self._listener)
            self._listener.close()

    def _accept(self, listener: Any, mask: int) -> None:
        for _ in range(64):
            try:
                conn, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE and friends: keep serving the others
                log.warning("accept failed: %s", exc)
                return
            conn.setblocking(False)
            if conn.family != socket.AF_UNIX:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._pending[conn.fileno()] = (conn, time.monotonic())
            self._selector.register(conn, selectors.EVENT_READ, self._classify)
            # Clients speak first, and usually have by now: classify at once rather than on
            # the next turn of the loop (each turn is a wake-up on a busy machine).
            self._classify(conn, selectors.EVENT_READ)

    def _classify(self, conn: Any, mask: int) -> None:
        try:
            first = conn.recv(PEEK_BYTES, socket.MSG_PEEK)
        except BlockingIOError:
            return
        except OSError:
            first = b""
        if not first:
            self._drop_pending(conn)
            conn.close()
            return
        grpc_call = is_grpc(first)
        if grpc_call is None:
            return  # a prefix of the preface: wait for more bytes
        self._drop_pending(conn)
        if grpc_call:
            self._start_relay(conn)
        else:
            self.http_connections += 1
            try:
                self._on_http(conn)
            except Exception:
                log.exception("REST hand-off failed")
                conn.close()

    def _drop_pending(self, conn: socket.socket) -> None:
        self._pending.pop(conn.fileno(), None)
        self._selector.unregister(conn)

    def _expire_pending(self) -> None:
        cutoff = time.monotonic() - CLASSIFY_TIMEOUT
        for conn, since in list(self._pending.values()):
            if since < cutoff:
                self._drop_pending(conn)
                conn.close()

    # -- relaying -----------------------------------------------------------------------------

    def _start_relay(self, client: socket.socket) -> None:
        try:
            upstream = self._upstream()
        except OSError as exc:
            log.warning("cannot reach the gRPC server: %s", exc)
            client.close()
            return
        upstream.setblocking(False)
        relay = _Relay(client, upstream)
        self._relays.add(relay)
        self.relayed_connections += 1
        on_client = self._event(relay, client)
        self._selector.register(client, selectors.EVENT_READ, on_client)
        self._selector.register(upstream, selectors.EVENT_READ, self._event(relay, upstream))
        on_client(client, selectors.EVENT_READ)  # the peeked preface is waiting: pass it on now

    def _event(self, relay: _Relay, sock: socket.socket) -> Callable[[Any, int], None]:
        is_client = sock is relay.client

        def on_event(_: Any, mask: int) -> None:
            try:
                reading = relay.up if is_client else relay.down
                writing = relay.down if is_client else relay.up
                if mask & selectors.EVENT_WRITE and self._flush(writing):
                    self._update(relay)
                if mask & selectors.EVENT_READ and not reading.pending:
                    self._pump(relay, reading)
            except OSError as exc:
                if exc.errno not in _GONE:
                    log.debug("relay error: %s", exc)
                self._close_relay(relay)

        return on_event

    def _pump(self, relay: _Relay, direction: _Direction) -> None:
        count = direction.read()
        if count > 0:
            if direction.flush():
                return  # the common case: everything passed on, interests unchanged
        elif count < 0:
            return
        else:
            direction.eof = True
            self._flush(direction)
        self._update(relay)

    @staticmethod
    def _flush(direction: _Direction) -> bool:
        """Flush; once the source's EOF has been passed on completely, half-close the
        destination."""
        done = direction.flush()
        if done and direction.eof:
            with contextlib.suppress(OSError):
                direction.dst.shutdown(socket.SHUT_WR)
        return done

    def _update(self, relay: _Relay) -> None:
        """Re-register interest: read a side unless its bytes still wait in the pipe (or it
        reached EOF); write a side that has bytes waiting for it."""
        if relay.closed:
            return
        up, down = relay.up, relay.down
        if up.eof and down.eof and not up.pending and not down.pending:
            self._close_relay(relay)
            return
        for sock, reading, writing in (
            (relay.client, relay.up, relay.down),
            (relay.upstream, relay.down, relay.up),
        ):
            events = 0
            if not reading.eof and not reading.pending:
                events |= selectors.EVENT_READ
            if writing.pending:
                events |= selectors.EVENT_WRITE
            try:
                key = self._selector.get_key(sock)
            except KeyError:
                if events:
                    self._selector.register(sock, events, self._event(relay, sock))
                continue
            if not events:
                self._selector.unregister(sock)
            elif key.events != events:
                self._selector.modify(sock, events, key.data)

    def _close_relay(self, relay: _Relay) -> None:
        if relay.closed:
            return
        relay.closed = True
        self._relays.discard(relay)
        for sock in (relay.client, relay.upstream):
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(sock)
            sock.close()
        relay.up.close()
        relay.down.close()

    def _shutdown(self) -> None:
        for relay in list(self._relays):
            self._close_relay(relay)
        for conn, _ in list(self._pending.values()):
            conn.close()
        self._pending.clear()
        if self._listener.fileno() >= 0:
            self._listener.close()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()


def connect_upstream(sockaddr: Any, family: int) -> Callable[[], socket.socket]:
    """A connector for the internal gRPC address."""

    def connect() -> socket.socket:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.connect(sockaddr)
        except OSError:
            sock.close()
            raise
        if family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    return connect
