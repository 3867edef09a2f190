"""Numbered schema migrations for the engine's SQLite database.

The migrations are the files ``sql/migrations/NNNN_name.sql``. To change the schema, add a file
with the next number; ``apply_migrations`` runs every migration newer than the database's
version, each in its own transaction, and records it in ``schema_migrations``. Never edit a
migration that has shipped.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from tasksctl.engine.sql import migration_scripts, query, split_statements


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = tuple(Migration(*found) for found in migration_scripts())

CREATE_MIGRATIONS_TABLE = query("create_migrations_table")
SELECT_VERSION = query("select_version")
INSERT_VERSION = query("insert_version")


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

    ``conn`` must be in autocommit mode (``isolation_level=None``): each migration runs in its
    own ``BEGIN IMMEDIATE`` transaction so a crash leaves the database at a known version.
    ``now_us`` (the engine clock's time; default the system's) is recorded as ``applied_us``.
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
            for statement in split_statements(migration.sql):
                conn.execute(statement)
            applied_us = time.time_ns() // 1000 if now_us is None else now_us
            conn.execute(INSERT_VERSION, (migration.version, migration.name, applied_us))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        current = migration.version
    return current
