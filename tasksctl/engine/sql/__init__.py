"""The engine's SQL, kept in ``.sql`` files beside this module and loaded by name.

``queries.sql`` holds every statement, each in a section opened by a ``-- name: NAME`` line
(comment lines inside a section document it and are dropped). ``migrations/NNNN_name.sql``
are the numbered schema migrations (``migrations.py`` applies them).
"""

from __future__ import annotations

import re
import sqlite3
from functools import cache
from importlib import resources

QUERIES_FILE = "queries.sql"
MIGRATIONS_DIR = "migrations"
_NAME_PREFIX = "-- name:"
_MIGRATION_FILE = re.compile(r"^(\d+)_(\w+)\.sql$")


def parse_queries(text: str) -> dict[str, str]:
    """``{name: statement}`` from a queries file (see the module docstring)."""
    found: dict[str, str] = {}
    name: str | None = None
    body: list[str] = []

    def close() -> None:
        if name is not None:
            statement = "\n".join(body).strip()
            if not statement:
                raise ValueError(f"SQL query {name!r} is empty")
            found[name] = statement.removesuffix(";").rstrip() if _single(statement) else statement

    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(_NAME_PREFIX):
            close()
            name, body = stripped[len(_NAME_PREFIX) :].strip(), []
            if name in found:
                raise ValueError(f"SQL query {name!r} is defined twice")
        elif name is not None and not stripped.startswith("--"):
            body.append(line)
    close()
    return found


def _single(statement: str) -> bool:
    return len(split_statements(statement)) == 1


def split_statements(script: str) -> list[str]:
    """The statements of a script, one by one (``executescript`` would commit on its own)."""
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


@cache
def _queries() -> dict[str, str]:
    return parse_queries(resources.files(__name__).joinpath(QUERIES_FILE).read_text("utf-8"))


def query(name: str) -> str:
    """The statement called ``name`` in ``queries.sql`` (KeyError if there is none)."""
    try:
        return _queries()[name]
    except KeyError:
        raise KeyError(f"no SQL query named {name!r} in {QUERIES_FILE}") from None


def statements(name: str) -> list[str]:
    """The statements of the multi-statement section ``name`` (e.g. a list of PRAGMAs)."""
    return split_statements(query(name))


def migration_scripts() -> list[tuple[int, str, str]]:
    """``(version, name, script)`` of every file in ``migrations/``, by version."""
    found: list[tuple[int, str, str]] = []
    for entry in resources.files(__name__).joinpath(MIGRATIONS_DIR).iterdir():
        match = _MIGRATION_FILE.match(entry.name)
        if match:
            version, name = int(match[1]), match[2].replace("_", " ")
            found.append((version, name, entry.read_text("utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"two migrations share a version number: {versions}")
    return found
