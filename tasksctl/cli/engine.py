"""``tasksctl engine``: run and manage the bundled local Cloud Tasks engine."""

from __future__ import annotations

import typer

app = typer.Typer(help="Run and manage the local Cloud Tasks engine.", no_args_is_help=True)
