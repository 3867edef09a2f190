"""Shared options, defined once as ``Annotated`` aliases.

Global flags (``--project``, ``--location``, ``--backend``, ``--endpoint``, ``--format``,
``--quiet``, ``--verbosity``) are attached to the root, to every group and to every command by
:mod:`tasksctl.cli.base`, so they work before or after the subcommand and show in each
``--help``. Commands never declare them; they read the merged values from ``Cli``.
List flags (``--filter``, ``--limit``, ``--page-size``, ``--sort-by``, ``--uri``) are added to a
command that takes a ``ListFlags`` parameter. The environment variables named in the help are
read by :mod:`tasksctl.settings` (flag > environment > config file > default).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tasksctl import constants as c

GLOBAL_PANEL = "Global flags"
LIST_PANEL = "List command flags"


def _global(*decls: str, metavar: str | None, help: str) -> Any:
    return typer.Option(
        *decls, metavar=metavar, help=help, rich_help_panel=GLOBAL_PANEL, show_default=False
    )


ProjectOption = Annotated[
    str | None,
    _global(
        "--project",
        metavar="PROJECT_ID",
        help=f"Project ID (env {c.ENV_PROJECT}; local default {c.LOCAL_DEFAULT_PROJECT}).",
    ),
]
LocationOption = Annotated[
    str | None,
    _global(
        "--location",
        metavar="LOCATION",
        help=f"Location of the queue (env {c.ENV_LOCATION}; local default "
        f"{c.LOCAL_DEFAULT_LOCATION}).",
    ),
]
BackendOption = Annotated[
    str | None,
    _global(
        "--backend",
        metavar="local|cloud",
        help=f"local: the bundled engine (default); cloud: Cloud Tasks (env {c.ENV_BACKEND}).",
    ),
]
EndpointOption = Annotated[
    str | None,
    _global(
        "--endpoint",
        metavar="HOST:PORT",
        help=f"An emulator over insecure gRPC (env {c.ENV_ENDPOINT}, {c.ENV_EMULATOR_HOST}).",
    ),
]
FormatOption = Annotated[
    str | None,
    _global(
        "--format",
        metavar="FORMAT",
        help="json, yaml, table(COL,...), value(COL,...), csv(COL,...), flattened or none.",
    ),
]
QuietOption = Annotated[
    bool, _global("--quiet", "-q", metavar=None, help="Disable prompts and proceed.")
]
VerbosityOption = Annotated[
    str | None,
    _global(
        "--verbosity",
        metavar="LEVEL",
        help="debug, info, warning (default), error, critical or none.",
    ),
]


# -- list command flags -----------------------------------------------------------------------

FilterOption = Annotated[
    str | None,
    typer.Option(
        "--filter",
        metavar="EXPRESSION",
        help="Only list resources for which EXPRESSION is true, e.g. 'state=PAUSED', "
        "'name:emails', 'NOT state=RUNNING AND retryConfig.maxAttempts<5'.",
        rich_help_panel=LIST_PANEL,
        show_default=False,
    ),
]
LimitOption = Annotated[
    str | None,
    typer.Option(
        "--limit",
        metavar="LIMIT",
        help="Maximum number of resources to list (a number or unlimited; applied last).",
        rich_help_panel=LIST_PANEL,
        show_default=False,
    ),
]
PageSizeOption = Annotated[
    str | None,
    typer.Option(
        "--page-size",
        metavar="PAGE_SIZE",
        help="Number of resources the server returns per page.",
        rich_help_panel=LIST_PANEL,
        show_default=False,
    ),
]
SortByOption = Annotated[
    list[str] | None,
    typer.Option(
        "--sort-by",
        metavar="FIELD,...",
        help="Sort by these fields (camelCase keys); prefix a field with ~ to sort descending.",
        rich_help_panel=LIST_PANEL,
        show_default=False,
    ),
]
UriOption = Annotated[
    bool,
    typer.Option(
        "--uri",
        help="Print a list of resource URIs instead of the default output.",
        rich_help_panel=LIST_PANEL,
        show_default=False,
    ),
]

# -- resource arguments -----------------------------------------------------------------------

QueueArgument = Annotated[
    str,
    typer.Argument(
        metavar="QUEUE",
        help="Queue ID (with --location/--project) or full name "
        "projects/PROJECT/locations/LOCATION/queues/QUEUE.",
        show_default=False,
    ),
]
QueueOption = Annotated[
    str | None,
    typer.Option(
        "--queue",
        metavar="QUEUE",
        help="The queue: an ID (with --location/--project) or "
        "projects/PROJECT/locations/LOCATION/queues/QUEUE.",
        show_default=False,
    ),
]
