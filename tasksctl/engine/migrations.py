"""Numbered schema migrations for the engine's SQLite database.

To change the schema, append a ``Migration`` with the next number; ``apply_migrations`` runs
every migration newer than the database's version, each in its own transaction, and records it
in ``schema_migrations``. Never edit a migration that has shipped.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


# Times are integer microseconds since the epoch (``*_us``). Protobuf messages are stored
# serialized; the columns beside them are what queries filter, sort or update on.
INITIAL_SCHEMA = """
CREATE TABLE queues (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,      -- projects/P/locations/L/queues/Q
    parent      TEXT NOT NULL,             -- projects/P/locations/L
    state       INTEGER NOT NULL,          -- google.cloud.tasks.v2.Queue.State
    queue       BLOB NOT NULL,             -- serialized Queue (state and purge_time included)
    created_us  INTEGER NOT NULL,
    purge_us    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX queues_by_parent ON queues (parent, name);

-- The blob holds the task as created (FULL view); the mutable fields live in columns and
-- override the blob when a task is read, so the dispatcher never rewrites blobs.
-- Unnamed tasks get the ID ``task_ids.encode(id)``, so they are found by row id and need no
-- entry in the name index: inserting random IDs into a B-tree dirties a page per insert.
-- AUTOINCREMENT: a row id (hence a generated task ID) is never handed out twice.
CREATE TABLE tasks (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_id        INTEGER NOT NULL REFERENCES queues (id),
    task_id         TEXT NOT NULL,
    named           INTEGER NOT NULL,      -- 1 = caller chose the name (dedup applies)
    schedule_us     INTEGER NOT NULL,
    create_us       INTEGER NOT NULL,
    dispatch_count  INTEGER NOT NULL DEFAULT 0,
    response_count  INTEGER NOT NULL DEFAULT 0,
    first_attempt   BLOB,                  -- serialized Attempt or NULL
    last_attempt    BLOB,                  -- serialized Attempt or NULL
    task            BLOB NOT NULL
);
CREATE UNIQUE INDEX tasks_by_name ON tasks (queue_id, task_id) WHERE named = 1;
CREATE INDEX tasks_by_schedule ON tasks (queue_id, schedule_us);

-- Names that cannot be reused until expires_us: kind 'task' (dedup window) or 'queue'.
CREATE TABLE tombstones (
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    expires_us  INTEGER NOT NULL,
    PRIMARY KEY (kind, name)
) WITHOUT ROWID;
CREATE INDEX tombstones_by_expiry ON tombstones (expires_us);

-- Long-running operations of BatchCreateTasks / BatchDeleteTasks.
CREATE TABLE operations (
    name        TEXT PRIMARY KEY,
    method      TEXT NOT NULL,
    parent      TEXT NOT NULL,
    request_id  TEXT,
    operation   BLOB NOT NULL,             -- serialized google.longrunning.Operation
    created_us  INTEGER NOT NULL
);
CREATE UNIQUE INDEX operations_by_request ON operations (method, parent, request_id)
    WHERE request_id IS NOT NULL;

CREATE TABLE iam_policies (
    resource    TEXT PRIMARY KEY,
    policy      BLOB NOT NULL              -- serialized google.iam.v1.Policy
);

-- Small engine-wide settings, e.g. the key of the task ID permutation.
CREATE TABLE meta (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE cmek_configs (
    name        TEXT PRIMARY KEY,          -- projects/P/locations/L/cmekConfig
    config      BLOB NOT NULL
);
"""

# Schema v2 (dispatcher): each task's recent attempt history (JSON, see dispatch_records) and
# the records of tasks given up after their retries, kept for a while for `tasks failed`.
DISPATCH_SCHEMA = """
ALTER TABLE tasks ADD COLUMN history TEXT;

CREATE TABLE failed_tasks (
    id              INTEGER PRIMARY KEY,
    queue           TEXT NOT NULL,         -- full queue name
    name            TEXT NOT NULL,         -- full task name
    url             TEXT NOT NULL,
    method          TEXT NOT NULL,
    gave_up_us      INTEGER NOT NULL,
    dispatch_count  INTEGER NOT NULL,
    attempts        TEXT NOT NULL,         -- JSON list, oldest first
    expires_us      INTEGER NOT NULL
);
CREATE INDEX failed_by_queue ON failed_tasks (queue, gave_up_us);
CREATE INDEX failed_by_expiry ON failed_tasks (expires_us);
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", INITIAL_SCHEMA),
    Migration(2, "dispatch history and failed tasks", DISPATCH_SCHEMA),
)

CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    applied_us  INTEGER NOT NULL
)
"""
SELECT_VERSION = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
INSERT_VERSION = "INSERT INTO schema_migrations (version, name, applied_us) VALUES (?, ?, ?)"


def schema_version(conn: sqlite3.Connection) -> int:
    """The newest migration applied to ``conn``'s database (0 for a new file)."""
    conn.execute(CREATE_MIGRATIONS_TABLE)
    return int(conn.execute(SELECT_VERSION).fetchone()[0])


def apply_migrations(
    conn: sqlite3.Connection,
    migrations: tuple[Migration, ...] = MIGRATIONS,
    now_us: int | None = None,
) -> int:
    """Bring the schema up to date; returns the resulting version.

    ``now_us`` (the engine clock's time, default the system's) is recorded as ``applied_us``.

    ``conn`` must be in autocommit mode (``isolation_level=None``): each migration runs in its
    own ``BEGIN IMMEDIATE`` transaction so a crash leaves the database at a known version.
    """
    current = schema_version(conn)
    newest = max((m.version for m in migrations), default=0)
    if current > newest:
        raise RuntimeError(
            f"the database schema (version {current}) is newer than this tasksctl "
            f"(version {newest}); upgrade tasksctl"
        )
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(migration.sql):
                conn.execute(statement)
            applied_us = time.time_ns() // 1000 if now_us is None else now_us
            conn.execute(INSERT_VERSION, (migration.version, migration.name, applied_us))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        current = migration.version
    return current


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (executescript would commit on its own)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
