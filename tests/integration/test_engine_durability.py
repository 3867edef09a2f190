"""The engine keeps everything on disk.

A restart serves it all again, and kill -9 loses no acknowledged write.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import tasks_v2
from google.iam.v1 import policy_pb2

from tasksctl.engine.config import DURABILITY_MODES
from tasksctl.engine.migrations import MIGRATIONS
from tests.conftest import LOCATION, make_client

FULL = tasks_v2.Task.View.FULL
PARENT = f"projects/durable/locations/{LOCATION}"


def http_task(**fields: Any) -> dict[str, Any]:
    return {"http_request": {"url": "http://127.0.0.1:9/work", **fields}}


def all_tasks(client: Any, queue: str) -> dict[str, Any]:
    return {t.name: t for t in client.list_tasks(request={"parent": queue, "response_view": FULL})}


def test_restart_serves_everything_again(engine_factory: Any) -> None:
    engine = engine_factory("--dedup-window", "1h")
    client = make_client(engine.address)
    busy = f"{PARENT}/queues/busy"
    client.create_queue(
        parent=PARENT, queue={"name": busy, "rate_limits": {"max_dispatches_per_second": 7}}
    )
    client.pause_queue(name=busy)
    idle = client.create_queue(parent=PARENT, queue={"name": f"{PARENT}/queues/idle"})
    gone = f"{PARENT}/queues/gone"
    client.create_queue(parent=PARENT, queue={"name": gone})
    client.delete_queue(name=gone)
    client.create_task(parent=busy, task=http_task(body=b"unnamed", headers={"K": "v"}))
    client.create_task(
        parent=busy, task={"name": f"{busy}/tasks/named", **http_task(body=b"named")}
    )
    client.create_task(parent=busy, task={"name": f"{busy}/tasks/deleted", **http_task()})
    client.delete_task(name=f"{busy}/tasks/deleted")
    client.create_task(parent=busy, task={"app_engine_http_request": {"relative_uri": "/ae"}})
    operation = client.batch_create_tasks(
        parent=busy, requests=[{"parent": busy, "task": http_task()}]
    )
    binding = policy_pb2.Binding(role="roles/viewer", members=["user:a@example.com"])
    policy = client.set_iam_policy(
        request={"resource": busy, "policy": policy_pb2.Policy(bindings=[binding])}
    )
    cmek_name = f"{PARENT}/cmekConfig"
    client.update_cmek_config(
        cmek_config={"name": cmek_name, "kms_key": f"{PARENT}/keyRings/r/cryptoKeys/k"}
    )
    queues_before = list(client.list_queues(parent=PARENT))
    tasks_before = all_tasks(client, busy)
    assert len(tasks_before) == 4

    assert engine.stop() == 0
    with sqlite3.connect(engine.data_dir / "tasks.db") as db:
        newest = max(m.version for m in MIGRATIONS)
        assert db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] == newest
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    engine.start()
    client = make_client(engine.address)

    assert list(client.list_queues(parent=PARENT)) == queues_before
    assert client.get_queue(name=busy).state == tasks_v2.Queue.State.PAUSED
    assert client.get_queue(name=idle.name) == idle
    assert all_tasks(client, busy) == tasks_before
    with pytest.raises(gexc.AlreadyExists, match="existed too recently"):
        client.create_task(parent=busy, task={"name": f"{busy}/tasks/deleted", **http_task()})
    with pytest.raises(gexc.AlreadyExists, match=r"^409 Requested entity already exists$"):
        client.create_task(parent=busy, task={"name": f"{busy}/tasks/named", **http_task()})
    with pytest.raises(gexc.FailedPrecondition, match="existed too recently"):
        client.create_queue(parent=PARENT, queue={"name": gone})
    assert client.get_iam_policy(request={"resource": busy}) == policy
    assert client.get_cmek_config(name=cmek_name).kms_key.endswith("/cryptoKeys/k")
    assert client.get_operation(request={"name": operation.operation.name}).done


def test_generated_ids_are_never_reissued_after_a_restart(engine_factory: Any) -> None:
    engine = engine_factory()
    queue = f"{PARENT}/queues/ids"
    client = make_client(engine.address)
    client.create_queue(parent=PARENT, queue={"name": queue})
    first = client.create_task(parent=queue, task=http_task()).name
    client.delete_task(name=first)  # the highest row id is gone before the restart
    engine.restart()
    again = make_client(engine.address).create_task(parent=queue, task=http_task()).name
    assert again != first


@pytest.mark.parametrize("durability", DURABILITY_MODES)
def test_kill_9_loses_no_acknowledged_create(engine_factory: Any, durability: str) -> None:
    """Both --durability modes keep every acknowledged create through kill -9 (process: the
    WAL is written before the answer, machine: also fsync'ed)."""
    engine = engine_factory("--durability", durability)
    queue = f"{PARENT}/queues/crash"
    setup = make_client(engine.address)
    setup.create_queue(parent=PARENT, queue={"name": queue})
    setup.pause_queue(name=queue)  # this test is about creates: no dispatch meanwhile
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def create_until_it_fails(worker: int) -> None:
        client = make_client(engine.address)
        for n in range(5000):  # bounded; the kill normally ends it much sooner
            if stop.is_set():
                return
            task = {"name": f"{queue}/tasks/w{worker}-{n}", **http_task()} if n % 2 else http_task()
            try:
                created = client.create_task(parent=queue, task=task, timeout=5, retry=None)
            except gexc.GoogleAPICallError:
                return
            with lock:
                acknowledged.append(created.name)

    threads = [threading.Thread(target=create_until_it_fails, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < 400 and time.monotonic() < deadline:
        time.sleep(0.01)
    engine.kill()  # SIGKILL mid-stream: creates are in flight right now
    stop.set()
    for thread in threads:
        thread.join(10)
    assert len(acknowledged) >= 400

    engine.start()
    stored = set(all_tasks(make_client(engine.address), queue))
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged creates were lost, e.g. {sorted(missing)[:3]}"


def test_batch_operations_are_forgotten_after_an_hour() -> None:
    """The periodic prune drops finished operations older than an hour, and only those."""
    import sqlite3

    from tasksctl.engine import records
    from tasksctl.engine.migrations import apply_migrations

    conn = sqlite3.connect(":memory:")
    apply_migrations(conn)
    hour = 3600 * 1_000_000
    now = 10 * hour
    records.insert_operation(
        conn, "projects/p/locations/l/operations/old", "m", "q", None, b"x", now - hour - 1
    )
    records.insert_operation(
        conn, "projects/p/locations/l/operations/new", "m", "q", None, b"x", now - hour + 1
    )
    assert records.prune_operations(conn, now) == 1
    assert records.find_operation(conn, "projects/p/locations/l/operations/old") is None
    assert records.find_operation(conn, "projects/p/locations/l/operations/new") == b"x"
