"""The one place that turns resources into output: ``--format``, ``--filter``, ``--sort-by``,
``--limit`` and ``--uri``.

Resources are plain dicts in the API's JSON form (camelCase keys, durations as ``"0.100s"``,
timestamps in RFC 3339, enums by name), exactly what gcloud prints, built by
:func:`message_to_dict`. Formats:

- ``json``  - indented, sorted keys; a list command prints a JSON array.
- ``yaml``  - block style, sorted keys; a list prints one ``---`` document per resource.
- ``table(col, ...)`` - gcloud's plain table: upper-case headings, columns two spaces apart.
- ``value(col, ...)`` - tab-separated values, no heading.
- ``csv(col, ...)``   - RFC 4180 with a heading row (``[no-heading]`` drops it).
- ``flattened``/``text`` - ``key.path: value`` lines.
- ``none`` prints nothing; ``default`` is the command's own format.

``table``/``value``/``csv`` without columns reuse the command's default columns.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any

from tasksctl.errors import UsageError

if TYPE_CHECKING:
    from tasksctl.output import Output
    from tasksctl.projection import Column

# The parsers (projection, filter_expr) are imported where used: `tasksctl --help` needs only
# ListFlags and parse_limit from this module.

API_ROOT = "https://cloudtasks.googleapis.com/v2/"


@dataclass(frozen=True)
class ListFlags:
    """gcloud's list-command flags."""

    filter: str | None = None
    limit: int | None = None
    page_size: int | None = None
    sort_by: tuple[str, ...] = ()
    uri: bool = False


def parse_limit(text: str | None, flag: str = "--limit") -> int | None:
    """A positive integer or ``unlimited`` (gcloud's BoundedInt(1, unlimited=True))."""
    if text is None or str(text).strip().lower() == "unlimited":
        return None
    try:
        value = int(str(text).strip())
    except ValueError:
        value = 0
    if value < 1:
        raise UsageError(
            f"argument {flag}: Value must be greater than or equal to 1; received: {text}"
        )
    return value


def message_to_dict(message: Any) -> dict[str, Any]:
    """A proto-plus or protobuf message as the API's JSON dict (what gcloud shows)."""
    from google.protobuf import json_format

    pb = message
    if not hasattr(message, "DESCRIPTOR"):  # proto-plus wrapper
        pb = type(message).pb(message)
    result: dict[str, Any] = json_format.MessageToDict(
        pb, preserving_proto_field_name=False, use_integers_for_enums=False
    )
    return result


def resource_uri(resource: dict[str, Any]) -> str:
    """gcloud's ``--uri`` self link for a resource with a ``name``."""
    return API_ROOT + str(resource.get("name", ""))


class Renderer:
    """Prints resources for one command, given ``--format`` and the command's default."""

    def __init__(self, out: Output, user_format: str | None, default_format: str) -> None:
        from tasksctl.projection import FormatSpec, parse_format

        self.out = out
        self.default = parse_format(default_format)
        chosen = user_format.strip() if user_format else ""
        spec = parse_format(chosen) if chosen else self.default
        if spec.name == "default":
            spec = FormatSpec(
                self.default.name,
                {**self.default.attributes, **spec.attributes},
                spec.columns or self.default.columns,
            )
        if spec.name in ("table", "value", "csv") and not spec.columns:
            spec = FormatSpec(spec.name, spec.attributes, self.default.columns)
        self.spec = spec
        self.explicit = bool(chosen)

    # -- entry points ----------------------------------------------------------------------

    def resource(self, resource: dict[str, Any]) -> None:
        """Print one resource (``describe``, or ``create`` when ``--format`` is given)."""
        if self.spec.name == "none":
            return
        self.out.data(self._render([resource], single=True))

    def resources(self, items: Iterable[dict[str, Any]], flags: ListFlags | None = None) -> int:
        """Print a list after ``--filter``, ``--sort-by``, ``--limit``; returns the count."""
        selected = select(items, flags or ListFlags())
        if flags is not None and flags.uri:
            for item in selected:
                self.out.data(resource_uri(item))
        elif self.spec.name != "none" and (selected or self.spec.name == "json"):
            self.out.data(self._render(selected, single=False))
        if not selected and self.spec.name not in ("json", "none"):
            self.out.status("Listed 0 items.")
        return len(selected)

    # -- formats ---------------------------------------------------------------------------

    def _render(self, items: list[dict[str, Any]], single: bool) -> str:
        from tasksctl.projection import to_text

        spec = self.spec
        if spec.name in ("table", "value", "csv") and not spec.columns:
            raise UsageError(
                f"Format [{spec.name}] needs columns here, for example {spec.name}(name)."
            )
        if spec.columns and spec.name in ("json", "yaml", "flattened"):
            items = [_project(item, spec.columns) for item in items]
        if spec.name == "json":
            return json.dumps(items[0] if single else items, indent=2, sort_keys=True)
        if spec.name == "yaml":
            return _yaml(items, single)
        if spec.name == "flattened":
            return "\n".join(
                ("" if single or i == 0 else "---\n") + "\n".join(_flatten(item))
                for i, item in enumerate(items)
            )
        rows = [[c.key.evaluate(item) for c in spec.columns] for item in items]
        separator = str(spec.attributes.get("separator", ";"))
        text_rows = [[to_text(v, separator) for v in row] for row in rows]
        if spec.name == "table":
            return _table(
                [c.heading(True) for c in spec.columns] if spec.heading else None, text_rows
            )
        if spec.name == "csv":
            return _csv(
                [c.heading(False) for c in spec.columns] if spec.heading else None,
                text_rows,
                str(spec.attributes.get("delimiter", ",")),
            )
        delimiter = str(spec.attributes.get("delimiter", "\t"))
        return "\n".join(delimiter.join(row).rstrip() for row in text_rows)


