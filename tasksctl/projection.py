"""Resource keys, transforms and ``--format`` specs, in gcloud's syntax (a subset).

A *key* reaches into a resource dict with gcloud's camelCase field names:
``rateLimits.maxDispatchesPerSecond``, ``bindings[0].role``, ``name.basename()``; transforms
chain after the path (``.yesno(no="unlimited").format("{0}").sub("-1", "unlimited")``).
A *format spec* is ``NAME[ATTRIBUTES](COLUMN, ...)`` where a column is a key with optional
``:label=HEADING``. Pure functions, no I/O; used by render.py and filter_expr.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tasksctl.errors import UsageError

FORMAT_NAMES = ("default", "json", "yaml", "table", "value", "csv", "flattened", "text", "none")
_FORMAT_ATTRIBUTES = ("no-heading", "delimiter", "separator")
_COLUMN_ATTRIBUTES = ("label", "align", "sort", "reverse", "wrap")


# ---------------------------------------------------------------------------------------------
# Transforms (gcloud resource_transform names and behaviour)


def _basename(value: Any) -> Any:
    return str(value).rstrip("/").rsplit("/", 1)[-1] if value not in (None, "") else value


def _yesno(value: Any, yes: Any = None, no: Any = "No") -> Any:
    if value:
        return value if yes is None else yes
    return no


def _format(value: Any, fmt: str, *args: Any) -> str:
    return str(fmt).format(value, *args)


def _sub(value: Any, pattern: str, replacement: str, count: Any = 0) -> Any:
    if value is None:
        return None
    return re.sub(str(pattern), str(replacement), to_text(value), count=int(count))


def _len(value: Any) -> int:
    try:
        return len(value) if value is not None else 0
    except TypeError:
        return 0


def _join(value: Any, sep: str = ", ") -> Any:
    if isinstance(value, list):
        return str(sep).join(to_text(item) for item in value)
    return value


def _lower(value: Any) -> Any:
    return str(value).lower() if value is not None else None


def _upper(value: Any) -> Any:
    return str(value).upper() if value is not None else None


TRANSFORMS: dict[str, Callable[..., Any]] = {
    "basename": _basename,
    "yesno": _yesno,
    "format": _format,
    "sub": _sub,
    "len": _len,
    "join": _join,
    "lower": _lower,
    "upper": _upper,
}


# ---------------------------------------------------------------------------------------------
# Model


@dataclass(frozen=True)
class Transform:
    name: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()

    def apply(self, value: Any) -> Any:
        try:
            return TRANSFORMS[self.name](value, *self.args, **dict(self.kwargs))
        except (TypeError, ValueError, IndexError, KeyError, re.error) as exc:
            raise UsageError(f"Transform {self.name}() failed: {exc}") from None


@dataclass(frozen=True)
class Key:
    """A path into a resource plus transforms."""

    path: tuple[str | int, ...]
    transforms: tuple[Transform, ...] = ()

    def raw(self, resource: Any) -> Any:
        return get_path(resource, self.path)

    def evaluate(self, resource: Any) -> Any:
        value = self.raw(resource)
        for transform in self.transforms:
            value = transform.apply(value)
        return value

    @property
    def name(self) -> str:
        """The last named segment (``maxDispatchesPerSecond``), used for default headings."""
        for part in reversed(self.path):
            if isinstance(part, str):
                return part
        return "value"


@dataclass(frozen=True)
class Column:
    """One projected key. ``inherited`` marks transforms taken from the command's default
    format: gcloud applies those in table/value/csv cells but not in json/yaml/flattened."""

    key: Key
    label: str | None = None
    inherited: bool = False

    def heading(self, table_style: bool) -> str:
        label = self.label if self.label is not None else snake_label(self.key.path, set())
        return label if table_style else label.lower()

    def project_value(self, resource: Any) -> Any:
        """The value json/yaml/flattened show: inherited transforms stay inactive."""
        return self.key.raw(resource) if self.inherited else self.key.evaluate(resource)


_SNAKE = re.compile(r"((?<=[a-z0-9])[A-Z]+|(?!^)[A-Z](?=[a-z]))")


def snake_label(path: tuple[str | int, ...], taken: set[str]) -> str:
    """gcloud's default heading: ``rateLimits.maxBurstSize`` -> ``MAX_BURST_SIZE``; names from
    the left are added (``RATE_LIMITS_MAX_BURST_SIZE``) while the heading is already taken."""
    label = ""
    for part in reversed(path):
        if isinstance(part, str):
            snake = _SNAKE.sub(r"_\1", part).upper()
            label = f"{snake}_{label}" if label else snake
            if label not in taken:
                taken.add(label)
                break
    return label


def compose(default: FormatSpec, user: FormatSpec) -> FormatSpec:
    """The user's ``--format`` composed after the command's default, as gcloud does.

    A user column whose key (or label, used as an alias such as ``QUEUE_NAME``) matches a
    default column inherits that column's transforms (unless it has its own) and heading (unless
    it has a label): ``value(name)`` on ``queues list`` prints the queue ID and
    ``csv(name,state)`` heads ``queue_name,state``.
    """
    taken: set[str] = set()
    labels: list[str] = []
    for column in default.columns:
        labels.append(
            column.label if column.label is not None else snake_label(column.key.path, taken)
        )
    by_path = {c.key.path: (c, lbl) for c, lbl in zip(default.columns, labels, strict=True)}
    by_alias = {lbl: (c, lbl) for c, lbl in zip(default.columns, labels, strict=True)}
    columns: list[Column] = []
    for column in user.columns:
        path, transforms = column.key.path, column.key.transforms
        base = by_path.get(path)
        if base is None and len(path) == 1 and isinstance(path[0], str):
            base = by_alias.get(path[0])
        if base is None:
            label = column.label if column.label is not None else snake_label(path, taken)
            columns.append(Column(column.key, label))
            continue
        inherited, base_label = base
        label = column.label if column.label is not None else base_label
        if transforms:
            columns.append(Column(Key(inherited.key.path, transforms), label))
        else:
            columns.append(Column(inherited.key, label, inherited=bool(inherited.key.transforms)))
    return FormatSpec(user.name, user.attributes, tuple(columns))


@dataclass(frozen=True)
class FormatSpec:
    name: str
    attributes: dict[str, Any] = field(default_factory=dict)
    columns: tuple[Column, ...] = ()

    @property
    def heading(self) -> bool:
        return not self.attributes.get("no-heading", False)


# ---------------------------------------------------------------------------------------------
# Values


def get_path(resource: Any, path: tuple[str | int, ...]) -> Any:
    """Walk ``path`` into dicts and lists; a name applied to a list maps over its items."""
    value = resource
    for part in path:
        if value is None:
            return None
        if isinstance(part, int):
            value = (
                value[part]
                if isinstance(value, list) and -len(value) <= part < len(value)
                else None
            )
        elif isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list):
            value = [item.get(part) if isinstance(item, dict) else None for item in value]
        else:
            return None
    return value


def to_text(value: Any, separator: str = ";") -> str:
    """One cell: ``None`` empty, lists joined by ``;``, dicts as ``key=value;...`` (gcloud)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list):
        return separator.join(to_text(item, separator) for item in value)
    if isinstance(value, dict):
        return separator.join(f"{k}={to_text(v, separator)}" for k, v in value.items())
    return str(value)


