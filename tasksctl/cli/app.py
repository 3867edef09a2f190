"""The root ``tasksctl`` app: global options, command groups and the one error funnel.

Command groups live in one module each and are mounted here; the funnel and the global flags
come from :mod:`tasksctl.cli.base` (``TasksctlTyper``/``TasksctlGroup``), so every group
mounted here, including ``engine``, reports errors the same way.
"""

from __future__ import annotations

import sys

import typer

from tasksctl import __version__
from tasksctl.cli import apply, cmek, completion, config, engine, locations, queues, tasks
from tasksctl.cli.base import TasksctlGroup, TasksctlTyper

HELP = "Work with Google Cloud Tasks queues and tasks, on Cloud Tasks or a local engine."

app = TasksctlTyper(name="tasksctl", help=HELP, root=True)
app.add_typer(queues.app, name="queues")
app.add_typer(tasks.app, name="tasks")
app.add_typer(locations.app, name="locations")
app.add_typer(cmek.app, name="cmek-config")
app.add_typer(config.app, name="config")
app.add_typer(engine.app, name="engine", cls=TasksctlGroup)
app.add_typer(completion.app, name="completion", cls=TasksctlGroup)
apply.register(app)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"tasksctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
) -> None:
    """Work with Google Cloud Tasks queues and tasks, on Cloud Tasks or a local engine."""


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    app(args=argv if argv is not None else sys.argv[1:], prog_name="tasksctl")