def select(items: Iterable[dict[str, Any]], flags: ListFlags) -> list[dict[str, Any]]:
    """Apply ``--filter``, then ``--sort-by``, then ``--limit`` (gcloud's order)."""
    from tasksctl.filter_expr import parse_filter
    from tasksctl.projection import parse_key

    predicate = parse_filter(flags.filter)
    keep: Iterable[dict[str, Any]] = (item for item in items if predicate(item))
    if flags.sort_by:
        ordered = list(keep)
        for spec in reversed(flags.sort_by):
            descending = spec.startswith("~")
            key = parse_key(spec.lstrip("~"), "--sort-by key")
            ordered.sort(key=_sort_key(key.evaluate), reverse=descending)
        keep = ordered
    if flags.limit is not None:
        keep = islice(keep, flags.limit)
    return list(keep)


def _sort_key(get: Callable[[Any], Any]) -> Callable[[Any], tuple[int, Any]]:
    from tasksctl.projection import to_text

    def key(item: Any) -> tuple[int, Any]:
        value = get(item)
        if value is None:
            return (0, "")
        if isinstance(value, bool):
            return (1, float(value))
        if isinstance(value, int | float):
            return (1, float(value))
        return (2, to_text(value))

    return key


def _project(resource: dict[str, Any], columns: tuple[Column, ...]) -> dict[str, Any]:
    projected: dict[str, Any] = {}
    for column in columns:
        names = [p for p in column.key.path if isinstance(p, str)] or [column.key.name]
        if column.label:
            names = [column.label]
        target = projected
        for name in names[:-1]:
            target = target.setdefault(name, {})
        target[names[-1]] = column.key.evaluate(resource)
    return projected


def _flatten(value: Any, prefix: str = "") -> list[str]:
    from tasksctl.projection import to_text

    if isinstance(value, dict):
        lines = []
        for key in sorted(value):
            lines.extend(_flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return lines
    if isinstance(value, list):
        lines = []
        for index, item in enumerate(value):
            lines.extend(_flatten(item, f"{prefix}[{index}]"))
        return lines
    return [f"{prefix}: {to_text(value)}"]


def _yaml(items: list[dict[str, Any]], single: bool) -> str:
    import yaml

    options: dict[str, Any] = dict(default_flow_style=False, sort_keys=True, allow_unicode=True)
    if single:
        return str(yaml.safe_dump(items[0], **options))
    return str(yaml.safe_dump_all(items, explicit_start=True, **options))


def _table(headings: list[str] | None, rows: list[list[str]]) -> str:
    all_rows = ([headings] if headings else []) + rows
    if not all_rows:
        return ""
    widths = [max(len(row[i]) for row in all_rows) for i in range(len(all_rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in all_rows
    )


def _csv(headings: list[str] | None, rows: list[list[str]], delimiter: str) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    if headings:
        writer.writerow(headings)
    writer.writerows(rows)
    return buffer.getvalue().rstrip("\n")
