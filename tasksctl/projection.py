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
    key: Key
    label: str | None = None

    def heading(self, table_style: bool) -> str:
        if self.label is not None:
            return self.label
        name = self.key.name
        if not table_style:
            return name
        return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()


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
