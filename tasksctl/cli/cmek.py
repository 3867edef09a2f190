"""``tasksctl cmek-config``: mirrors ``gcloud tasks cmek-config``."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from tasksctl.cli.base import TasksctlTyper
from tasksctl.cli.context import Cli
from tasksctl.errors import UsageError

app = TasksctlTyper(help="Get or change the CMEK (customer-managed encryption key) configuration.")

_FULL_KEY_RE = re.compile(
    r"^projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
    r"/keyRings/(?P<keyring>[^/]+)/cryptoKeys/(?P<key>[^/]+)$"
)
KMS = "KMS key flags"


@app.command("describe")
def describe(cli: Cli) -> None:
    """Show the CMEK configuration of a location (YAML by default)."""
    parent = cli.location_name()
    cli.print_resource(cli.client.get_cmek_config(name=f"{parent}/cmekConfig"))


@app.command("update")
def update(
    cli: Cli,
    kms_key_name: Annotated[
        str | None,
        typer.Option(
            "--kms-key-name",
            metavar="KMS_KEY_NAME",
            rich_help_panel=KMS,
            show_default=False,
            help="Full name projects/P/locations/L/keyRings/R/cryptoKeys/K, or a key ID with "
            "--kms-keyring (and --kms-project).",
        ),
    ] = None,
    kms_keyring: Annotated[
        str | None,
        typer.Option(
            "--kms-keyring",
            metavar="KMS_KEYRING",
            rich_help_panel=KMS,
            show_default=False,
            help="Key ring of the key when --kms-key-name is a key ID.",
        ),
    ] = None,
    kms_project: Annotated[
        str | None,
        typer.Option(
            "--kms-project",
            metavar="KMS_PROJECT",
            rich_help_panel=KMS,
            show_default=False,
            help="Project of the key ring (default: the current project).",
        ),
    ] = None,
    clear_kms_key: Annotated[
        bool,
        typer.Option(
            "--clear-kms-key",
            rich_help_panel=KMS,
            show_default=False,
            help="Turn CMEK off for the location.",
        ),
    ] = False,
) -> None:
    """Enable, change or disable CMEK for the queues and tasks of a location."""
    if clear_kms_key and (kms_key_name or kms_keyring or kms_project):
        raise UsageError(
            "argument --clear-kms-key: At most one of --clear-kms-key | "
            "--kms-key-name can be specified."
        )
    if clear_kms_key:
        parent, key = cli.location_name(), ""
    elif not kms_key_name:
        raise UsageError("Exactly one of (--clear-kms-key | --kms-key-name) must be specified.")
    elif match := _FULL_KEY_RE.match(kms_key_name.strip()):
        key = kms_key_name.strip()
        parent = cli.location_name()
        parent = type(parent)(parent.project, match["location"])
    elif kms_keyring:
        parent = cli.location_name()
        project = kms_project or parent.project
        key = (
            f"projects/{project}/locations/{parent.location}/keyRings/{kms_keyring}"
            f"/cryptoKeys/{kms_key_name.strip()}"
        )
    else:
        raise UsageError(
            "argument --kms-key-name: use the full key name "
            "projects/P/locations/L/keyRings/R/cryptoKeys/K, or add --kms-keyring."
        )
    config = cli.client.update_cmek_config(
        cmek_config={"name": f"{parent}/cmekConfig", "kms_key": key},
        update_mask={"paths": ["kms_key"]},
    )
    cli.out.status(f"Updated Cmek config for KMS key: [{key}].")
    cli.print_resource(config)
