"""Issue 14.4: the engine checks its database at start and refuses a damaged one with a clear
message (no silently empty engine, no engine that fails reads but accepts writes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LOCATION, EngineProcess, free_port, make_client

PARENT = f"projects/dbcheck/locations/{LOCATION}"


def _filled_engine(engine_factory: Any, tasks: int = 100) -> EngineProcess:
    """An engine with a queue of ``tasks`` tasks (bodies make the data span many pages)."""
    engine = engine_factory()
    client = make_client(engine.address)
    queue = f"{PARENT}/queues/q"
    client.create_queue(parent=PARENT, queue={"name": queue})
    client.pause_queue(name=queue)
    for index in range(tasks):
        client.create_task(
            parent=queue,
            task={"http_request": {"url": "http://127.0.0.1:9/", "body": os.urandom(2000),
                                   "headers": {"X-N": str(index)}}},
        )  # fmt: skip
    assert engine.stop() == 0  # checkpoints the WAL into tasks.db
    return engine


def _run(data_dir: Path) -> subprocess.CompletedProcess[str]:
    args = [
        sys.executable, "-m", "tasksctl", "engine", "run", "--host", "127.0.0.1",
        "--port", str(free_port()), "--http-port", str(free_port()), "--data-dir", str(data_dir),
    ]  # fmt: skip
    return subprocess.run(
        args, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )


def _assert_refused(data_dir: Path, what: str) -> None:
    result = _run(data_dir)
    assert result.returncode != 0
    assert "tasksctl engine ready" not in result.stdout
    assert what in result.stderr and "Move it aside" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_zero_length_database_is_refused(engine_factory: Any) -> None:
    engine = _filled_engine(engine_factory, tasks=3)
    (engine.data_dir / "tasks.db").write_bytes(b"")
    _assert_refused(engine.data_dir, "is empty (0 bytes)")


def test_non_sqlite_file_is_refused(engine_factory: Any) -> None:
    engine = _filled_engine(engine_factory, tasks=3)
    (engine.data_dir / "tasks.db").write_bytes(b"PK\x03\x04 a zip, not a database" * 200)
    _assert_refused(engine.data_dir, "is not an SQLite database")


def test_garbage_pages_are_refused(engine_factory: Any) -> None:
    engine = _filled_engine(engine_factory)
    path = engine.data_dir / "tasks.db"
    size = path.stat().st_size
    assert size > 40 * 4096
    with open(path, "r+b") as handle:  # keep the header page, scribble over the data pages
        for page in range(2, size // 4096, 3):
            handle.seek(page * 4096)
            handle.write(os.urandom(4096))
    _assert_refused(engine.data_dir, "is damaged")


def test_moving_the_file_aside_starts_an_empty_engine(engine_factory: Any) -> None:
    engine = _filled_engine(engine_factory, tasks=3)
    path = engine.data_dir / "tasks.db"
    path.write_bytes(b"")
    _assert_refused(engine.data_dir, "is empty")
    path.rename(path.with_name("tasks.db.broken"))
    restarted = engine.start()
    client = make_client(restarted.address)
    assert list(client.list_queues(parent=PARENT)) == []


@pytest.mark.parametrize("tasks", [0, 5])
def test_healthy_database_starts(engine_factory: Any, tasks: int) -> None:
    engine = _filled_engine(engine_factory, tasks=tasks)
    restarted = engine.start()
    listed = list(make_client(restarted.address).list_tasks(parent=f"{PARENT}/queues/q"))
    assert len(listed) == tasks
