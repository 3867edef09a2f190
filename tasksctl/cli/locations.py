"""``tasksctl locations``: mirrors ``gcloud tasks locations``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import typer

from tasksctl.cli.base import TasksctlTyper
from tasksctl.cli.context import Cli
from tasksctl.errors import UsageError
from tasksctl.render import ListFlags, message_to_dict

app = TasksctlTyper(location=False, help="Get information about Cloud Tasks locations.")

LIST_FORMAT = 'table(locationId:label="NAME", name:label="FULL_NAME")'


def _pages(cli: Cli, project: str, page_size: int | None) -> Iterator[dict[str, Any]]:
    token = ""
    while True:
        response = cli.client.list_locations(
            request={
                "name": f"projects/{project}",
                "page_size": page_size or 0,
                "page_token": token,
            }
        )
        for location in response.locations:
            yield message_to_dict(location)
        token = response.next_page_token
        if not token:
            return


@app.command("list")
def list_(cli: Cli, flags: ListFlags) -> None:
    """List the locations where Cloud Tasks is available."""
    project = cli.settings.project
    cli.render(LIST_FORMAT).resources(_pages(cli, project, flags.page_size), flags)


@app.command("describe")
def describe(
    cli: Cli,
    location: Annotated[
        str,
        typer.Argument(
            metavar="LOCATION",
            show_default=False,
            help="Location ID (e.g. us-central1) or projects/PROJECT/locations/LOCATION.",
        ),
    ],
) -> None:
    """Show details about a location."""
    from tasksctl.resources import LOCATION_ID_RE, parse_location_name

    if "/" in location:
        name = str(parse_location_name(location, "LOCATION"))
    elif LOCATION_ID_RE.match(location):
        name = f"projects/{cli.settings.project}/locations/{location}"
    else:
        raise UsageError(f"Invalid location [{location}]: use a region such as us-central1.")
    cli.print_resource(cli.client.get_location(request={"name": name}))
