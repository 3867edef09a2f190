"""``--filter`` expressions: a small, tested subset of gcloud's filter language.

Grammar (``AND`` binds tighter than ``OR``; adjacent terms are ANDed, as in gcloud)::

    expr  := and ( "OR" and )*
    and   := unary ( ["AND"] unary )*
    unary := "NOT" unary | "-" unary | "(" expr ")" | term
    term  := key OP value | word            # a bare word matches any field containing it
    OP    := "=" | "!=" | ":" | "<" | "<=" | ">" | ">=" | "~" | "!~"
    value := word | "quoted" | "(" value ( [","|"OR"] value )* ")"    # a list: any one matches

Matching: ``:`` is case-insensitive *contains* (``*`` wildcards allowed, ``key:*`` means the
key is set; on a dict it matches a key); ``=`` is case-insensitive equality (numbers compare as
numbers, ``*`` wildcards allowed); ``<``/``>`` compare numbers (durations such as ``10s``
count as seconds) or else text; ``~`` is a regular expression search. When the key holds a
list, the term is true if any item matches. Keys use gcloud's camelCase names and transforms.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tasksctl.errors import UsageError
from tasksctl.projection import Key, Scanner, parse_key_at, to_text

Predicate = Callable[[Any], bool]

_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_OPERATORS = ("!=", "<=", ">=", "!~", "=", ":", "<", ">", "~")
_KEY_START = re.compile(r"[A-Za-z_]")
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?s?$", re.IGNORECASE)


@dataclass(frozen=True)
class _Term:
    key: Key
    op: str
    operands: tuple[str, ...]

    def __call__(self, resource: Any) -> bool:
        value = self.key.evaluate(resource)
        if self.op in ("!=", "!~"):
            positive = _Term(self.key, self.op[1] if self.op == "!~" else "=", self.operands)
            return not positive(resource)
        values = value if isinstance(value, list) else [value]
        return any(_match(self.op, item, operand) for item in values for operand in self.operands)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        return float(value.strip().rstrip("sS"))
    return None


def _glob(pattern: str, anchored: bool) -> re.Pattern[str]:
    body = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.compile(f"^{body}$" if anchored else body, re.IGNORECASE | re.DOTALL)


def _match(op: str, value: Any, operand: str) -> bool:
    if op == ":":
        if operand == "*":
            return value not in (None, "", [], {})
        if isinstance(value, dict):
            return any(_glob(operand, anchored=True).match(str(key)) for key in value)
        if value is None:
            return False
        return bool(_glob(operand, anchored=False).search(to_text(value)))
    if op == "~":
        try:
            return value is not None and re.search(operand, to_text(value)) is not None
        except re.error as exc:
            raise UsageError(
                f"Invalid value for --filter: bad regular expression {operand!r}: {exc}"
            ) from None
    if value is None:
        return False
    left, right = _as_number(value), _as_number(operand)
    if op == "=":
        if left is not None and right is not None:
            return left == right
        if isinstance(value, bool):
            return operand.lower() == str(value).lower()
        return bool(_glob(operand, anchored=True).match(to_text(value)))
    if left is not None and right is not None:
        return bool(_COMPARE[op](left, right))
    return bool(_COMPARE[op](to_text(value), operand))


def _any_field_contains(word: str) -> Predicate:
    pattern = _glob(word, anchored=False)

    def scalars(value: Any) -> list[Any]:
        if isinstance(value, dict):
            return [leaf for item in value.values() for leaf in scalars(item)]
        if isinstance(value, list):
            return [leaf for item in value for leaf in scalars(item)]
        return [value]

    return lambda resource: any(
        v is not None and pattern.search(to_text(v)) for v in scalars(resource)
    )


MAX_FILTER_DEPTH = 100  # parentheses and NOTs; deeper input would hit Python's recursion limit


class _Parser:
    def __init__(self, text: str) -> None:
        self.scanner = Scanner(text, "filter expression")
        self.depth = 0

    def parse(self) -> Predicate:
        self.scanner.skip_ws()
        if self.scanner.at_end():
            return lambda resource: True
        predicate = self._or()
        self.scanner.skip_ws()
        if not self.scanner.at_end():
            raise self.scanner.error("unexpected text")
        return predicate

    def _keyword(self, word: str) -> bool:
        s = self.scanner
        s.skip_ws()
        if s.text.startswith(word, s.pos):
            after = s.pos + len(word)
            if after >= len(s.text) or s.text[after].isspace() or s.text[after] == "(":
                s.pos = after
                return True
        return False

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._keyword("OR"):
            parts.append(self._and())
        if len(parts) == 1:
            return parts[0]
        return lambda resource: any(part(resource) for part in parts)

    def _and(self) -> Predicate:
        parts = [self._unary()]
        while True:
            s = self.scanner
            s.skip_ws()
            if s.at_end() or s.peek() == ")":
                break
            start = s.pos
            if self._keyword("OR"):
                s.pos = start
                break
            self._keyword("AND")
            parts.append(self._unary())
        if len(parts) == 1:
            return parts[0]
        return lambda resource: all(part(resource) for part in parts)

    def _unary(self) -> Predicate:
        s = self.scanner
        s.skip_ws()
        self.depth += 1
        try:
            if self.depth > MAX_FILTER_DEPTH:
                raise s.error(f"nested too deeply (more than {MAX_FILTER_DEPTH} levels)")
            if self._keyword("NOT") or s.accept("-"):
                inner = self._unary()
                return lambda resource: not inner(resource)
            if s.accept("("):
                inner = self._or()
                s.skip_ws()
                s.expect(")")
                return inner
            return self._term()
        finally:
            self.depth -= 1

    def _term(self) -> Predicate:
        s = self.scanner
        if s.at_end():
            raise s.error("expected a term")
        if s.peek() in ("'", '"') or not _KEY_START.match(s.peek()):
            return _any_field_contains(s.word("()"))
        start = s.pos
        key = parse_key_at(s)
        s.skip_ws()
        op = next((candidate for candidate in _OPERATORS if s.accept(candidate)), None)
        if op is None:
            s.pos = start
            return _any_field_contains(s.word("()"))
        s.skip_ws()
        return _Term(key, op, self._operands())

    def _operands(self) -> tuple[str, ...]:
        s = self.scanner
        if s.accept("("):
            values: list[str] = []
            while True:
                s.skip_ws()
                if s.accept(")"):
                    break
                if s.at_end():
                    raise s.error("unterminated value list")
                if self._keyword("OR") or s.accept(","):
                    continue
                values.append(s.word(",()"))
            if not values:
                raise s.error("empty value list")
            return tuple(values)
        if s.at_end():
            raise s.error("expected a value")
        return (s.word(")"),)


def parse_filter(text: str | None) -> Predicate:
    """Compile a ``--filter`` expression into a predicate over resource dicts."""
    return _Parser(text or "").parse()
