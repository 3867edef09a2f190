"""``tasks import``: read task rows from JSON Lines, JSON, CSV or YAML, check them, write rejects.

The format comes from the file's extension (``.jsonl``/``.ndjson``, ``.json``, ``.csv``,
``.yaml``/``.yml``) or ``--input-format``. One task per row; every field is optional but ``url``:

==============================  ==============================================================
``url``                         absolute http:// or https:// URL (required)
``method``                      POST (default), GET, HEAD, PUT, DELETE, PATCH, OPTIONS
``headers``                     an object ``{"Name": "value"}``; in CSV (or as a string) either
                                that object as JSON text or ``Name: value; Other: value``
``body`` | ``body_base64``      the body as UTF-8 text, or base64 for binary bodies
``schedule_time`` |             RFC 3339 time, or a delay from the moment the row is sent
``schedule_delay``              (``30s``, ``10m``, ``24h``, ``2d``; a number = seconds)
``dispatch_deadline``           ``15s`` to ``30m`` (a number = seconds)
``task_id`` | ``dedup_key``     an explicit task ID, or a key it is derived from (as
                                ``--dedup-key``); neither = a server-generated ID, or the
                                content-derived ID with ``--dedup-content``
``oidc_service_account_email``  OIDC token for the request (with optional
``oidc_token_audience``         audience), or OAuth:
``oauth_service_account_email`` ``oauth_token_scope``
``error``                       ignored (the column a rejects file adds)
==============================  ==============================================================

In CSV an empty cell means "not given"; in JSON and YAML so does ``null``. Unknown fields are
errors (a misspelt ``heders`` would otherwise be dropped silently).

Rows that fail (invalid, or refused by the service) are written to the rejects file in the
input's format, each with its original fields plus ``error``, so the file can be fixed and
imported again. Rows are numbered as ``line N`` (JSON Lines and CSV: the line the row starts
on) or ``item N`` (JSON and YAML: the position in the list, 1-based).
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from tasksctl.bounded_input import IMPORT_MAX_BYTES, nesting_guard, read_text
from tasksctl.errors import UsageError
from tasksctl.task_flags import (
    KIND_HTTP,
    TaskInput,
    check_auth,
    check_body,
    check_headers,
    check_method,
    check_task_id,
    check_url,
    field_label,
    parse_deadline,
    parse_header_items,
    parse_schedule,
)

FORMATS = ("jsonl", "json", "csv", "yaml")
EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".yaml": "yaml",
    ".yml": "yaml",
}
FIELDS = (
    "url",
    "method",
    "headers",
    "body",
    "body_base64",
    "schedule_time",
    "schedule_delay",
    "dispatch_deadline",
    "task_id",
    "dedup_key",
    "oidc_service_account_email",
    "oidc_token_audience",
    "oauth_service_account_email",
    "oauth_token_scope",
)
ERROR_FIELD = "error"
RAW_FIELD = "raw"  # a row that could not be parsed, as read
_TEXT_FIELDS = (
    "url",
    "method",
    "body",
    "body_base64",
    "task_id",
    "dedup_key",
    "oidc_service_account_email",
    "oidc_token_audience",
    "oauth_service_account_email",
    "oauth_token_scope",
)


@dataclass
class Row:
    """One input row: where it is, its fields as read, and an error if it could not be read."""

    ref: str
    data: dict[str, Any]
    error: str | None = None


@dataclass
class Table:
    """Every row of an input file, plus what is needed to write rejects in the same format."""

    format: str
    rows: list[Row]
    columns: list[str]  # CSV header, in order


def detect_format(path: str, explicit: str | None) -> str:
    if explicit:
        value = explicit.strip().lower()
        if value not in FORMATS:
            raise UsageError(
                f"argument --input-format: Invalid choice: '{explicit}' "
                f"(choose from {', '.join(FORMATS)})."
            )
        return value
    suffix = Path(path).suffix.lower()
    if path == "-" or suffix not in EXTENSIONS:
        raise UsageError(
            f"Cannot tell the format of [{path}] from its name; use --input-format "
            f"({', '.join(FORMATS)})."
        )
    return EXTENSIONS[suffix]


def default_rejects_path(path: str, fmt: str) -> Path:
    """``tasks.csv`` -> ``tasks.rejects.csv``; stdin -> ``tasksctl-import.rejects.<ext>``."""
    ext = {"jsonl": ".jsonl", "json": ".json", "csv": ".csv", "yaml": ".yaml"}[fmt]
    if path == "-":
        return Path(f"tasksctl-import.rejects{ext}")
    source = Path(path)
    return source.with_name(f"{source.stem}.rejects{source.suffix or ext}")


# ---------------------------------------------------------------------------------------------
# Reading


def read_table(path: str, fmt: str, stdin: IO[Any] | None = None) -> Table:
    """Read every row; a file that cannot be parsed at all is a UsageError."""
    text = read_text(path, IMPORT_MAX_BYTES, "file", stdin, encoding="utf-8-sig")
    with nesting_guard(f"[{path}]"):
        if fmt == "jsonl":
            return Table(fmt, list(_jsonl_rows(text)), [])
        if fmt == "json":
            return Table(fmt, _json_rows(text, path), [])
        if fmt == "csv":
            return _csv_table(text)
        return Table(fmt, _yaml_rows(text, path), [])


def _jsonl_rows(text: str) -> Iterable[Row]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        ref = f"line {number}"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Row(ref, {RAW_FIELD: line}, f"not valid JSON: {exc.msg} (column {exc.colno})")
            continue
        yield _object_row(ref, value)


def _object_row(ref: str, value: Any) -> Row:
    if not isinstance(value, dict):
        return Row(ref, {RAW_FIELD: value}, "a row must be an object of fields")
    return Row(ref, value)


def _json_rows(text: str, path: str) -> list[Row]:
    try:
        value = json.loads(text) if text.strip() else []
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}.") from None
    if not isinstance(value, list):
        raise UsageError(f"{path}: a JSON import file holds an array of task objects.")
    return [_object_row(f"item {n}", item) for n, item in enumerate(value, start=1)]


def _csv_table(text: str) -> Table:
    """CSV with a header line; quoting is parsed strictly, so a malformed row (a stray quote
    inside a quoted cell, an unterminated quote, a NUL) is rejected with its raw lines instead
    of being imported with its cells run together."""
    lines = text.splitlines(keepends=True)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        columns = next(reader, [])
    except csv.Error as exc:
        raise UsageError(f"the CSV header line is malformed: {exc}.") from None
    rows: list[Row] = []
    start = reader.line_num + 1
    while True:
        ref = f"line {start}"
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raw = "".join(lines[start - 1 : max(reader.line_num, start)]).rstrip("\r\n")
            rows.append(Row(ref, {RAW_FIELD: raw}, f"malformed CSV row: {exc}"))
            start = reader.line_num + 1
            continue
        start = reader.line_num + 1
        if not cells:
            continue
        data = dict(zip(columns, cells, strict=False))
        if len(cells) > len(columns):
            rows.append(Row(ref, data, "the row has more cells than the header"))
        else:
            rows.append(Row(ref, data))
    return Table("csv", rows, columns)


def _yaml_rows(text: str, path: str) -> list[Row]:
    import yaml

    from tasksctl.declarative.yamlsrc import compose, line_of

    root = compose(text, path)
    if root is None:
        return []
    if not isinstance(root, yaml.SequenceNode):
        raise UsageError(f"{path}:{line_of(root)}: a YAML import file holds a list of tasks.")
    rows = []
    for number, node in enumerate(root.value, start=1):
        loader = yaml.SafeLoader("")
        try:
            value = loader.construct_document(node)
        except yaml.YAMLError as exc:
            raise UsageError(f"{path}:{line_of(node)}: {exc}") from None
        rows.append(_object_row(f"item {number} (line {line_of(node)})", value))
    return rows


# ---------------------------------------------------------------------------------------------
# Row -> TaskInput


def row_to_input(row: Row, now: datetime, dedup_content: bool) -> TaskInput:
    """Check one row; UsageError names the field (the caller prefixes the row)."""
    if row.error:
        raise UsageError(row.error)
    data = {k: v for k, v in row.data.items() if not _absent(v) and k != ERROR_FIELD}
    unknown = sorted(k for k in data if k not in FIELDS)
    if unknown:
        what = "field" if len(unknown) == 1 else "fields"
        names = ", ".join(repr(k) for k in unknown)
        raise UsageError(f"unknown {what} {names} (fields: {', '.join(FIELDS)})")
    for key in _TEXT_FIELDS:
        if key in data and not isinstance(data[key], str):
            raise UsageError(f"{key}: must be text, not {type(data[key]).__name__}")
    label = field_label
    if "url" not in data:
        raise UsageError("url: a URL is required")
    task = TaskInput(kind=KIND_HTTP, url=check_url(data["url"], label))
    task.method = check_method(data.get("method"), label)
    task.headers = _headers(data.get("headers"))
    if "body" in data and "body_base64" in data:
        raise UsageError("body: give either body or body_base64, not both")
    if "body" in data:
        task.body = check_body(data["body"].encode("utf-8"), task.method, KIND_HTTP, label, "body")
    elif "body_base64" in data:
        try:
            raw = base64.b64decode(data["body_base64"], validate=True)
        except (binascii.Error, ValueError):
            raise UsageError("body_base64: not valid base64") from None
        task.body = check_body(raw, task.method, KIND_HTTP, label, "body_base64")
    task.schedule_time, task.schedule_delay = parse_schedule(
        data.get("schedule_time"), data.get("schedule_delay"), now, label
    )
    task.dispatch_deadline = parse_deadline(data.get("dispatch_deadline"), label)
    check_auth(data, label)
    task.oidc_email = data.get("oidc_service_account_email")
    task.oidc_audience = data.get("oidc_token_audience")
    task.oauth_email = data.get("oauth_service_account_email")
    task.oauth_scope = data.get("oauth_token_scope")
    if "task_id" in data and "dedup_key" in data:
        raise UsageError("task_id: give either task_id or dedup_key, not both")
    if "task_id" in data:
        task.task_id = check_task_id(data["task_id"], label)
    elif "dedup_key" in data:
        from tasksctl.dedup import id_from_key

        task.task_id = id_from_key(data["dedup_key"], "dedup_key")
    elif dedup_content:
        task.task_id = task.content_id()
    return task


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value == "")


def _headers(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return check_headers(value, field_label, "headers")
    if not isinstance(value, str):
        raise UsageError("headers: must be an object of names and values")
    text = value.strip()
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"headers: not a valid JSON object: {exc.msg}") from None
        if not isinstance(parsed, dict):
            raise UsageError("headers: must be a JSON object of names and values")
        return check_headers(parsed, field_label, "headers")
    items = [part.strip() for part in text.split(";") if part.strip()]
    return parse_header_items(items, field_label, "headers")


# ---------------------------------------------------------------------------------------------
# Rejects


def write_rejects(path: Path, table: Table, rejected: list[tuple[Row, str]]) -> None:
    """Write failed rows, in input order, as the input format with an ``error`` field."""
    records = [{**row.data, ERROR_FIELD: message} for row, message in rejected]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        if table.format == "jsonl":
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        elif table.format == "json":
            json.dump(records, handle, indent=2, ensure_ascii=False, default=str)
            handle.write("\n")
        elif table.format == "csv":
            columns = [c for c in table.columns if c != ERROR_FIELD]
            if any(RAW_FIELD in record for record in records) and RAW_FIELD not in columns:
                columns.append(RAW_FIELD)  # malformed rows keep their raw text
            columns.append(ERROR_FIELD)
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(records)
        else:
            import yaml

            yaml.safe_dump(records, handle, sort_keys=False, allow_unicode=True)