# ---------------------------------------------------------------------------------------------
# Parsing


class Scanner:
    """A cursor over an expression string, with gcloud-style quoting."""

    def __init__(self, text: str, what: str) -> None:
        self.text = text
        self.pos = 0
        self.what = what

    def error(self, message: str) -> UsageError:
        return UsageError(f"Invalid {self.what} [{self.text}]: {message} at position {self.pos}.")

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self, count: int = 1) -> str:
        return self.text[self.pos : self.pos + count]

    def skip_ws(self) -> None:
        while not self.at_end() and self.text[self.pos].isspace():
            self.pos += 1

    def accept(self, token: str) -> bool:
        if self.text.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False

    def expect(self, token: str) -> None:
        if not self.accept(token):
            raise self.error(f"expected {token!r}")

    def identifier(self) -> str:
        match = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*").match(self.text, self.pos)
        if not match:
            raise self.error("expected a name")
        self.pos = match.end()
        return match.group(0)

    def quoted(self) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        chars: list[str] = []
        while not self.at_end():
            char = self.text[self.pos]
            self.pos += 1
            if char == "\\" and not self.at_end():
                chars.append(self.text[self.pos])
                self.pos += 1
            elif char == quote:
                return "".join(chars)
            else:
                chars.append(char)
        raise self.error("unterminated string")

    def word(self, stops: str) -> str:
        """A quoted string, or bare text up to whitespace or a character in ``stops``."""
        if self.peek() in ("'", '"'):
            return self.quoted()
        start = self.pos
        while (
            not self.at_end()
            and self.text[self.pos] not in stops
            and not self.text[self.pos].isspace()
        ):
            self.pos += 1
        return self.text[start : self.pos]


