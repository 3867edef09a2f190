"""Docs as tests: every command has help text and appears in the README."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from tasksctl.cli.app import app
from tasksctl.shell_completion.tree import Command, build_tree

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
COMMANDS: list[Command] = [
    command for command in build_tree(typer.main.get_command(app)).walk() if command.path
]


def test_the_tree_is_not_empty() -> None:
    assert len(COMMANDS) > 40


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c.path) for c in COMMANDS])
def test_every_command_has_help_and_is_in_the_readme(command: Command) -> None:
    spelled = " ".join(command.path)
    assert command.help.strip(), f"`tasksctl {spelled}` has no help text"
    assert _mentioned(command.path), f"`tasksctl {spelled}` is not mentioned in README.md"


def _mentioned(path: tuple[str, ...]) -> bool:
    """``tasksctl a b`` written out, or ``b`` in backticks on a line about ``tasksctl a``."""
    if f"tasksctl {' '.join(path)}" in README:
        return True
    group, name = " ".join(path[:-1]), path[-1]
    return any(
        f"tasksctl {group} " in line and f"`{name}`" in line
        for line in README.splitlines()
        if group
    )
