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
    from tasksctl.projection import Column, FormatSpec

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


def parse_limit(text: str | None, flag: str = "--limit", maximum: int | None = None) -> int | None:
    """A positive integer or ``unlimited`` (gcloud's BoundedInt(1, unlimited=True)).

    ``maximum`` bounds values sent in a request field (``--page-size`` is an int32).
    """
    if text is None or str(text).strip().lower() == "unlimited":
        return None
    try:
        value = int(str(text).strip())
    except ValueError:
        raise UsageError(f"argument {flag}: Value must be an integer; received: {text}") from None
    if value < 1:
        raise UsageError(
            f"argument {flag}: Value must be greater than or equal to 1; received: {text}"
        )
    if maximum is not None and value > maximum:
        raise UsageError(f"argument {flag}: Value must be at most {maximum}; received: {text}")
    return value


def message_to_dict(message: Any) -> dict[str, Any]:
    """A proto-plus or protobuf message as the API's JSON dict (what gcloud shows)."""
    from tasksctl import fast_json

    pb = message
    if not hasattr(message, "DESCRIPTOR"):  # proto-plus wrapper
        pb = type(message).pb(message)
    return fast_json.message_to_dict(pb)


def resource_uri(resource: dict[str, Any]) -> str:
    """gcloud's ``--uri`` self link for a resource with a ``name``."""
    return API_ROOT + str(resource.get("name", ""))


class Renderer:
    """Prints resources for one command, given ``--format`` and the command's default."""

    def __init__(self, out: Output, user_format: str | None, default_format: str) -> None:
        from tasksctl.projection import FormatSpec, compose, parse_format

        self.out = out
        self.default = parse_format(default_format)
        chosen = user_format.strip() if user_format else ""
        spec = parse_format(chosen) if chosen else self.default
        if spec.name == "default" and chosen:  # gcloud's default printer is YAML
            spec = FormatSpec("yaml", spec.attributes, spec.columns)
        if chosen:
            spec = compose(self.default, spec)
        if spec.name in ("table", "value", "csv") and not spec.columns:
            # gcloud refuses a bare `table`; reusing the command's columns is kept on purpose
            # (README: "Where tasksctl differs from gcloud").
            spec = compose(
                self.default, FormatSpec(spec.name, spec.attributes, self.default.columns)
            )
        self.spec = spec
        self.explicit = bool(chosen)

    # -- entry points ----------------------------------------------------------------------

    def resource(self, resource: dict[str, Any]) -> None:
        """Print one resource (``describe``, or ``create`` when ``--format`` is given)."""
        if self.spec.name == "none":
            return
        self.out.data(self._render([resource], single=True))

    def nothing(self) -> None:
        """A command without a resource to show (pause, delete, ...): gcloud's json printer
        still prints an empty list."""
        if self.spec.name == "json":
            self.out.data("[]")

    def resources(self, items: Iterable[dict[str, Any]], flags: ListFlags | None = None) -> int:
        """Print a list after ``--filter``, ``--sort-by``, ``--limit``; returns the count.

        With ``--page-size`` a table is printed per page, a blank line after each full page,
        as gcloud does; the other formats ignore pages.
        """
        flags = flags or ListFlags()
        selected = select(items, flags)
        if flags.uri:
            for item in selected:
                self.out.data(resource_uri(item))
        elif self.spec.name == "table" and flags.page_size and len(selected) > flags.page_size:
            size = flags.page_size
            pages = [selected[i : i + size] for i in range(0, len(selected), size)]
            for page in pages[:-1]:
                self.out.data(self._render(page, single=False) + "\n\n")
            self.out.data(self._render(pages[-1], single=False))
        elif self.spec.name != "none" and (selected or self.spec.name == "json"):
            self.out.data(self._render(selected, single=False))
        if not selected and not self.explicit:
            self.out.status("Listed 0 items.")
        return len(selected)

    # -- formats ---------------------------------------------------------------------------

    def _render(self, items: list[dict[str, Any]], single: bool) -> str:
        spec = self.spec
        if spec.name in ("table", "value", "csv") and not spec.columns:
            raise UsageError(
                f"Format [{spec.name}] needs columns here, for example {spec.name}(name)."
            )
        if spec.name == "flattened":
            return _flattened(items, spec, single)
        if spec.columns and spec.name in ("json", "yaml"):
            items = [_project(item, spec.columns) for item in items]
        if spec.name == "json":
            return json.dumps(
                items[0] if single else items, indent=2, sort_keys=True, ensure_ascii=False
            )
        if spec.name == "yaml":
            return _yaml(items, single)
        rows = [[c.key.evaluate(item) for c in spec.columns] for item in items]
        if spec.name == "table":
            return _table(
                [c.heading(True) for c in spec.columns] if spec.heading else None,
                [[_table_cell(v) for v in row] for row in rows],
            )
        delimiter = str(spec.attributes.get("delimiter", ";"))
        if spec.name == "csv":
            quote = '"' if not spec.attributes.get("no-quote") else None
            separator = str(spec.attributes.get("separator", ","))
            headings = [c.heading(False) for c in spec.columns] if spec.heading else None
        else:
            quote = '"' if spec.attributes.get("quote") else None
            separator = str(spec.attributes.get("separator", "\t"))
            headings = None
        cells = _CsvCells(quote, delimiter, separator)
        lines = [separator.join(cells.field(h) for h in headings)] if headings else []
        lines += [separator.join(cells.value(v) for v in row) for row in rows]
        return "\n".join(lines)


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
        target = projected
        for name in names[:-1]:
            target = target.setdefault(name, {})
        target[names[-1]] = column.project_value(resource)
    return projected


