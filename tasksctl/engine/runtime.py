"""The ``Engine``: owns the store, the gRPC server and the HTTP side port, and their lifecycle.

Start order: store (migrations, writer thread) → gRPC server → side port → dispatcher →
start-up hook, e.g. ``--queues`` (engine/preload.py) → state files → ready line. Stop order
(SIGINT/SIGTERM): stop accepting RPCs and let in-flight ones finish, stop the dispatcher,
close the side port, then close the store (which commits every write already queued) and
remove the state files.
"""

from __future__ import annotations

import asyncio
import fcntl
import gc
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import grpc
from aiohttp import web

from tasksctl import __version__
from tasksctl.engine import event_loop, http_side
from tasksctl.engine.clock import Clock, RealClock
from tasksctl.engine.config import LOCK_FILENAME, PID_FILENAME, STATE_FILENAME, EngineConfig
from tasksctl.engine.datadir import FILE_MODE, PRIVATE_UMASK, ensure_data_dir, make_private
from tasksctl.engine.db_check import check_database
from tasksctl.engine.preload import preload_queues
from tasksctl.engine.server import CloudTasksService
from tasksctl.engine.side_guard import SideGuard
from tasksctl.engine.store import Store
from tasksctl.errors import EngineUnavailable

if TYPE_CHECKING:
    from tasksctl.engine import relay_process, shared_port
    from tasksctl.engine.dispatcher import Dispatcher
    from tasksctl.engine.public_port import PublicPort

log = logging.getLogger("tasksctl.engine")

READY_PREFIX = "tasksctl engine ready"
GRPC_OPTIONS = [
    # Without this a second engine could bind the same port and silently share it.
    ("grpc.so_reuseport", 0),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]
# Which gRPC server: "native" (grpc_front on the engine's loop, the default) or "grpcio"
# (grpc.aio behind the shared-port relay, the stack before it; kept as a fallback).
GRPC_STACK_ENV = "TASKSCTL_ENGINE_GRPC"
STACK_NATIVE = "native"
STACK_GRPCIO = "grpcio"
# "1" (grpcio stack only): gRPC alone on the main port, as before REST.
GRPC_ONLY_ENV = "TASKSCTL_ENGINE_GRPC_ONLY"
# "thread": relay gRPC on a thread of the engine instead of a child process (benchmarks).
RELAY_ENV = "TASKSCTL_ENGINE_RELAY"
GC_THRESHOLD = 50_000
SWITCH_INTERVAL_S = 0.0005
RouteAdder = Callable[[web.Application, "Engine"], None]


def grpc_stack() -> str:
    """``grpcio`` when the environment asks for it (or for gRPC only), else ``native``."""
    wanted = os.environ.get(GRPC_STACK_ENV, "").strip().lower()
    if wanted == STACK_GRPCIO or os.environ.get(GRPC_ONLY_ENV) == "1":
        return STACK_GRPCIO
    return STACK_NATIVE


