"""``tasksctl config``: store settings in the config file, like ``gcloud config``.

The file is ``config.toml`` in ``$TASKSCTL_CONFIG_DIR`` or ``$XDG_CONFIG_HOME/tasksctl``
(``~/.config/tasksctl``). Precedence when a command runs: flag > environment > this file >
default.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tasksctl.cli.base import TasksctlTyper
from tasksctl.cli.context import Cli
from tasksctl.settings import (
    PROPERTIES,
    Flags,
    config_path,
    load_config,
    resolve,
    save_config,
    validate_property,
)

app = TasksctlTyper(
    location=False,
    help="View and edit tasksctl settings (project, location, backend, endpoint, engine, ...).",
)

KeyArgument = Annotated[
    str, typer.Argument(metavar="KEY", show_default=False, help=f"One of: {', '.join(PROPERTIES)}.")
]


def _effective(cli: Cli) -> dict[str, tuple[Any, str]]:
    """Every property's effective value and where it came from."""
    settings = resolve(_flags(cli))
    values: dict[str, Any] = {
        "project": settings.project_value,
        "location": settings.location_value,
        "backend": settings.backend,
        "endpoint": settings.endpoint,
        "engine_host": settings.engine_host,
        "engine_port": settings.engine_port,
        "engine_http_port": settings.engine_http_port,
        "data_dir": str(settings.data_dir),
        "autostart": settings.autostart,
    }
    return {key: (values[key], settings.sources.get(key, "default")) for key in PROPERTIES}


def _flags(cli: Cli) -> Flags:
    f = cli.flags
    return Flags(f.project, f.location, f.backend, f.endpoint)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@app.command("set")
def set_(
    cli: Cli,
    key: KeyArgument,
    value: Annotated[str, typer.Argument(metavar="VALUE", show_default=False)],
) -> None:
    """Set KEY to VALUE in the config file."""
    parsed = validate_property(key, value)
    config = load_config()
    config[key] = parsed
    save_config(config)
    cli.out.status(f"Updated property [{key}].")


@app.command("get")
def get(cli: Cli, key: KeyArgument) -> None:
    """Print the value of KEY that commands would use (flag > environment > file > default)."""
    validate_property_name(key)
    value, source = _effective(cli)[key]
    if value is None:
        cli.out.status("(unset)")
        return
    cli.out.data(_text(value))
    cli.out.info(f"[{key}] comes from {source}.")


@app.command("list")
def list_(
    cli: Cli,
    all_: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Show every property with its effective value and its source.",
            show_default=False,
        ),
    ] = False,
) -> None:
    """List the properties set in the config file."""
    if all_:
        effective = _effective(cli)
        data = {key: value for key, (value, _) in effective.items()}
        if cli.flags.format:
            cli.render("json").resource(data)
            return
        width = max(len(k) for k in effective)
        cli.out.data(
            "\n".join(
                f"{key.ljust(width)} = {'(unset)' if value is None else _text(value)}  [{source}]"
                for key, (value, source) in effective.items()
            )
        )
        return
    config = load_config()
    if cli.flags.format:
        cli.render("json").resource(config)
        return
    if not config:
        cli.out.status(f"No properties are set in {config_path()}.")
        return
    cli.out.data("\n".join(f"{key} = {_text(config[key])}" for key in sorted(config)))


@app.command("unset")
def unset(cli: Cli, key: KeyArgument) -> None:
    """Remove KEY from the config file."""
    validate_property_name(key)
    config = load_config()
    config.pop(key, None)
    save_config(config)
    cli.out.status(f"Unset property [{key}].")


def validate_property_name(key: str) -> None:
    if key not in PROPERTIES:
        validate_property(key, "")  # raises the unknown-property UsageError
