"""engine/sql: the statements load by name and every one compiles against the migrated schema."""

from __future__ import annotations

import sqlite3

import pytest

from tasksctl.engine import sql
from tasksctl.engine.migrations import MIGRATIONS, apply_migrations, schema_version


def migrated() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    apply_migrations(conn, now_us=123)
    return conn


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert MIGRATIONS[0].name == "initial schema"
    conn = migrated()
    assert schema_version(conn) == len(MIGRATIONS)
    applied = conn.execute("SELECT version, applied_us FROM schema_migrations").fetchall()
    assert applied == [(m.version, 123) for m in MIGRATIONS]


def test_every_query_compiles_against_the_schema() -> None:
    conn = migrated()
    queries = sql._queries()
    assert len(queries) > 50
    for name, text in queries.items():
        for statement in sql.split_statements(text):
            if statement.upper().startswith("PRAGMA"):
                continue
            params = (None,) * statement.count("?")
            try:
                conn.execute("EXPLAIN " + statement, params)
            except sqlite3.Error as exc:
                pytest.fail(f"query {name!r} does not compile: {exc}")


def test_parse_queries_sections_comments_and_errors() -> None:
    text = (
        "-- header\n-- name: a\n-- doc line\nSELECT 1\n  FROM t;\n\n"
        "-- name: b\nPRAGMA x=1;\nPRAGMA y=2;\n"
    )
    parsed = sql.parse_queries(text)
    assert parsed == {"a": "SELECT 1\n  FROM t", "b": "PRAGMA x=1;\nPRAGMA y=2;"}
    assert sql.split_statements(parsed["b"]) == ["PRAGMA x=1;", "PRAGMA y=2;"]
    with pytest.raises(ValueError, match="twice"):
        sql.parse_queries("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n")
    with pytest.raises(ValueError, match="empty"):
        sql.parse_queries("-- name: a\n-- only a comment\n")
    with pytest.raises(KeyError, match="no_such"):
        sql.query("no_such")
