"""``queues export``: the queues of a location as a ``queues.yaml`` file for ``tasksctl apply``.

Reads every queue of the project/location (ListQueues, all pages) and writes the declarative
format with only the settings that differ from the service defaults, queues sorted by name, and
the project and location at the top. The text is stable: export → apply on an empty engine →
export gives the same file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tasksctl.cli.context import Cli
from tasksctl.errors import TasksctlError

if TYPE_CHECKING:
    from tasksctl.cli.base import TasksctlTyper

OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        help="Write the file here instead of stdout (- means stdout).",
        show_default=False,
    ),
]


def export(cli: Cli, output: OutputOption = None) -> None:
    """Write the queues of a location in the queues.yaml format read by `tasksctl apply`."""
    from tasksctl.declarative.apply import fetch_current
    from tasksctl.declarative.convert import export_queues

    parent = cli.location_name()
    queues = fetch_current(cli.client, [(parent.project, parent.location)])
    text = export_queues(queues, parent.project, parent.location)
    if output is None or str(output) == "-":
        cli.out.data(text)
        return
    _write(output, text)
    count = "1 queue" if len(queues) == 1 else f"{len(queues)} queues"
    cli.out.status(f"Exported {count} of [{parent.location}] to [{output}].")


def _write(path: Path, text: str) -> None:
    """Replace ``path`` in one step, so a failed export never leaves half a file."""
    target = path.expanduser()
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise TasksctlError(f"Cannot write {path}: {exc.strerror or exc}") from None


def register(app: TasksctlTyper) -> None:
    """Add ``export`` to the ``queues`` group."""
    app.command("export")(export)
