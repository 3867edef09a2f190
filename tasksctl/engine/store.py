"""The engine's SQLite store: adaptive group commit on one write connection, plus reads.

Durability contract (``durability``, the engine's ``--durability`` option): ``await
store.write(fn)`` returns only after the transaction that ran ``fn`` has been committed.

* ``process`` (the default): ``synchronous=NORMAL`` in WAL mode. The COMMIT writes the
  transaction's WAL frames into the file (the OS page cache) before the answer, so an RPC
  that answered OK survives ``kill -9``, an OOM kill or any crash of the engine process; it is
  not fsync'ed, so a power loss or kernel crash can lose the last moments of writes (never
  corrupt the database). This is what a CI job or a dev machine wants: the engine's data
  outlives the engine, and nobody pays an fsync per request.
* ``machine``: ``synchronous=FULL``. Each COMMIT also fsyncs the WAL: an OK survives power
  loss too. Costs the fsync (~0.6 ms on an idle SSD, far more on a busy disk) per commit.

How writes flow:

1. ``write(fn)`` queues the operation: API writes in one list, ``background`` writes (the
   dispatcher's delivery outcomes) in another.
2. A batch starts on the event-loop thread: every queued API write first, then background
   writes up to ``background_per_batch`` (so one batch never blocks the loop for long and
   outcomes never delay an API write by more than one bounded batch). It runs in ONE
   transaction, each operation inside a SAVEPOINT so that one operation's expected error
   (ALREADY_EXISTS, ...) does not undo the others. Running the statements on the loop thread
   costs no thread hand-off per operation.
3. The COMMIT, then every future of the batch is resolved.
   * ``process`` mode, a batch of API writes only: the COMMIT runs at once on the loop thread.
     Without an fsync it is a few ``write()`` calls into the page cache, cheaper than the two
     thread hand-offs a committer thread costs (each waits for the GIL while the loop is
     busy), and API latency is what counts here.
   * ``machine`` mode, and any batch that carries delivery outcomes: the COMMIT (in machine
     mode with its fsync) runs on the committer thread, which releases the GIL, and the next
     batch forms meanwhile, so the dispatcher keeps dispatching while outcomes commit.
   In ``process`` mode WAL checkpoints, which do fsync, run on a checkpointer thread
   (``PASSIVE``, beside the writer) instead of inside a commit.

When the next batch starts (the adaptive part, ``_batch_delay``): at the next loop turn, so
the requests received in this turn share it. Requests that arrive while the loop is busy
(with a batch, or with other requests) pile up in the sockets and are all read in one turn,
so concurrent callers share commits without anyone waiting on purpose. Only in ``machine``
mode, where each commit costs an fsync, does a batch also linger when the API callers are
evidently concurrent: the previous batch was shared by several API writes, ended less than
``BUSY_GAP_S`` ago, and fewer API writes than it had are queued. Then their next writes are
on the way, and the batch waits for them, up to ``LINGER_S`` and only until as many API
writes are queued as the previous batch had. A lone caller's previous batch had one write,
so a lone caller never waits: it pays its own statements and commit, nothing else. Under
load many writes share one commit (the per-commit CPU and, in ``machine`` mode, the fsync
are what limit throughput). Background writes never make a batch wait, and neither does a
backlog the batch bounds left behind.

Priority and bounds: API writes always go first; background writes fill at most
``background_per_batch`` places of a batch, so recording outcomes never holds the event loop
(which also serves the API) for long, and an API write waits behind at most one bounded batch.
The dispatcher bounds the other side: it starts no attempt while ``MAX_UNRECORDED`` answered
outcomes wait to be recorded (dispatcher.py), so the background queue cannot grow without
bound either.

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
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tasksctl.engine import records
from tasksctl.engine.clock import Clock, RealClock
from tasksctl.engine.config import DURABILITY_MACHINE, DURABILITY_MODES, DURABILITY_PROCESS
from tasksctl.engine.migrations import apply_migrations
from tasksctl.engine.sql import statements
from tasksctl.engine.storage import StoreClosed
from tasksctl.engine.task_ids import TaskIdCodec, new_key
from tasksctl.errors import TasksctlError

T = TypeVar("T")
WriteFn = Callable[[sqlite3.Connection], Any]
Pending = tuple[WriteFn, "asyncio.Future[Any]", bool]

log = logging.getLogger("tasksctl.engine.store")

MAX_BATCH = 2000
# Background writes (delivery outcomes) per batch: bounds how long one batch holds the loop.
BACKGROUND_PER_BATCH = 64
# While several callers are in flight (the previous batch was shared and ended less than
# BUSY_GAP_S ago), wait up to LINGER_S for their next writes so that they share one commit.
LINGER_S = 0.003
BUSY_GAP_S = 0.005
# process mode: checkpoint the WAL (on the checkpointer thread) after this many rows changed.
CHECKPOINT_CHANGES = 20_000
PRUNE_INTERVAL_US = 60_000_000
TASK_ID_KEY = "task_id_key"
_STOP = object()

# Pragmas for every connection, then for the write connection per durability mode
# (sql/queries.sql says why).
COMMON_PRAGMAS = tuple(statements("connection_pragmas"))
WRITER_PRAGMAS = {
    DURABILITY_MACHINE: tuple(statements("writer_pragmas_machine")),
    DURABILITY_PROCESS: tuple(statements("writer_pragmas_process")),
}


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
        durability: str = DURABILITY_PROCESS,
        background_per_batch: int = BACKGROUND_PER_BATCH,
    ) -> None:
        if durability not in DURABILITY_MODES:
            raise ValueError(f"unknown durability {durability!r}; use one of {DURABILITY_MODES}")
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
        self.durability = durability
        self.background_per_batch = background_per_batch
        # process mode: no fsync, so an API batch's COMMIT runs at once on the loop thread (a
        # hand-off to a thread costs more) and batches never linger (see the module docstring).
        self._process_mode = durability == DURABILITY_PROCESS
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: sqlite3.Connection | None = None
        self._read_conn: sqlite3.Connection | None = None
        self._pending: list[Pending] = []
        self._background: deque[Pending] = deque()
        # queue name -> row id, for write functions only (see records.insert_task); cleared
        # whenever a transaction fails so it never holds an id that was rolled back.
        self.queue_ids: dict[str, int] = {}
        self.task_ids = TaskIdCodec(new_key())  # replaced by the database's own key on open
        self._next_task_rowid = 1
        self._committing = False
        # The scheduled start of the next batch: None, or the loop handle (soon or lingering).
        self._flush_handle: asyncio.Handle | None = None
        self._lingering = False
        # The adaptive batching state: API writes in the last committed batch, and its end
        # (loop time). Background writes never make a batch wait.
        self._last_batch = 0
        self._last_commit = float("-inf")
        self._carried_over = False  # the last batch was cut short by a bound: a backlog
        self._batch_api = 0  # API writes in the batch being committed

        self._commits: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._checkpoints: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._checkpointing = False
        self._checkpoint_at_changes = CHECKPOINT_CHANGES
        self._idle: asyncio.Event | None = None
        self._next_prune_us = 0
        self._closed = True
        self.batches = 0
        self.ops = 0
        self.lingered = 0  # batches that waited for more writes (observability, tests)
        self.checkpoints = 0  # process mode: WAL checkpoints done by the checkpointer thread

    # -- lifecycle --------------------------------------------------------------------------

    def open(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Create or migrate the database and start the committer/checkpointer thread."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._loop = loop or asyncio.get_running_loop()
        self._conn = self._connect(WRITER_PRAGMAS[self.durability])
        apply_migrations(self._conn, now_us=self.clock.now_us())
        self._conn.execute(records.INSERT_META, (TASK_ID_KEY, new_key()))
        key = self._conn.execute(records.SELECT_META, (TASK_ID_KEY,)).fetchone()[0]
        self.task_ids = TaskIdCodec(str(key))
        self._next_task_rowid = int(self._conn.execute(records.NEXT_TASK_ROWID).fetchone()[0])
        self._read_conn = self._connect(())
        self._idle = asyncio.Event()
        self._idle.set()
        self._threads = [
            threading.Thread(target=self._committer, name="tasksctl-store-commit", daemon=True)
        ]
        if self._process_mode:  # checkpoints (which fsync) beside the writer, not in a commit
            self._threads.append(
                threading.Thread(
                    target=self._checkpointer, name="tasksctl-store-checkpoint", daemon=True
                )
            )
        for thread in self._threads:
            thread.start()
        self._closed = False

    async def close(self) -> None:
        """Commit every write already submitted, then close the connections."""
        if self._closed:
            return
        self._closed = True
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        while (self._pending or self._background) and not self._committing:
            self._flush()
        if self._idle is not None:
            await self._idle.wait()
        self._commits.put(_STOP)
        self._checkpoints.put(_STOP)
        for thread in self._threads:
            await asyncio.to_thread(thread.join)
        for conn in (self._conn, self._read_conn):
            if conn is not None:
                conn.close()
        self._conn = self._read_conn = None
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)

    def _connect(self, extra: tuple[str, ...]) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves. check_same_thread=False: the
        # write connection's COMMIT may run on the committer thread, strictly after the loop
        # thread has finished the batch's statements (never both at once).
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, cached_statements=256
        )
        for pragma in (*COMMON_PRAGMAS, *extra):
            conn.execute(pragma)
        return conn

    # -- API --------------------------------------------------------------------------------

    def write(
        self,
        fn: Callable[[sqlite3.Connection], T],
        savepoint: bool = True,
        background: bool = False,
    ) -> asyncio.Future[T]:
        """Run ``fn(conn)`` in the next group transaction; await the result once committed.

        ``fn`` runs on the event-loop thread inside a SAVEPOINT: if it raises, its own changes
        are rolled back, the rest of the batch still commits, and the exception is raised to
        the awaiting caller. ``savepoint=False`` skips the SAVEPOINT for a function whose only
        write is one final statement (SQLite undoes a failed statement by itself): the
        CreateTask hot path. ``background=True`` (delivery outcomes) queues it behind every
        API write: a batch takes all API writes first and at most ``background_per_batch``
        background ones. (A plain function returning the future: one coroutine less per
        write on the hot path.)
        """
        loop = self._loop
        if self._closed or loop is None:
            raise StoreClosed("The local engine is shutting down.")
        future: asyncio.Future[T] = loop.create_future()
        if background:
            self._background.append((fn, future, savepoint))
        else:
            self._pending.append((fn, future, savepoint))
        if self._committing:
            return future  # the batch forms while the commit runs; _committed starts it
        if self._flush_handle is None:
            # At the next loop turn (the requests received in this one join the batch), or
            # after a linger when several callers are evidently in flight.
            self._schedule_flush()
        elif self._lingering and len(self._pending) >= self._last_batch:
            self._start_soon()  # every caller expected is back: stop lingering
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

    @property
    def backlog(self) -> tuple[int, int]:
        """(API writes, background writes) queued and not yet in a transaction."""
        return len(self._pending), len(self._background)

    # -- when the next batch starts ---------------------------------------------------------

    def _batch_delay(self) -> float:
        """Seconds to wait before starting the next batch (0: at the next loop iteration).

        Never in ``process`` mode (its commits are cheap). In ``machine`` mode, waits only
        while API callers are evidently concurrent: the previous batch was shared
        by several API writes, ended less than BUSY_GAP_S ago, and fewer API writes than it
        had are queued. Never for background writes alone, nor for a backlog the batch bounds
        left over. A lone caller's previous batch had one API write: no wait, ever.
        """
        assert self._loop is not None
        queued = len(self._pending)
        if self._carried_over or queued == 0 or queued >= self._last_batch:
            return 0.0
        if self._process_mode or self._loop.time() - self._last_commit >= BUSY_GAP_S:
            return 0.0
        return self.linger

    def _schedule_flush(self) -> None:
        assert self._loop is not None
        delay = self._batch_delay()
        if delay > 0:
            self._lingering = True
            self.lingered += 1
            self._flush_handle = self._loop.call_later(delay, self._flush)
        else:
            self._lingering = False
            self._flush_handle = self._loop.call_soon(self._flush)

    def _start_soon(self) -> None:
        assert self._loop is not None and self._flush_handle is not None
        self._flush_handle.cancel()
        self._lingering = False
        self._flush_handle = self._loop.call_soon(self._flush)

    # -- the pipeline -----------------------------------------------------------------------

    def _take_batch(self) -> list[Pending]:
        batch = self._pending[: self.max_batch]
        del self._pending[: self.max_batch]
        self._batch_api = len(batch)
        room = min(self.background_per_batch, self.max_batch - len(batch))
        background = self._background
        while room > 0 and background:
            batch.append(background.popleft())
            room -= 1
        self._carried_over = bool(self._pending or background)
        return batch

    def _flush(self) -> None:
        """Run the queued operations in one transaction, then commit it (inline or on a thread)."""
        self._flush_handle = None
        self._lingering = False
        if self._committing or self._conn is None or not (self._pending or self._background):
            return
        batch = self._take_batch()
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
        if self._process_mode and self._batch_api == len(batch):
            self._committed(outcomes, _commit(conn))
            return
        self._committing = True
        if self._idle is not None:
            self._idle.clear()
        self._commits.put(outcomes)

    def _committer(self) -> None:
        """Own thread: COMMIT (in machine mode, write and fsync the WAL), then wake the loop."""
        while True:
            outcomes = self._commits.get()
            if outcomes is _STOP:
                return
            conn = self._conn
            assert conn is not None and self._loop is not None
            error = _commit(conn)
            try:
                self._loop.call_soon_threadsafe(self._committed, outcomes, error)
            except RuntimeError:  # the loop is gone (interpreter shutting down)
                return

    def _checkpointer(self) -> None:
        """process mode (own thread): copy the WAL into the database, beside the writer."""
        conn: sqlite3.Connection | None = None
        while True:
            job = self._checkpoints.get()
            if job is _STOP:
                if conn is not None:
                    conn.close()
                return
            try:
                if conn is None:
                    conn = self._connect(())
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:
                log.exception("WAL checkpoint failed")
            assert self._loop is not None
            try:
                self._loop.call_soon_threadsafe(self._checkpointed)
            except RuntimeError:
                return

    def _checkpointed(self) -> None:
        self._checkpointing = False
        self.checkpoints += 1

    def _committed(
        self, outcomes: list[tuple[Any, bool, Any]], error: BaseException | None
    ) -> None:
        assert self._loop is not None
        self._committing = False
        self._last_commit = self._loop.time()
        self._last_batch = self._batch_api
        self.batches += 1
        self.ops += len(outcomes)
        if error is not None:
            self.queue_ids.clear()
            outcomes = [(future, False, _as_error(error)) for future, _, _ in outcomes]
        elif self._process_mode and not self._checkpointing:
            changes = self._conn.total_changes if self._conn is not None else 0
            if changes >= self._checkpoint_at_changes:
                self._checkpoint_at_changes = changes + CHECKPOINT_CHANGES
                self._checkpointing = True
                self._checkpoints.put(None)
        self._resolve(outcomes)
        self._schedule_next()

    def _schedule_next(self) -> None:
        if self._pending or self._background:
            if self._flush_handle is None:
                self._schedule_flush()
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


def _commit(conn: sqlite3.Connection) -> BaseException | None:
    """COMMIT; on failure roll back and return the error."""
    try:
        conn.execute("COMMIT")
    except BaseException as exc:
        log.exception("group commit failed")
        _rollback(conn)
        return exc
    return None


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
