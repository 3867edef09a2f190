"""engine/store.py in-process: group commit, savepoints, durability ordering, pruning by clock."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tasksctl.engine import records
from tasksctl.engine.clock import ManualClock
from tasksctl.engine.storage import Storage, StoreClosed
from tasksctl.engine.store import PRUNE_INTERVAL_US, Store
from tasksctl.errors import AlreadyExists, TasksctlError

QUEUE = "projects/p/locations/l/queues/q"


@asynccontextmanager
async def open_store(
    clock: ManualClock | None = None, path: Path | None = None
) -> AsyncIterator[Store]:
    store = Store(path, clock=clock or ManualClock())
    store.open()
    try:
        yield store
    finally:
        await store.close()


def put_meta(key: str, value: str) -> Callable[[sqlite3.Connection], str]:
    def fn(conn: sqlite3.Connection) -> str:
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))
        return key

    return fn


def meta_keys(conn: sqlite3.Connection) -> set[str]:
    return {str(r[0]) for r in conn.execute("SELECT key FROM meta WHERE key LIKE 'k%'")}


async def test_store_is_a_storage_and_a_temporary_one_is_removed_on_close() -> None:
    store: Storage
    async with open_store() as store:
        assert isinstance(store, Store)
        path = store.path
        assert path.exists()
    assert not path.exists()
    with pytest.raises(StoreClosed):
        store.read(meta_keys)
    with pytest.raises(StoreClosed):
        store.write(meta_keys)


async def test_writes_queued_together_share_one_commit() -> None:
    async with open_store() as store:
        before = store.batches
        futures = [store.write(put_meta(f"k{i}", "v")) for i in range(50)]
        assert await asyncio.gather(*futures) == [f"k{i}" for i in range(50)]
        assert store.batches == before + 1
        assert store.read(meta_keys) == {f"k{i}" for i in range(50)}


async def test_a_failing_operation_rolls_back_only_itself() -> None:
    async with open_store() as store:

        def half_then_fail(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO meta (key, value) VALUES ('k-bad', 'v')")
            raise AlreadyExists("no")

        first = store.write(put_meta("k1", "v"))
        bad = store.write(half_then_fail)
        last = store.write(put_meta("k2", "v"))
        results = await asyncio.gather(first, bad, last, return_exceptions=True)
        assert results[0] == "k1" and results[2] == "k2"
        assert isinstance(results[1], AlreadyExists)
        assert store.read(meta_keys) == {"k1", "k2"}


async def test_an_unexpected_error_comes_back_as_internal() -> None:
    async with open_store() as store:

        def broken(conn: sqlite3.Connection) -> None:
            conn.execute("SELECT * FROM no_such_table")

        with pytest.raises(TasksctlError) as caught:
            await store.write(broken)
        assert caught.value.grpc_status == "INTERNAL"
        assert await store.write(put_meta("k1", "v")) == "k1"  # the store carries on


async def test_a_write_is_acknowledged_only_once_committed(tmp_path: Path) -> None:
    async with open_store(path=tmp_path / "t.db") as store:
        future = store.write(put_meta("k1", "v"))
        assert not future.done()
        assert store.read(meta_keys) == set()  # not visible before its commit
        await future
        # Another connection (as after a crash) sees the acknowledged write.
        other = sqlite3.connect(tmp_path / "t.db")
        try:
            assert meta_keys(other) == {"k1"}
        finally:
            other.close()


async def test_close_commits_writes_already_submitted(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db", clock=ManualClock())
    store.open()
    future = store.write(put_meta("k1", "v"))
    await store.close()
    assert future.result() == "k1"
    reopened = Store(tmp_path / "t.db", clock=ManualClock())
    reopened.open()
    try:
        assert reopened.read(meta_keys) == {"k1"}
    finally:
        await reopened.close()


async def test_row_ids_and_id_key_survive_reopen(tmp_path: Path) -> None:
    async with open_store(path=tmp_path / "t.db") as store:
        first = store.allocate_task_rowid()
        assert store.allocate_task_rowid() == first + 1
        encoded = store.task_ids.encode(first)
        # Write a task with that row id so the next open starts after it.
        await store.write(lambda c: records.insert_queue(c, _queue(), "projects/p/locations/l", 1))
        await store.write(
            lambda c: records.insert_task(
                c, QUEUE, first, encoded, False, b"", 0, 0, store.task_ids
            )
        )
    async with open_store(path=tmp_path / "t.db") as again:
        assert again.task_ids.encode(first) == encoded
        assert again.allocate_task_rowid() == first + 1


async def test_tombstones_and_operations_are_pruned_by_the_engine_clock() -> None:
    clock = ManualClock()
    async with open_store(clock) as store:
        t0 = clock.now_us()
        await store.write(
            lambda c: records.tombstone(c, records.KIND_TASK, f"{QUEUE}/tasks/a", t0 + 10_000_000)
        )
        await store.write(
            lambda c: records.insert_operation(c, "op1", "BatchCreateTasks", QUEUE, None, b"", t0)
        )

        def left(conn: sqlite3.Connection) -> tuple[int, int]:
            tombstones = conn.execute("SELECT COUNT(*) FROM tombstones").fetchone()[0]
            operations = conn.execute("SELECT COUNT(*) FROM operations").fetchone()[0]
            return int(tombstones), int(operations)

        clock.advance(30)  # the tombstone has expired, but pruning runs once a minute
        await store.write(put_meta("k1", "v"))
        assert store.read(left) == (1, 1)
        clock.set(t0 + PRUNE_INTERVAL_US)
        await store.write(put_meta("k2", "v"))
        assert store.read(left) == (0, 1)  # operations are kept an hour
        clock.set(t0 + records.OPERATION_KEEP_US + PRUNE_INTERVAL_US)
        await store.write(put_meta("k3", "v"))
        assert store.read(left) == (0, 0)


async def test_a_failed_transaction_forgets_cached_queue_ids() -> None:
    async with open_store() as store:
        store.queue_ids["x"] = 99
        conn = store._conn
        assert conn is not None
        # Break the transaction itself: its BEGIN fails while one is already open. Nobody in
        # the batch gets an OK.
        conn.execute("BEGIN")
        results = await asyncio.gather(
            store.write(put_meta("k1", "v")), store.write(put_meta("k2", "v")),
            return_exceptions=True,
        )  # fmt: skip
        assert all(isinstance(r, TasksctlError) for r in results)
        assert store.queue_ids == {}


def _queue() -> object:
    queue = records.QueuePb(name=QUEUE)
    return queue


async def test_writes_are_acknowledged_in_the_order_they_were_submitted() -> None:
    async with open_store() as store:
        acked: list[str] = []
        futures = []
        for wave in range(3):
            # Each wave is submitted while the previous one's commit may still be running.
            for i in range(20):
                future = store.write(put_meta(f"k{wave}-{i}", "v"))
                future.add_done_callback(lambda f: acked.append(f.result()))
                futures.append(future)
            await asyncio.sleep(0)
        await asyncio.gather(*futures)
        assert acked == [f"k{w}-{i}" for w in range(3) for i in range(20)]
        assert store.batches >= 2  # the waves did not all share one commit
