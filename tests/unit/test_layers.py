"""The layering rule, read from the source (ast): the engine stands alone.

``tasksctl/engine`` may use the shared core (errors, resources, constants, the package version)
but nothing from the CLI side: not ``tasksctl.cli``, ``client``, ``settings``, ``declarative``,
``output`` or ``render``, not even in a function body or under ``TYPE_CHECKING``. Starting the
engine in the background is ``tasksctl.launcher``'s job; ``--queues FILE`` reaches the engine
as a start-up hook built by the CLI.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "tasksctl"
FORBIDDEN_IN_ENGINE = ("cli", "client", "settings", "declarative", "output", "render")
LAYERS = ("cli", "client", "settings", "engine", "declarative", "launcher")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """Every absolute ``tasksctl.*`` module that ``path`` imports, with its line."""
    package = module_name(path).rsplit(".", 0 if path.name == "__init__.py" else 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:  # ``from tasksctl import client`` imports a module too
                yield node.lineno, f"{base}.{alias.name}"


def layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "tasksctl" or len(parts) < 2:
        return None
    return parts[1]


def import_graph() -> dict[str, set[str]]:
    """Who imports whom among the layers (any import, deferred ones included)."""
    graph: dict[str, set[str]] = {name: set() for name in LAYERS}
    for path in PACKAGE.rglob("*.py"):
        source = layer(module_name(path))
        if source not in graph:
            continue
        for _, module in imported_modules(path):
            target = layer(module)
            if target in graph and target != source:
                graph[source].add(target)
    return graph


def engine_files() -> list[Path]:
    return sorted((PACKAGE / "engine").rglob("*.py"))


def test_the_walker_sees_deferred_and_relative_imports(tmp_path: Path) -> None:
    """The rule is only as good as the walker: it must see imports inside functions."""
    sample = PACKAGE / "engine" / "runtime.py"
    found = {module for _, module in imported_modules(sample)}
    assert "tasksctl.engine.dispatcher" in found  # imported inside Engine.__init__
    assert "tasksctl.engine.preload" in found
    assert len(engine_files()) > 15


@pytest.mark.parametrize("path", engine_files(), ids=lambda p: p.name)
def test_engine_imports_nothing_from_the_cli_side(path: Path) -> None:
    bad = [
        f"{path.name}:{line}: {module}"
        for line, module in imported_modules(path)
        if layer(module) in FORBIDDEN_IN_ENGINE
    ]
    assert bad == []


def test_layer_graph_has_no_cycle_through_the_engine() -> None:
    graph = import_graph()
    assert graph["engine"] <= set()  # among these layers the engine imports none
    assert "engine" in graph["cli"] and "engine" in graph["launcher"]
    assert "launcher" in graph["client"]