def _literal(text: str, quoted: bool) -> Any:
    if quoted:
        return text
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_key_at(scanner: Scanner) -> Key:
    """Parse ``a.b[0].c.transform(args).other()`` at the scanner's position."""
    path: list[str | int] = []
    transforms: list[Transform] = []
    while True:
        if scanner.accept("["):
            index = scanner.word("]")
            scanner.expect("]")
            if index:  # `[]` (flatten) is accepted and ignored: names map over lists anyway
                try:
                    path.append(int(index))
                except ValueError:
                    raise scanner.error(f"bad index [{index}]") from None
        else:
            name = scanner.identifier()
            if scanner.peek() == "(":
                transforms.append(_parse_call(scanner, name))
            elif transforms:
                raise scanner.error("a field cannot follow a transform")
            else:
                path.append(name)
        if scanner.peek() == "[":
            continue
        if scanner.peek() == "." and re.match(r"[A-Za-z_]", scanner.peek(2)[1:]):
            scanner.pos += 1
            continue
        return Key(tuple(path), tuple(transforms))


def _parse_call(scanner: Scanner, name: str) -> Transform:
    if name not in TRANSFORMS:
        raise scanner.error(f"unknown transform {name}() (known: {', '.join(sorted(TRANSFORMS))})")
    scanner.expect("(")
    args: list[Any] = []
    kwargs: list[tuple[str, Any]] = []
    scanner.skip_ws()
    while not scanner.accept(")"):
        if scanner.at_end():
            raise scanner.error("unterminated transform arguments")
        keyword = None
        match = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=").match(scanner.text, scanner.pos)
        if match:
            keyword = match.group(1)
            scanner.pos = match.end()
            scanner.skip_ws()
        quoted = scanner.peek() in ("'", '"')
        value = _literal(scanner.word(",)"), quoted)
        if keyword:
            kwargs.append((keyword, value))
        else:
            args.append(value)
        scanner.skip_ws()
        if scanner.accept(","):
            scanner.skip_ws()
    return Transform(name, tuple(args), tuple(kwargs))


def parse_key(text: str, what: str = "key") -> Key:
    """Parse a whole string as one key (``--sort-by`` items, filter keys)."""
    scanner = Scanner(text.strip(), what)
    key = parse_key_at(scanner)
    if not scanner.at_end():
        raise scanner.error("unexpected text")
    return key


def _parse_attributes(scanner: Scanner) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    while not scanner.accept("]"):
        if scanner.at_end():
            raise scanner.error("unterminated attributes")
        name = scanner.identifier()
        if name not in _FORMAT_ATTRIBUTES:
            raise scanner.error(
                f"unknown format attribute [{name}] (known: {', '.join(_FORMAT_ATTRIBUTES)})"
            )
        attributes[name] = scanner.word(",]") if scanner.accept("=") else True
        scanner.accept(",")
    return attributes


def _parse_column(scanner: Scanner) -> Column:
    scanner.skip_ws()
    key = parse_key_at(scanner)
    label = None
    while scanner.accept(":"):
        name = scanner.identifier()
        if name not in _COLUMN_ATTRIBUTES:
            raise scanner.error(f"unknown column attribute [{name}]")
        value = scanner.word(",):") if scanner.accept("=") else ""
        if name == "label":
            label = value
    scanner.skip_ws()
    return Column(key, label)


def parse_format(text: str) -> FormatSpec:
    """Parse ``--format`` values such as ``table(name.basename():label=QUEUE, state)``."""
    scanner = Scanner(text.strip(), "format")
    name = scanner.identifier().lower()
    if name not in FORMAT_NAMES:
        raise UsageError(
            f"Format [{name}] is not supported; use one of: {', '.join(FORMAT_NAMES)} "
            "(with an optional projection, for example table(name,state))."
        )
    attributes = _parse_attributes(scanner) if scanner.accept("[") else {}
    columns: list[Column] = []
    if scanner.accept("("):
        scanner.skip_ws()
        while not scanner.accept(")"):
            columns.append(_parse_column(scanner))
            if not scanner.accept(","):
                scanner.skip_ws()
                scanner.expect(")")
                break
    if not scanner.at_end():
        raise scanner.error("unexpected text after the format")
    return FormatSpec("flattened" if name == "text" else name, attributes, tuple(columns))
