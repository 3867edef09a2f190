"""YAML source handling that keeps line numbers, for one-line ``file:line: field: problem`` errors.

PyYAML's ``safe_load`` forgets where each value came from. Here the file is *composed* (parsed to
a node tree whose nodes carry ``start_mark``) and scalars are constructed one at a time with the
safe constructor, so every value keeps the line it was written on. Both the tasksctl
``queues.yaml`` loader and the App Engine ``queue.yaml`` converter walk these nodes.

Mappings are checked for duplicate keys (PyYAML silently keeps the last one) and support YAML
merge keys (``<<: *defaults``), which CI files use to share settings between queues.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tasksctl.errors import UsageError

_MERGE_TAG = "tag:yaml.org,2002:merge"


class SpecError(UsageError):
    """The queue file is invalid."""

    def __init__(self, source: str, line: int, where: str, detail: str) -> None:
        location = f"{source}:{line}"
        super().__init__(f"{location}: {where}: {detail}" if where else f"{location}: {detail}")
        self.source = source
        self.line = line
        self.where = where
        self.detail = detail


@dataclass(frozen=True)
class Entry:
    """One ``key: value`` of a mapping, with the line of its key."""

    key: str
    line: int
    value: Node


def line_of(node: Node) -> int:
    """1-based line where ``node`` starts."""
    return int(node.start_mark.line) + 1


def compose(text: str, source: str) -> Node | None:
    """Parse ``text`` into a node tree; syntax errors become a SpecError with the parser's line.

    libyaml's parser is used when present (about 3x faster on large files); on an error the
    file is parsed again by the pure-Python parser, whose messages are the ones we report.
    """
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return yaml.compose(text, Loader=fast)
        except yaml.YAMLError:
            pass
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else 1
        problem = exc.problem or exc.context or "could not be parsed"
        if exc.context and exc.problem:
            problem = f"{exc.problem} ({exc.context})"
        raise SpecError(source, line, "", f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:  # pragma: no cover - reader errors without a mark
        raise SpecError(source, 1, "", f"invalid YAML: {exc}") from None


def scalar(node: Node) -> Any:
    """The Python value of a scalar node, resolved like ``yaml.safe_load`` would."""
    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)


def describe(node: Node) -> str:
    """How a value is named in a 'got ...' message."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    try:
        value = scalar(node)
    except yaml.YAMLError:
        return repr(node.value)
    return show(value)


def show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


class Reader:
    """Walks composed nodes of one file, raising SpecError with the file name and line."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, node_or_line: Node | int, where: str, detail: str) -> SpecError:
        line = node_or_line if isinstance(node_or_line, int) else line_of(node_or_line)
        return SpecError(self.source, line, where, detail)

    def mapping(self, node: Node, where: str) -> list[Entry]:
        """The entries of a mapping node, merge keys applied, duplicates refused."""
        if not isinstance(node, MappingNode):
            raise self.fail(node, where, f"expected a mapping, got {describe(node)}")
        own: dict[str, int] = {}
        merged: list[Entry] = []
        entries: list[Entry] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.extend(self._merge_sources(value_node, where))
                continue
            key = self._key(key_node, where)
            if key in own:
                raise self.fail(
                    key_node,
                    join(where, key),
                    f"duplicate key (first given at line {own[key]})",
                )
            own[key] = line_of(key_node)
            entries.append(Entry(key, line_of(key_node), value_node))
        # Explicit keys win over merged ones, as in YAML's merge-key rules.
        inherited = [entry for entry in merged if entry.key not in own]
        seen: set[str] = set()
        unique_inherited = []
        for entry in inherited:
            if entry.key not in seen:
                seen.add(entry.key)
                unique_inherited.append(entry)
        return unique_inherited + entries

    def _merge_sources(self, node: Node, where: str) -> list[Entry]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        result: list[Entry] = []
        for source in sources:
            if not isinstance(source, MappingNode):
                raise self.fail(
                    source, where, f"a merge key (<<) needs a mapping, got {describe(source)}"
                )
            result.extend(self.mapping(source, where))
        return result

    def _key(self, node: Node, where: str) -> str:
        if not isinstance(node, ScalarNode):
            raise self.fail(node, where, f"keys must be strings, got {describe(node)}")
        value = scalar(node)
        if not isinstance(value, str):
            raise self.fail(node, where, f"keys must be strings, got {show(value)}")
        return value

    def sequence(self, node: Node, where: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            raise self.fail(node, where, f"expected a list, got {describe(node)}")
        return list(node.value)

    def value(self, node: Node, where: str, expected: str) -> Any:
        """A scalar value; lists and mappings are refused with the ``expected`` wording."""
        if not isinstance(node, ScalarNode):
            raise self.fail(node, where, f"expected {expected}, got {describe(node)}")
        try:
            return scalar(node)
        except yaml.YAMLError as exc:
            raise self.fail(node, where, f"expected {expected}: {exc}") from None

    def unknown_key(self, entry: Entry, where: str, allowed: Iterable[str]) -> SpecError:
        hint = suggestion(entry.key, allowed)
        detail = "unknown key" + (f"; did you mean '{hint}'?" if hint else "")
        choices = sorted(allowed)
        if not hint and choices:
            detail += f" (expected one of: {', '.join(choices)})"
        return self.fail(entry.line, join(where, entry.key), detail)


def suggestion(word: str, choices: Iterable[str]) -> str | None:
    """The closest known key to a misspelt one, if any is close enough."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
