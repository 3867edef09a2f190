"""Static shell completion scripts (bash, zsh, fish) generated from the live command tree.

``render(shell)`` walks ``typer.main.get_command(tasksctl.cli.app.app)`` and returns a script that
knows every command, subcommand, option and choice, so completing never starts Python.
``scripts/gen_completions.py`` writes them to ``completions/``; ``tasksctl completion SHELL``
prints them.
"""

from __future__ import annotations

from typing import Any

from tasksctl.shell_completion.tree import Command, build_tree

PROG = "tasksctl"
SHELLS = ("bash", "zsh", "fish")
FILENAMES = {"bash": f"{PROG}.bash", "zsh": f"{PROG}.zsh", "fish": f"{PROG}.fish"}
"""The file each script is written to under ``completions/``."""


def live_root() -> Any:
    """The Click command behind the ``tasksctl`` Typer app (imported lazily)."""
    import typer.main

    from tasksctl.cli.app import app

    return typer.main.get_command(app)


def live_tree() -> Command:
    """The model of the live ``tasksctl`` command tree."""
    return build_tree(live_root())


def render(shell: str, tree: Command | None = None) -> str:
    """The completion script for ``shell`` (one of ``SHELLS``) for ``tree`` (default: live)."""
    if tree is None:
        tree = live_tree()
    if shell == "bash":
        from tasksctl.shell_completion import bash as renderer
    elif shell == "zsh":
        from tasksctl.shell_completion import zsh as renderer  # type: ignore[no-redef]
    elif shell == "fish":
        from tasksctl.shell_completion import fish as renderer  # type: ignore[no-redef]
    else:
        raise ValueError(f"unknown shell {shell!r}; expected one of {', '.join(SHELLS)}")
    return renderer.render(tree, PROG)


__all__ = [
    "FILENAMES",
    "PROG",
    "SHELLS",
    "Command",
    "build_tree",
    "live_root",
    "live_tree",
    "render",
]
