"""The shared port's relay in a child process, so gRPC bytes never contend for the engine's GIL.

The engine binds the public port (so "port in use" is its own error, and ``config.port`` is
known), then starts ``python -m tasksctl.engine.relay_process LISTEN_FD CONTROL_FD UPSTREAM``
with both descriptors inherited. The child runs ``shared_port.SharedPort`` on its main thread:
gRPC connections are relayed to ``UPSTREAM`` (the gRPC server's internal address); REST
connections are passed back to the engine over the control socket (``SCM_RIGHTS``), where
aiohttp serves them directly, with no relay. The child stops when told to, or when the control
socket reaches EOF, which is also what happens when the engine dies (even by ``kill -9``); if
the child dies, the engine (which keeps its copy of the listener) starts another.

``RelayProcess`` is the engine's side: start, receive REST connections, stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import subprocess
import sys
from collections.abc import Callable

from tasksctl.engine import shared_port

log = logging.getLogger("tasksctl.engine.relay")

MAX_FDS = 32
MAX_RESTARTS = 5
STOP_TIMEOUT = 5.0


def upstream_connector(address: str) -> Callable[[], socket.socket]:
    """A connector for a gRPC address: ``unix-abstract:NAME`` or ``HOST:PORT``."""
    if address.startswith("unix-abstract:"):
        name = "\0" + address.removeprefix("unix-abstract:")
        return shared_port.connect_upstream(name, socket.AF_UNIX)
    host, _, port = address.rpartition(":")
    return shared_port.connect_upstream((host, int(port)), socket.AF_INET)


class RelayProcess:
    """The engine's handle on the relay child.

    The engine keeps its copy of the listener while it serves, so the port stays bound (and
    new connections wait in the backlog) if the child dies; it then starts a new one, up to
    ``MAX_RESTARTS`` times.
    """

    def __init__(
        self, listener: socket.socket, upstream: str, on_http: Callable[[socket.socket], object]
    ) -> None:
        self._listener: socket.socket | None = listener
        self._upstream = upstream
        self._on_http = on_http
        self._control: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self.restarts = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Spawn the child with the listener; REST connections arrive on ``loop``."""
        assert self._listener is not None
        self._loop = loop
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        fds = (self._listener.fileno(), theirs.fileno())
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tasksctl.engine.relay_process", str(fds[0]),
                 str(fds[1]), self._upstream],
                pass_fds=fds, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            )  # fmt: skip
        finally:
            theirs.close()
        ours.setblocking(False)
        self._control = ours
        loop.add_reader(ours.fileno(), self._receive)

    def _receive(self) -> None:
        control = self._control
        if control is None:
            return
        try:
            message, fds, _, _ = socket.recv_fds(control, 64, MAX_FDS)
        except BlockingIOError:
            return
        except OSError as exc:
            message, fds = b"", []
            log.warning("relay control socket failed: %s", exc)
        if not message and not fds:
            self._child_gone()
            return
        for fd in fds:
            self._on_http(socket.socket(fileno=fd))

    def _child_gone(self) -> None:
        self._forget_control()
        code = None
        if self.proc is not None:
            try:
                code = self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:  # it closed the socket yet lives on: end it
                self.proc.kill()
                code = self.proc.wait()
            self.proc = None
        if self._stopping or self._listener is None or self._loop is None:
            return
        if self.restarts >= MAX_RESTARTS:
            log.error("the shared-port relay exited (%s) too often; the main port is closed", code)
            self._close_listener()
            return
        self.restarts += 1
        log.error("the shared-port relay exited (%s); starting it again", code)
        self.start(self._loop)

    def stop_accepting(self) -> None:
        self._stopping = True
        self._send(shared_port.COMMAND_STOP_ACCEPTING)
        self._close_listener()

    def close(self) -> None:
        """Stop the child (it closes every relayed connection) and wait for it."""
        self._stopping = True
        self._send(shared_port.COMMAND_STOP)
        self._forget_control()
        self._close_listener()
        if self.proc is not None:
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()

    def _send(self, command: bytes) -> None:
        if self._control is not None:
            with contextlib.suppress(OSError):
                self._control.send(command)

    def _forget_control(self) -> None:
        control, self._control = self._control, None
        if control is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(control.fileno())
            control.close()


def main(argv: list[str]) -> int:
    """The child: relay until told to stop or until the engine is gone."""
    listen_fd, control_fd, upstream = int(argv[0]), int(argv[1]), argv[2]
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    listener = socket.socket(fileno=listen_fd)
    control = socket.socket(fileno=control_fd)
    control.settimeout(STOP_TIMEOUT)

    def hand_over(sock: socket.socket) -> None:
        try:
            socket.send_fds(control, [b"h"], [sock.fileno()])
        finally:
            sock.close()  # the engine holds its own copy now

    relay = shared_port.SharedPort(listener, upstream_connector(upstream), hand_over, control)
    relay.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
