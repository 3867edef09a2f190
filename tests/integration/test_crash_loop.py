"""Issue 14, standing suite: kill -9 at random points during creates, updates, purges and
dispatch, restart on the same data dir, and check after every round that no acknowledged task
was lost, no completed task is delivered again, and ``PRAGMA integrity_check`` is clean.

Marker ``crash``; bounded: ``TASKSCTL_CRASH_ROUNDS`` rounds (default 6, about a minute).
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from google.api_core import exceptions as gexc

from tests.conftest import make_client
from tests.sink import Sink, sink_fixture

pytestmark = pytest.mark.crash
sink = sink_fixture()
PARENT = "projects/crash-loop/locations/here"
ROUNDS = int(os.environ.get("TASKSCTL_CRASH_ROUNDS", "6"))
SEED = int(os.environ.get("TASKSCTL_CRASH_SEED", "14"))
CALL = {"timeout": 3.0, "retry": None}


def _loop(stop: threading.Event, step: Callable[[int], None]) -> threading.Thread:
    def run() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                step(n)
            except gexc.GoogleAPICallError:
                if stop.is_set():
                    return
            except Exception:  # the channel to a killed engine: anything but a crash here
                return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _delivered(sink: Sink) -> Counter[str]:
    return Counter(r.headers.get("X-CloudTasks-TaskName", "") for r in sink.requests_for("/ok"))


def test_kill_9_at_random_points_loses_nothing(engine_factory: Any, sink: Sink) -> None:
    rng = random.Random(SEED)
    engine = engine_factory()
    queues = {k: f"{PARENT}/queues/{k}" for k in ("hold", "send", "upd", "purge")}
    client = make_client(engine.address)
    for name in queues.values():
        client.create_queue(parent=PARENT, queue={"name": name})
    client.pause_queue(name=queues["hold"])
    acked: dict[str, set[str]] = {"hold": set(), "send": set()}
    completed: set[str] = set()  # gone from the engine after a delivery: must never come again
    snapshot_at: dict[str, int] = {}  # task -> deliveries seen when it was known completed

    for round_no in range(ROUNDS):
        client = make_client(engine.address)
        stop = threading.Event()

        def create(n: int, kind: str, client: Any = client, round_no: int = round_no) -> None:
            task_id = f"r{round_no}-{kind}-{n}"
            url = sink.url_for("/ok") if kind == "send" else "http://127.0.0.1:9/never"
            client.create_task(
                parent=queues[kind],
                task={"name": f"{queues[kind]}/tasks/{task_id}", "http_request": {"url": url}},
                **CALL,
            )
            acked[kind].add(task_id)

        def update(n: int, client: Any = client) -> None:
            client.update_queue(
                queue={"name": queues["upd"],
                       "rate_limits": {"max_dispatches_per_second": 1 + n % 400}},
                **CALL,
            )  # fmt: skip

        def purge(n: int, client: Any = client) -> None:
            client.create_task(
                parent=queues["purge"], task={"http_request": {"url": "http://127.0.0.1:9/"}},
                **CALL,
            )  # fmt: skip
            if n % 5 == 0:
                client.purge_queue(name=queues["purge"], **CALL)

        threads = [
            _loop(stop, lambda n: create(n, "hold")),
            _loop(stop, lambda n: create(n, "send")),
            _loop(stop, update),
            _loop(stop, purge),
        ]
        time.sleep(rng.uniform(0.3, 1.5))
        # What is completed right now: delivered, and no longer in the engine.
        seen = _delivered(sink)
        try:
            present = {t.name.rsplit("/", 1)[-1]
                       for t in client.list_tasks(parent=queues["send"], **CALL)}  # fmt: skip
            for name, count in seen.items():
                if name and name not in present and name not in completed:
                    completed.add(name)
                    snapshot_at[name] = count
        except gexc.GoogleAPICallError:
            pass
        engine.kill()
        stop.set()
        for thread in threads:
            thread.join(10)
        db = sqlite3.connect(engine.data_dir / "tasks.db")
        try:
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)], round_no
        finally:
            db.close()
        engine.start()
        client = make_client(engine.address)
        held = {t.name.rsplit("/", 1)[-1] for t in client.list_tasks(parent=queues["hold"])}
        assert acked["hold"] <= held, f"round {round_no}: lost {acked['hold'] - held}"
        assert client.get_queue(name=queues["upd"]).rate_limits.max_dispatches_per_second > 0

    # every acknowledged dispatch task is delivered at least once ...
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not acked["send"] <= set(_delivered(sink)):
        time.sleep(0.2)
    missing = acked["send"] - set(_delivered(sink))
    assert not missing, f"acknowledged but never delivered: {sorted(missing)[:10]}"
    # ... and none known completed is delivered again
    final = _delivered(sink)
    again = {
        name: final[name] - snapshot_at[name]
        for name in completed
        if final[name] > snapshot_at[name]
    }
    assert not again, f"completed tasks delivered again: {again}"
    assert len(acked["send"]) > 0 and len(acked["hold"]) > 0
