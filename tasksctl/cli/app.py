"""The root ``tasksctl`` app: global options, command groups and the one error funnel."""

from __future__ import annotations

import sys

import typer

from tasksctl import __version__
from tasksctl.cli import engine

app = typer.Typer(
    name="tasksctl",
    help="Work with Google Cloud Tasks queues and tasks, on Cloud Tasks or a local engine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(engine.app, name="engine")


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
