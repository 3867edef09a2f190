"""The store's adaptive group commit, driven on an event loop whose clock stands still.

``FrozenLoop.time()`` only moves when a test moves it, so a timer the store asks for (the
linger) cannot fire on its own: a write that completes while the loop's clock never moved was
committed without any wait, and every timer the store requested is on record. The COMMIT
itself runs for real (inline in ``process`` mode, on the committer thread in ``machine``
mode), so completion is awaited by polling with a real-time deadline, never by advancing the
clock.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tasksctl.engine import store as store_module
from tasksctl.engine.config import DURABILITY_MODES
from tasksctl.engine.store import BUSY_GAP_S, LINGER_S, Store

T = TypeVar("T")
DEADLINE_S = 10.0


class FrozenLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock only moves in ``advance``; records every timer asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 1000.0
        self.timers: list[float] = []  # delays of every call_later / call_at

    def time(self) -> float:
        return self.now

    def call_at(  # type: ignore[override]
        self, when: float, callback: Callable[..., Any], *args: Any, context: Any = None
    ) -> asyncio.TimerHandle:
        self.timers.append(when - self.now)
        return super().call_at(when, callback, *args, context=context)

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def loop() -> Iterator[FrozenLoop]:
    frozen = FrozenLoop()
    yield frozen
    frozen.close()


def run(loop: FrozenLoop, coro: Coroutine[Any, Any, T]) -> T:
    return loop.run_until_complete(coro)


async def done(*futures: asyncio.Future[Any]) -> list[Any]:
    """Wait for ``futures`` without moving the loop's clock (yield, poll, real deadline)."""
    deadline = time.monotonic() + DEADLINE_S
    while not all(f.done() for f in futures):
        if time.monotonic() > deadline:
            raise AssertionError("not committed unless the loop's clock moves: it waits on a timer")
        await asyncio.sleep(0)
    return [f.result() for f in futures]


def insert(key: str) -> Callable[[sqlite3.Connection], str]:
    def fn(conn: sqlite3.Connection) -> str:
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, "v"))
        return key

    return fn


def open_store(loop: FrozenLoop, path: Path, durability: str) -> Store:
    store = Store(path / "tasks.db", durability=durability)
    store.open(loop)
    return store


def keys(store: Store) -> set[str]:
    return {str(r[0]) for r in store.read(lambda c: c.execute("SELECT key FROM meta").fetchall())}


@pytest.mark.parametrize("durability", DURABILITY_MODES)
def test_a_lone_caller_is_committed_without_the_linger(
    loop: FrozenLoop, tmp_path: Path, durability: str
) -> None:
    store = open_store(loop, tmp_path, durability)

    async def sequential() -> None:
        for i in range(20):  # one caller: each write waits for the previous one's commit
            future = store.write(insert(f"k{i}"))
            assert await done(future) == [f"k{i}"]
            loop.advance(0.001)  # the caller's round trip before its next request

    run(loop, sequential())
    assert loop.timers == []  # the store never asked for a timer ...
    assert store.lingered == 0
    assert store.batches == 20  # ... and each write had its own commit, at once
    assert {f"k{i}" for i in range(20)} <= keys(store)
    run(loop, store.close())


def test_machine_mode_lingers_for_concurrent_callers_until_all_are_back(
    loop: FrozenLoop, tmp_path: Path
) -> None:
    store = open_store(loop, tmp_path, "machine")

    async def scenario() -> None:
        first = [store.write(insert(f"a{i}")) for i in range(8)]  # 8 callers in the same tick
        await done(*first)
        assert store.batches == 1 and loop.timers == []

        # The callers come back one by one, moments later: the store waits for them ...
        again = [store.write(insert("b0"))]
        assert store.lingered == 1 and loop.timers == pytest.approx([LINGER_S])
        again += [store.write(insert(f"b{i}")) for i in range(1, 8)]
        # ... and starts the batch as soon as all 8 are queued, without the timer firing.
        await done(*again)
        assert store.batches == 2
        assert loop.timers == pytest.approx([LINGER_S])

        # One caller does not come back: the batch waits the linger, then commits without it.
        late = [store.write(insert(f"c{i}")) for i in range(7)]
        assert store.lingered == 2
        await asyncio.sleep(0)
        assert not any(f.done() for f in late)
        loop.advance(LINGER_S)
        await done(*late)
        assert store.batches == 3

        # After a quiet moment (> BUSY_GAP_S since the last commit) a writer is alone again.
        loop.advance(2 * BUSY_GAP_S)
        await done(store.write(insert("d")))
        assert store.lingered == 2 and store.batches == 4

    run(loop, scenario())
    run(loop, store.close())


def test_process_mode_never_lingers_callers_of_one_tick_share_a_commit(
    loop: FrozenLoop, tmp_path: Path
) -> None:
    """No fsync to amortise: a batch starts at the next loop turn with what is queued."""
    store = open_store(loop, tmp_path, "process")

    async def scenario() -> None:
        await done(*[store.write(insert(f"a{i}")) for i in range(8)])  # 8 callers, one tick
        assert store.batches == 1
        # They come back one by one: the first is committed alone, at once ...
        await done(store.write(insert("b0")))
        assert store.batches == 2
        # ... and the rest, back in the same tick, share the next commit.
        await done(*[store.write(insert(f"b{i}")) for i in range(1, 8)])
        assert store.batches == 3

    run(loop, scenario())
    assert loop.timers == [] and store.lingered == 0
    run(loop, store.close())