class Engine:
    """One running local engine: store, servicer and dispatcher share one ``clock``."""

    def __init__(self, config: EngineConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or RealClock()
        self.store = Store(config.db_path, clock=self.clock, durability=config.durability)
        self.service = CloudTasksService(self.store, config, self.clock)
        self.http_route_adders: list[RouteAdder] = [http_side.add_routes]
        self.started_at = ""
        self.grpc_server = STACK_NATIVE  # which gRPC server runs (grpc_stack), set by start
        self.started_monotonic = time.monotonic()
        self._grpc: grpc.aio.Server | None = None
        self._http: web.AppRunner | None = None
        self._lock_file: IO[str] | None = None
        self._stopping: asyncio.Event | None = None
        self._shared: shared_port.SharedPort | relay_process.RelayProcess | None = None
        self._public: PublicPort | None = None
        self._rest: web.Server | None = None
        self._adopting: set[asyncio.Task[Any]] = set()
        # Local import: the dispatcher pulls in aiohttp's client side and the OIDC keys.
        from tasksctl.engine import clock_http, dispatch_http
        from tasksctl.engine.dispatcher import Dispatcher

        # Started after the servers, stopped before the store closes; the servicer tells it
        # about every committed change and RunTask goes through it (server.DispatchHooks).
        self.dispatcher: Dispatcher = Dispatcher(
            self.store, config, self.clock, self.service.api_activity
        )
        self.service.attach_dispatcher(self.dispatcher)
        self.http_route_adders.append(dispatch_http.add_routes)
        self.http_route_adders.append(clock_http.add_routes)

    async def start(self) -> None:
        """Open the store and start listening; raises EngineUnavailable when it cannot."""
        config = self.config
        ensure_data_dir(config.data_dir)
        make_private(config.data_dir)
        self._lock_data_dir()
        try:
            check_database(config.db_path)
        except BaseException:
            self._remove_state()  # releases the data-dir lock
            raise
        self.store.open(asyncio.get_running_loop())
        make_private(config.data_dir)  # the WAL and SHM the open just created
        handlers = self.service.handlers()
        self.grpc_server = grpc_stack()
        if self.grpc_server == STACK_NATIVE:
            await self._start_public_port(handlers)
        else:
            await self._start_grpcio(handlers)
        runner = web.AppRunner(http_side.build_app(self), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, config.host, config.http_port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            await self.stop()
            raise EngineUnavailable(
                f"Cannot listen on {config.host}:{config.http_port}: {exc.strerror or exc}"
            ) from None
        if config.http_port == 0:
            config.http_port = runner.addresses[0][1]
        self._http = runner
        await self.dispatcher.start()
        try:
            await preload_queues(config)  # --queues FILE: through our own gRPC port
        except BaseException:
            await self.stop()
            raise
        self.started_at = (
            datetime.fromtimestamp(self.clock.time(), UTC)
            .isoformat(timespec="seconds")
            .replace("+00:00", "Z")
        )
        self.started_monotonic = time.monotonic()
        # Everything allocated so far lives for the whole run: keep it out of GC passes, and
        # collect young objects less often (each RPC allocates many short-lived ones).
        gc.freeze()
        gc.set_threshold(GC_THRESHOLD, 20, 20)
        # Threads that hand work back to the loop (the store's committer in machine mode,
        # grpc.aio's poller with the grpcio stack) need the GIL for it; while the loop is busy
        # (dispatching) they would wait up to the default 5 ms switch interval each time.
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self._write_state()
        log.info("engine listening: grpc=%s http=%s", config.grpc_address, config.http_url)

    async def _start_public_port(self, handlers: list[grpc.GenericRpcHandler]) -> None:
        """gRPC (``grpc_front``) and REST on the main port, both served on this loop."""
        from tasksctl.engine.public_port import PublicPort
        from tasksctl.engine.rest.app import build_server

        listener = await self._bind_public()
        self.config.port = listener.getsockname()[1]
        guard = SideGuard(self.config.host, lambda: self.config.port)
        self._rest = build_server(handlers, guard)
        self._public = PublicPort(listener, handlers, self._rest)
        await self._public.start()

    async def _start_grpcio(self, handlers: list[grpc.GenericRpcHandler]) -> None:
        """The fallback stack (``TASKSCTL_ENGINE_GRPC=grpcio``): grpc.aio's server, behind the
        shared-port relay so that REST keeps the main port."""
        from tasksctl.engine import shared_port

        config = self.config
        server = grpc.aio.server(options=GRPC_OPTIONS)
        server.add_generic_rpc_handlers(handlers)
        if os.environ.get(GRPC_ONLY_ENV) == "1":
            address = config.grpc_address  # the engine before REST: gRPC owns the main port
        else:
            listener = await self._bind_public()
            address, _ = shared_port.internal_address("grpc")
        try:
            port = server.add_insecure_port(address)
        except RuntimeError as exc:
            await self.store.close()
            raise EngineUnavailable(f"Cannot listen on {address}: {exc}") from None
        if port == 0:
            await self.store.close()
            raise EngineUnavailable(f"Cannot listen on {address} (port in use?)")
        await server.start()
        self._grpc = server
        if address == config.grpc_address:
            config.port = port
        else:
            self._start_shared_port(listener, handlers, address, port)

    async def _bind_public(self) -> socket.socket:
        """The main port's listener (no SO_REUSEPORT: a second engine cannot share it)."""
        config = self.config
        host = config.host.strip("[]")
        try:
            if host in ("", "::") and socket.has_dualstack_ipv6():
                return socket.create_server(
                    ("", config.port), family=socket.AF_INET6, dualstack_ipv6=True, backlog=1024
                )
            family = socket.getaddrinfo(host, config.port, type=socket.SOCK_STREAM)[0][0]
            return socket.create_server((host, config.port), family=family, backlog=1024)
        except OSError as exc:
            await self.store.close()
            raise EngineUnavailable(
                f"Cannot listen on {config.grpc_address}: {exc.strerror or exc} (port in use?)"
            ) from None

    def _start_shared_port(
        self,
        listener: socket.socket,
        handlers: list[grpc.GenericRpcHandler],
        internal: str,
        internal_port: int,
    ) -> None:
        """gRPC and REST on the main port: gRPC is relayed to the server's ``internal``
        address by a child process (``relay_process``; ``TASKSCTL_ENGINE_RELAY=thread`` keeps
        the relay on a thread of this process), REST is served here."""
        from tasksctl.engine import relay_process, shared_port
        from tasksctl.engine.rest.app import build_server

        self.config.port = listener.getsockname()[1]
        if internal.endswith(":0"):  # no abstract unix sockets here: the internal port is TCP
            internal = f"127.0.0.1:{internal_port}"
        guard = SideGuard(self.config.host, lambda: self.config.port)
        self._rest = build_server(handlers, guard)
        loop = asyncio.get_running_loop()
        if os.environ.get(RELAY_ENV) == "thread" or not hasattr(socket, "send_fds"):
            relay = shared_port.SharedPort(
                listener,
                relay_process.upstream_connector(internal),
                lambda sock: loop.call_soon_threadsafe(self._adopt_http, sock),
            )
            relay.start()
            self._shared = relay
        else:
            process = relay_process.RelayProcess(listener, internal, self._adopt_http)
            process.start(loop)
            self._shared = process
        log.debug("gRPC relayed to %s", internal)

    def _adopt_http(self, sock: socket.socket) -> None:
        """Serve a REST connection the shared port accepted (on the engine's loop)."""
        if self._rest is None:
            sock.close()
            return
        loop = asyncio.get_running_loop()
        task = loop.create_task(loop.connect_accepted_socket(self._rest, sock))
        self._adopting.add(task)
        task.add_done_callback(self._adopted)

    def _adopted(self, task: asyncio.Task[Any]) -> None:
        self._adopting.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("REST connection failed: %s", task.exception())

    async def stop(self, grace: float = 5.0) -> None:
        """Graceful stop; safe to call twice."""
        if self._public is not None:
            await self._public.close(grace)
            self._public = None
        if self._shared is not None:
            self._shared.stop_accepting()
        if self._grpc is not None:
            await self._grpc.stop(grace)
            self._grpc = None
        if self._shared is not None:
            self._shared.close()
            self._shared = None
        if self._rest is not None:
            await self._rest.shutdown(grace)
            self._rest = None
        await self.dispatcher.stop()
        if self._http is not None:
            await self._http.cleanup()
            self._http = None
        await self.store.close()
        self._remove_state()
        log.info("engine stopped")

    def ready_line(self) -> str:
        config = self.config
        return (
            f"{READY_PREFIX} grpc={config.grpc_address} http={config.http_url} "
            f"data={config.data_dir}"
        )

    async def serve(self) -> None:
        """Start, print the ready line, run until SIGINT/SIGTERM, stop."""
        loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stopping.set)
        await self.start()
        try:
            sys.stdout.write(self.ready_line() + "\n")
            sys.stdout.flush()
            await self._stopping.wait()
            log.info("stop requested")
        finally:
            await self.stop()

    def request_stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()

    # -- files in the data dir --------------------------------------------------------------

    def _lock_data_dir(self) -> None:
        path = self.config.data_dir / LOCK_FILENAME
        handle = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE), "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise EngineUnavailable(
                f"Another engine is already using the data dir {self.config.data_dir}"
            ) from None
        self._lock_file = handle

    def _write_state(self) -> None:
        config = self.config
        state = {
            "pid": os.getpid(),
            "host": config.host,
            "port": config.port,
            "http_port": config.http_port,
            "data_dir": str(config.data_dir),
            "started_at": self.started_at,
            "version": __version__,
        }
        _atomic_write(config.data_dir / STATE_FILENAME, json.dumps(state, indent=2) + "\n")
        _atomic_write(config.data_dir / PID_FILENAME, f"{os.getpid()}\n")

    def _remove_state(self) -> None:
        for name in (PID_FILENAME, STATE_FILENAME):
            path = self.config.data_dir / name
            try:
                if _file_pid(path) in (None, os.getpid()):
                    path.unlink()
            except FileNotFoundError:
                pass
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _file_pid(path: Path) -> int | None:
    try:
        text = path.read_text()
    except OSError:
        return None
    try:
        return int(json.loads(text)["pid"]) if text.lstrip().startswith("{") else int(text)
    except (ValueError, KeyError, TypeError):
        return None


def run_engine(config: EngineConfig) -> int:
    """Run in the foreground until a signal; returns the process exit code."""
    from tasksctl.engine.time_control import make_clock

    os.umask(PRIVATE_UMASK)  # every file the engine creates (db, WAL, SHM, keys) is 0600
    engine = Engine(config, make_clock(config))
    event_loop.run(engine.serve())
    return 0
