"""Refuse a damaged database at start instead of serving a silently empty or broken engine.

Checked before the store opens (``Engine.start``), in bounded time:

* a zero-length ``tasks.db``: a database the engine created is never empty (switching to WAL
  writes its first page), so an empty file means it was truncated;
* a file that does not start with the SQLite header (not a database at all);
* ``PRAGMA quick_check`` (page and b-tree structure, every page read once) on its own
  connection, aborted through a progress handler after :data:`CHECK_BUDGET_S`; a check that
  runs out of time is logged and start-up goes on (a very large, healthy database).

A refusal is an ``EngineUnavailable`` whose message says what to do: move the file aside (the
engine then starts empty) or restore a backup.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

from tasksctl.errors import EngineUnavailable

log = logging.getLogger("tasksctl.engine")

SQLITE_HEADER = b"SQLite format 3\x00"
CHECK_BUDGET_S = 10.0
_PROGRESS_STEPS = 10_000
_REPORTED_PROBLEMS = 3


class DatabaseDamaged(EngineUnavailable):
    """The database file exists but cannot be trusted."""


def _refuse(path: Path, what: str) -> DatabaseDamaged:
    return DatabaseDamaged(
        f"The engine database {path} {what}. Refusing to start rather than serve an empty or "
        f"broken engine. Move it aside to start empty (mv {path} {path}.broken, with its -wal "
        "and -shm files) or restore it from a backup."
    )


def check_database(path: Path, budget_s: float = CHECK_BUDGET_S) -> None:
    """Raise :class:`DatabaseDamaged` when ``path`` exists and is not a healthy database."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return  # a new engine
    if not path.is_file():
        raise _refuse(path, "is not a regular file")
    if size == 0:
        raise _refuse(path, "is empty (0 bytes), so it was truncated")
    with open(path, "rb") as handle:
        header = handle.read(len(SQLITE_HEADER))
    if header != SQLITE_HEADER:
        raise _refuse(path, "is not an SQLite database (wrong file header)")
    problems = _quick_check(path, budget_s)
    if problems:
        raise _refuse(path, "is damaged (quick_check: " + "; ".join(problems) + ")")


def _quick_check(path: Path, budget_s: float) -> list[str]:
    deadline = time.monotonic() + budget_s
    timed_out = False

    def over_budget() -> int:
        nonlocal timed_out
        timed_out = time.monotonic() > deadline
        return int(timed_out)

    try:
        conn = sqlite3.connect(path, timeout=5.0)
    except sqlite3.Error as exc:
        return [str(exc)]
    try:
        conn.set_progress_handler(over_budget, _PROGRESS_STEPS)
        rows = conn.execute(f"PRAGMA quick_check({_REPORTED_PROBLEMS})").fetchall()
    except sqlite3.OperationalError as exc:
        if timed_out:
            log.warning(
                "database check of %s stopped after %.0f s (a large database); starting anyway",
                path, budget_s,
            )  # fmt: skip
            return []
        return [str(exc)]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    finally:
        conn.close()
    results = [str(row[0]) for row in rows]
    return [] if results == ["ok"] else results