def test_api_writes_go_before_background_writes_and_batches_stay_bounded(
    loop: FrozenLoop, tmp_path: Path
) -> None:
    store = open_store(loop, tmp_path, "process")
    store.background_per_batch = 50
    order: list[tuple[str, int]] = []

    def record(kind: str) -> Callable[[sqlite3.Connection], None]:
        def fn(conn: sqlite3.Connection) -> None:
            order.append((kind, store.batches))  # batches = commits so far

        return fn

    async def scenario() -> None:
        background = [store.write(record("outcome"), background=True) for _ in range(120)]
        api = store.write(record("api"))
        await done(api, *background)

    run(loop, scenario())
    assert order[0] == ("api", 0)  # queued last, run first
    per_batch = [sum(1 for kind, b in order if kind == "outcome" and b == n) for n in range(3)]
    assert per_batch == [50, 50, 20]
    run(loop, store.close())


def test_close_commits_every_queued_write(loop: FrozenLoop, tmp_path: Path) -> None:
    store = open_store(loop, tmp_path, "process")
    store.background_per_batch = 10

    async def scenario() -> list[asyncio.Future[Any]]:
        futures = [store.write(insert(f"o{i}"), background=True) for i in range(35)]
        futures.append(store.write(insert("api")))
        await store.close()
        return futures

    futures = run(loop, scenario())
    assert all(f.done() and not f.exception() for f in futures)
    reopened = open_store(loop, tmp_path, "process")
    assert {f"o{i}" for i in range(35)} | {"api"} <= keys(reopened)
    run(loop, reopened.close())


def test_process_mode_checkpoints_the_wal_beside_the_writer(
    loop: FrozenLoop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No checkpoint runs inside a commit (on the loop); the checkpointer thread does them."""
    monkeypatch.setattr(store_module, "CHECKPOINT_CHANGES", 200)
    store = open_store(loop, tmp_path, "process")
    db = tmp_path / "tasks.db"
    before = db.stat().st_size

    async def scenario() -> None:
        for i in range(5):
            await done(*(store.write(insert(f"r{i}-{j}")) for j in range(100)))
        deadline = time.monotonic() + DEADLINE_S
        while store.checkpoints == 0:
            assert time.monotonic() < deadline, "the checkpointer never checkpointed"
            await asyncio.sleep(0)

    run(loop, scenario())
    assert db.stat().st_size > before  # the pages were copied from the WAL into the database
    run(loop, store.close())


def test_an_unknown_durability_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="durability"):
        Store(tmp_path / "tasks.db", durability="sometimes")


@pytest.mark.parametrize(
    ("durability", "thread"),
    [("process", threading.main_thread().name), ("machine", "tasksctl-store-commit")],
)
def test_where_each_mode_commits(
    loop: FrozenLoop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durability: str,
    thread: str,
) -> None:  # fmt: skip
    """API writes in process mode: the COMMIT on the loop thread (no fsync, no hand-off);
    machine mode: on the committer thread, while the next batch forms."""
    committed_on: list[tuple[str, int]] = []  # (thread name, writes in the transaction)
    real_commit = store_module._commit

    def spying_commit(conn: sqlite3.Connection) -> BaseException | None:
        changes = conn.execute("SELECT count(*) FROM meta WHERE value = 'v'").fetchone()[0]
        committed_on.append((threading.current_thread().name, int(changes)))
        return real_commit(conn)

    monkeypatch.setattr(store_module, "_commit", spying_commit)
    store = open_store(loop, tmp_path, durability)

    async def scenario() -> None:
        await done(store.write(insert("alone")))
        await done(*[store.write(insert(f"shared{i}")) for i in range(5)])

    run(loop, scenario())
    run(loop, store.close())
    assert committed_on == [(thread, 1), (thread, 6)]


def test_process_mode_commits_a_batch_with_delivery_outcomes_on_the_thread(
    loop: FrozenLoop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outcomes pipeline: their commit runs beside the loop, which keeps dispatching."""
    threads: list[str] = []
    real_commit = store_module._commit

    def spying_commit(conn: sqlite3.Connection) -> BaseException | None:
        threads.append(threading.current_thread().name)
        return real_commit(conn)

    monkeypatch.setattr(store_module, "_commit", spying_commit)
    store = open_store(loop, tmp_path, "process")

    async def scenario() -> None:
        await done(*[store.write(insert(f"o{i}"), background=True) for i in range(3)])
        await done(store.write(insert("api")), store.write(insert("o3"), background=True))
        await done(store.write(insert("api-alone")))

    run(loop, scenario())
    run(loop, store.close())
    assert threads == ["tasksctl-store-commit", "tasksctl-store-commit", "MainThread"]