def float_text(value: float) -> str:
    """gcloud's TransformFloat: six significant digits, no exponent below 1e9."""
    text = f"{value:.6}"
    if "e+" in text and int(text.split("e+")[1]) < 9:
        return f"{value:.1f}"
    return text


def _table_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return float_text(value)
    return str(value)  # gcloud shows nested values with Python's str()


@dataclass(frozen=True)
class _CsvCells:
    """gcloud's csv/value cells: dicts as sorted ``k=v`` and lists joined by ``delimiter``."""

    quote: str | None
    delimiter: str
    separator: str

    def field(self, text: str) -> str:
        if not text or not self.quote:
            return text
        if not (
            self.delimiter in text
            or self.quote in text
            or self.separator in text
            or "\n" in text
            or text[0].isspace()
            or text[-1].isspace()
        ):
            return text
        return self.quote + text.replace(self.quote, self.quote * 2) + self.quote

    def value(self, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, dict):
            return self.delimiter.join(self.field(f"{k}={v}") for k, v in sorted(value.items()))
        if isinstance(value, list):
            return self.delimiter.join(self.field(str(x)) if x else "" for x in value)
        if isinstance(value, float):
            return self.field(float_text(value))
        return self.field(str(value))


def _flattened(items: list[dict[str, Any]], spec: FormatSpec, single: bool) -> str:
    """gcloud's flattened printer: ``---`` before each listed record, keys padded to one
    column; a projected key shows its lower-cased heading."""
    labels: dict[str, str] = {}
    if spec.columns:
        items = [_project(item, spec.columns) for item in items]
        for column in spec.columns:
            name = ".".join(p for p in column.key.path if isinstance(p, str))
            labels[name] = column.heading(False)
    blocks = []
    for item in items:
        pairs = [(labels.get(k, k), v) for k, v in _flatten(item)]
        lines = [] if single else ["---"]
        width = max((len(k) for k, _ in pairs), default=0)
        for key, value in pairs:
            text = _flat_text(value)
            lines.append(f"{key}: {' ' * (width - len(key))}{text}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        pairs = []
        for key in sorted(value):
            pairs.extend(_flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return pairs
    if isinstance(value, list) and value:
        pairs = []
        for index, item in enumerate(value):
            pairs.extend(_flatten(item, f"{prefix}[{index}]"))
        return pairs
    if isinstance(value, float):
        return [(prefix, float_text(value))]
    return [(prefix, value)]


def _flat_text(value: Any) -> str:
    text = str(value)
    if "\n" in text or text[:1].isspace() or text[-1:].isspace():
        escaped = {"\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
        chars = []
        for char in text:
            if char in ("\\", '"'):
                chars.append("\\" + char)
            else:
                chars.append(escaped.get(char, char))
        return '"' + "".join(chars) + '"'
    return text


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
