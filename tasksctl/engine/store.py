"""The engine's SQLite store: pipelined group commit on one write connection, plus reads.

Durability contract: ``await store.write(fn)`` returns only after the transaction that ran
``fn`` has been committed with ``synchronous=FULL`` (the WAL is fsync'ed), so an RPC that
answers OK survives ``kill -9``.

How writes flow (a two-stage pipeline):

1. ``write(fn)`` queues the operation. Every operation queued while the previous commit is
   still running forms the next batch.
2. On the event-loop thread the batch runs in ONE transaction, each operation inside a
   SAVEPOINT so that one operation's expected error (ALREADY_EXISTS, ...) does not undo the
   others. Running the statements on the loop thread costs no thread hand-off per operation.
3. The ``COMMIT`` (the fsync, which releases the GIL) runs on the committer thread; when it
   is done the loop resolves every future of the batch and starts the next batch.

Under load many writes share one fsync, and the loop keeps serving RPCs while the disk works.
Reads use a separate connection on the loop thread: in WAL mode a read sees every committed
transaction (so every acknowledged write) and never the batch still being committed.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tasksctl.engine import records
from tasksctl.engine.clock import Clock, RealClock
from tasksctl.engine.migrations import apply_migrations
from tasksctl.engine.sql import statements
from tasksctl.engine.storage import StoreClosed
from tasksctl.engine.task_ids import TaskIdCodec, new_key
from tasksctl.errors import TasksctlError

T = TypeVar("T")
WriteFn = Callable[[sqlite3.Connection], Any]

log = logging.getLogger("tasksctl.engine.store")

MAX_BATCH = 2000
# While busy (a commit ended moments ago), wait this long before starting the next batch so
# that more writes share its commit: fsync is cheap here, the per-commit CPU is not.
LINGER_S = 0.003
BUSY_GAP_S = 0.005
PRUNE_INTERVAL_US = 60_000_000
TASK_ID_KEY = "task_id_key"
_STOP = object()

# Pragmas for every connection, then for the write connection (sql/queries.sql says why).
COMMON_PRAGMAS = tuple(statements("connection_pragmas"))
WRITER_PRAGMAS = tuple(statements("writer_pragmas"))


class Store:
    """SQLite database in ``path`` with group-committed writes and inline reads.

    Implements ``storage.Storage``. ``path=None`` makes a temporary database (in ``/dev/shm``
    when there is one) removed on close: the same code path as a real one, for tests.
    ``write`` and ``read`` must be called from the event-loop thread that opened the store.
    """

    def __init__(
        self,
        path: Path | None,
        max_batch: int = MAX_BATCH,
        linger: float = LINGER_S,
        clock: Clock | None = None,
    ) -> None:
        self._temp_dir: Path | None = None
        if path is None:
            shm = Path("/dev/shm")
            base = str(shm) if shm.is_dir() else None
            self._temp_dir = Path(tempfile.mkdtemp(prefix="tasksctl-store-", dir=base))
            path = self._temp_dir / "engine.db"
        self.path = path
        self.clock: Clock = clock or RealClock()
        self.max_batch = max_batch
        self.linger = linger
        self._last_commit = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: sqlite3.Connection | None = None
        self._read_conn: sqlite3.Connection | None = None
        self._pending: list[tuple[WriteFn, asyncio.Future[Any], bool]] = []
        # queue name -> row id, for write functions only (see records.insert_task); cleared
        # whenever a transaction fails so it never holds an id that was rolled back.
        self.queue_ids: dict[str, int] = {}
        self.task_ids = TaskIdCodec(new_key())  # replaced by the database's own key on open
        self._next_task_rowid = 1
        self._committing = False
        self._flush_scheduled = False
        self._commits: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._idle: asyncio.Event | None = None
        self._next_prune_us = 0
        self._closed = True
        self.batches = 0
        self.ops = 0

    # -- lifecycle --------------------------------------------------------------------------

    def open(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Create or migrate the database and start the committer thread."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._loop = loop or asyncio.get_running_loop()
        self._conn = self._connect(WRITER_PRAGMAS)
        apply_migrations(self._conn, now_us=self.clock.now_us())
        self._conn.execute(records.INSERT_META, (TASK_ID_KEY, new_key()))
        key = self._conn.execute(records.SELECT_META, (TASK_ID_KEY,)).fetchone()[0]
        self.task_ids = TaskIdCodec(str(key))
        self._next_task_rowid = int(self._conn.execute(records.NEXT_TASK_ROWID).fetchone()[0])
        self._read_conn = self._connect(())
        self._idle = asyncio.Event()
        self._idle.set()
        self._thread = threading.Thread(
            target=self._committer, name="tasksctl-store-commit", daemon=True
        )
        self._thread.start()
        self._closed = False

    async def close(self) -> None:
        """Commit every write already submitted, then close the connections."""
        if self._closed:
            return
        self._closed = True
        if self._pending and not self._committing:
            self._flush()
        if self._idle is not None:
            await self._idle.wait()
        self._commits.put(_STOP)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        for conn in (self._conn, self._read_conn):
            if conn is not None:
                conn.close()
        self._conn = self._read_conn = None
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)

    def _connect(self, extra: tuple[str, ...]) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves. check_same_thread=False: the
        # write connection's COMMIT runs on the committer thread, strictly after the loop
        # thread has finished the batch's statements (never both at once).
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, cached_statements=256
        )
        for pragma in (*COMMON_PRAGMAS, *extra):
            conn.execute(pragma)
        return conn

    # -- API --------------------------------------------------------------------------------

    def write(
        self, fn: Callable[[sqlite3.Connection], T], savepoint: bool = True
    ) -> asyncio.Future[T]:
        """Run ``fn(conn)`` in the next group transaction; await the result once committed.

        ``fn`` runs on the event-loop thread inside a SAVEPOINT: if it raises, its own changes
        are rolled back, the rest of the batch still commits, and the exception is raised to
        the awaiting caller. ``savepoint=False`` skips the SAVEPOINT for a function whose only
        write is one final statement (SQLite undoes a failed statement by itself): the
        CreateTask hot path. (A plain function returning the future: one coroutine less per
        write on the hot path.)
        """
        if self._closed or self._loop is None:
            raise StoreClosed("The local engine is shutting down.")
        future: asyncio.Future[T] = self._loop.create_future()
        self._pending.append((fn, future, savepoint))
        if not self._committing and not self._flush_scheduled:
            # Start the batch at the next loop iteration (so the RPCs already received join
            # it), or a little later while busy (so more of them do).
            self._flush_scheduled = True
            if time.monotonic() - self._last_commit < BUSY_GAP_S:
                self._loop.call_later(self.linger, self._flush)
            else:
                self._loop.call_soon(self._flush)
        return future

    def allocate_task_rowid(self) -> int:
        """The row id for the next task insert (its generated ID is ``task_ids.encode``)."""
        rowid = self._next_task_rowid
        self._next_task_rowid += 1
        return rowid

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` on the read connection (event-loop thread); sees all commits."""
        if self._read_conn is None:
            raise StoreClosed("The local engine is shutting down.")
        return fn(self._read_conn)

    # -- the pipeline -----------------------------------------------------------------------

    def _flush(self) -> None:
        """Stage 2: run the pending operations in one transaction, hand COMMIT to the thread."""
        self._flush_scheduled = False
        if self._committing or not self._pending or self._conn is None:
            return
        batch = self._pending[: self.max_batch]
        del self._pending[: self.max_batch]
        conn = self._conn
        execute = conn.execute
        outcomes: list[tuple[asyncio.Future[Any], bool, Any]] = []
        try:
            execute("BEGIN IMMEDIATE")
            now_us = self.clock.now_us()
            if now_us >= self._next_prune_us:
                self._next_prune_us = now_us + PRUNE_INTERVAL_US
                records.prune_tombstones(conn, now_us)
                records.prune_operations(conn, now_us)
            for fn, future, savepoint in batch:
                if savepoint:
                    execute("SAVEPOINT op")
                try:
                    result = fn(conn)
                except Exception as exc:  # reported to its caller; the batch goes on
                    if savepoint:
                        execute("ROLLBACK TO op")
                        execute("RELEASE op")
                    outcomes.append((future, False, _as_error(exc)))
                else:
                    if savepoint:
                        execute("RELEASE op")
                    outcomes.append((future, True, result))
        except Exception as exc:  # the transaction itself broke: nobody gets an OK
            log.exception("group transaction failed")
            _rollback(conn)
            self.queue_ids.clear()
            self._resolve([(future, False, _as_error(exc)) for _, future, _ in batch])
            self._schedule_next()
            return
        self._committing = True
        if self._idle is not None:
            self._idle.clear()
        self._commits.put(outcomes)

    def _committer(self) -> None:
        """Stage 3 (own thread): COMMIT, i.e. write and fsync the WAL, then wake the loop."""
        while True:
            outcomes = self._commits.get()
            if outcomes is _STOP:
                return
            error: BaseException | None = None
            conn = self._conn
            assert conn is not None
            try:
                conn.execute("COMMIT")
            except BaseException as exc:
                log.exception("group commit failed")
                error = exc
                _rollback(conn)
            assert self._loop is not None
            try:
                self._loop.call_soon_threadsafe(self._committed, outcomes, error)
            except RuntimeError:  # the loop is gone (interpreter shutting down)
                return

    def _committed(
        self, outcomes: list[tuple[Any, bool, Any]], error: BaseException | None
    ) -> None:
        self._committing = False
        self._last_commit = time.monotonic()
        self.batches += 1
        self.ops += len(outcomes)
        if error is not None:
            self.queue_ids.clear()
            outcomes = [(future, False, _as_error(error)) for future, _, _ in outcomes]
        self._resolve(outcomes)
        self._schedule_next()

    def _schedule_next(self) -> None:
        if self._pending:
            if not self._flush_scheduled:
                self._flush_scheduled = True
                assert self._loop is not None
                self._loop.call_later(self.linger, self._flush)
        elif self._idle is not None and not self._committing:
            self._idle.set()

    @staticmethod
    def _resolve(outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
        for future, ok, value in outcomes:
            if future.done():  # the caller went away (deadline, cancellation)
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass


def _as_error(exc: BaseException) -> BaseException:
    if isinstance(exc, TasksctlError):
        return exc
    log.error("store operation failed: %r", exc, exc_info=exc)
    error = TasksctlError(f"Internal error: {exc}")
    error.grpc_status = "INTERNAL"
    return error
