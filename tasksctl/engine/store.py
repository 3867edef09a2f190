"""The engine's SQLite store: one writer thread doing group commits, plus a read connection.

Durability contract: ``await store.write(fn)`` returns only after the transaction that ran
``fn`` has been committed with ``synchronous=FULL`` (the WAL is fsync'ed), so an RPC that
answers OK survives ``kill -9``.

Speed: a single writer thread owns the write connection. It takes every pending operation
from its queue, runs the whole batch in ONE transaction (each operation inside a SAVEPOINT,
so one operation's expected error does not undo the others), commits once, and then wakes the
event loop once for the whole batch. Under load many creates share one fsync.

Reads use a separate connection on the event-loop thread: in WAL mode a read sees every
committed transaction, which includes every write that has been acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tasksctl.engine import records
from tasksctl.engine.migrations import apply_migrations
from tasksctl.errors import EngineUnavailable, TasksctlError

T = TypeVar("T")
WriteFn = Callable[[sqlite3.Connection], Any]

log = logging.getLogger("tasksctl.engine.store")

MAX_BATCH = 1024
# While busy, wait this long after the first pending write for others to share its commit.
LINGER_S = 0.002
BUSY_GAP_S = 0.005
PRUNE_INTERVAL_S = 60.0
_STOP = object()

# Pragmas for every connection. WAL lets readers run beside the writer; busy_timeout covers
# the moment a checkpoint or another process (e.g. an inspecting sqlite3 shell) holds a lock.
COMMON_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA busy_timeout=5000", "PRAGMA foreign_keys=OFF")
# FULL: the WAL is fsync'ed at every commit, which is what makes an OK durable.
WRITER_PRAGMAS = ("PRAGMA synchronous=FULL", "PRAGMA wal_autocheckpoint=4000")


class StoreClosed(EngineUnavailable):
    """The engine is shutting down."""


class _Op:
    __slots__ = ("fn", "future", "ok", "result")

    def __init__(self, fn: WriteFn, future: asyncio.Future[Any]) -> None:
        self.fn = fn
        self.future = future
        self.ok = False
        self.result: Any = None


class Store:
    """SQLite database in ``path`` with group-committed writes and inline reads."""

    def __init__(self, path: Path, max_batch: int = MAX_BATCH, linger: float = LINGER_S) -> None:
        self.path = path
        self.max_batch = max_batch
        self.linger = linger
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._read_conn: sqlite3.Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = True
        self.batches = 0
        self.ops = 0

    # -- lifecycle --------------------------------------------------------------------------

    def open(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Create/migrate the database and start the writer thread."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._loop = loop or asyncio.get_running_loop()
        conn = self._connect(WRITER_PRAGMAS)
        try:
            apply_migrations(conn)
        finally:
            conn.close()
        self._read_conn = self._connect(())
        self._closed = False
        started = threading.Event()
        self._thread = threading.Thread(
            target=self._writer_main, args=(started,), name="tasksctl-store-writer", daemon=True
        )
        self._thread.start()
        started.wait()

    async def close(self) -> None:
        """Finish every write already submitted, commit, and close the connections."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        if self._read_conn is not None:
            self._read_conn.close()
            self._read_conn = None

    def _connect(self, extra: tuple[str, ...]) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves; check_same_thread=False for
        # the read connection, which is only ever used from the event-loop thread.
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, cached_statements=256
        )
        for pragma in (*COMMON_PRAGMAS, *extra):
            conn.execute(pragma)
        return conn

    # -- API --------------------------------------------------------------------------------

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in the next group transaction; return its result once committed.

        ``fn`` runs on the writer thread inside a SAVEPOINT: if it raises, its own changes are
        rolled back, the others in the batch still commit, and the exception is raised here.
        """
        if self._closed or self._loop is None:
            raise StoreClosed("The local engine is shutting down.")
        future: asyncio.Future[T] = self._loop.create_future()
        self._queue.put(_Op(fn, future))
        return await future

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` on the read connection (event-loop thread); sees all commits."""
        if self._read_conn is None:
            raise StoreClosed("The local engine is shutting down.")
        return fn(self._read_conn)

    # -- writer thread ----------------------------------------------------------------------

    def _writer_main(self, started: threading.Event) -> None:
        conn = self._connect(WRITER_PRAGMAS)
        started.set()
        next_prune = 0.0
        last_commit = 0.0
        stopping = False
        try:
            while not stopping:
                batch, stopping = self._collect(time.monotonic() - last_commit < BUSY_GAP_S)
                prune = time.monotonic() >= next_prune
                if prune:
                    next_prune = time.monotonic() + PRUNE_INTERVAL_S
                if batch or prune:
                    self._run_batch(conn, batch, prune)
                    last_commit = time.monotonic()
        finally:
            conn.close()

    def _collect(self, busy: bool) -> tuple[list[_Op], bool]:
        """Wait for the next operations; returns (batch, stop requested).

        While busy (the last commit was moments ago) linger up to ``linger`` seconds so more
        operations share one commit: fsync is cheap here, the per-commit CPU is not.
        """
        get = self._queue.get
        item = get()
        deadline = time.monotonic() + (self.linger if busy else 0.0)
        batch: list[_Op] = []
        while item is not _STOP:
            batch.append(item)
            if len(batch) >= self.max_batch:
                return batch, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return batch, False
                try:
                    item = get(timeout=remaining)
                except queue.Empty:
                    return batch, False
        while True:  # stopping: take everything submitted before the stop
            try:
                extra = self._queue.get_nowait()
            except queue.Empty:
                return batch, True
            if extra is not _STOP:
                batch.append(extra)

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Op], prune: bool) -> None:
        execute = conn.execute
        try:
            execute("BEGIN IMMEDIATE")
            if prune:
                records.prune_tombstones(conn, time.time_ns() // 1000)
            for op in batch:
                execute("SAVEPOINT op")
                try:
                    op.result = op.fn(conn)
                    op.ok = True
                    execute("RELEASE op")
                except BaseException as exc:  # reported to the caller; the batch goes on
                    execute("ROLLBACK TO op")
                    execute("RELEASE op")
                    op.result = exc if isinstance(exc, TasksctlError) else _internal(exc)
                    op.ok = False
            execute("COMMIT")
        except BaseException as exc:  # the commit itself failed: nobody gets an OK
            log.exception("group commit failed")
            try:
                execute("ROLLBACK")
            except sqlite3.Error:
                pass
            for op in batch:
                op.ok, op.result = False, _internal(exc)
        self.batches += 1
        self.ops += len(batch)
        if batch and self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(_resolve, batch)
            except RuntimeError:  # loop already closed during shutdown
                pass


def _resolve(batch: list[_Op]) -> None:
    for op in batch:
        future = op.future
        if future.done():  # the caller went away (deadline, cancellation)
            continue
        if op.ok:
            future.set_result(op.result)
        else:
            future.set_exception(op.result)


def _internal(exc: BaseException) -> TasksctlError:
    if not isinstance(exc, Exception):
        return TasksctlError("internal error")
    log.error("store operation failed: %r", exc, exc_info=exc)
    error = TasksctlError(f"Internal error: {exc}")
    error.grpc_status = "INTERNAL"
    return error
