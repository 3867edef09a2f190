"""``engine clock show|advance|set``: the local engine's clock (manual under ``--clock manual``).

Talks to the engine's HTTP side port: ``GET /v1/clock``, ``POST /v1/clock:advance?by=DURATION``
and ``POST /v1/clock:set?time=RFC3339``; the two POSTs return once every attempt that fell due
up to the new time has been made and recorded. Under ``--clock real`` only ``show`` works.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tasksctl.cli.context import Cli
from tasksctl.errors import UsageError

WHAT = "The engine clock"
# A move waits for every attempt it makes; a hanging handler holds it up to its
# dispatch_deadline (real time, 10 minutes by default).
MOVE_TIMEOUT_S = 900.0
CLOCK_FORMAT = "yaml"

DurationArg = Annotated[
    str,
    typer.Argument(
        metavar="DURATION", help="How far to move time: 250ms, 10s, 10m, 2h, 2d, 1d12h."
    ),
]
TimeArg = Annotated[
    str, typer.Argument(metavar="TIME", help="The new time, RFC 3339 (2030-01-01T00:00:00Z).")
]


def _call(cli: Cli, path: str, method: str = "GET", **params: str) -> dict[str, Any]:
    import urllib.parse

    from tasksctl import side_port

    if params:
        path += "?" + urllib.parse.urlencode(params)
    timeout = MOVE_TIMEOUT_S if method == "POST" else side_port.TIMEOUT
    return side_port.call(cli.settings, WHAT, path, method=method, timeout=timeout)


def show(cli: Cli) -> None:
    """Show the engine's clock mode (real or manual) and current time."""
    cli.render(CLOCK_FORMAT).resource(_call(cli, "/v1/clock"))


def advance(cli: Cli, duration: DurationArg) -> None:
    """Move the manual clock forward by DURATION.

    Returns once every attempt due by the new time was made in time order and recorded,
    retries included.
    """
    from tasksctl.engine.spans import parse_span
    from tasksctl.side_port import seconds_text

    try:
        seconds = parse_span(duration)
    except ValueError as exc:
        raise UsageError(f"Invalid value for DURATION: {exc}") from None
    with cli.out.spinner(f"Advancing the engine clock by {duration}"):
        payload = _call(cli, "/v1/clock:advance", "POST", by=seconds_text(seconds))
    cli.render(CLOCK_FORMAT).resource(payload)


def set_(cli: Cli, when: TimeArg) -> None:
    """Move the manual clock forward to TIME.

    Returns once every attempt due by TIME was made in time order and recorded, retries
    included.
    """
    from tasksctl.resources import parse_timestamp

    moment = parse_timestamp(when, "TIME")
    text = moment.isoformat().replace("+00:00", "Z")
    with cli.out.spinner(f"Setting the engine clock to {text}"):
        payload = _call(cli, "/v1/clock:set", "POST", time=text)
    cli.render(CLOCK_FORMAT).resource(payload)


def register(engine_app: Any) -> None:
    """Mount ``clock`` in the ``engine`` group."""
    from tasksctl.cli.base import TasksctlCommand, TasksctlGroup, with_globals

    group = typer.Typer(help="Show or move the local engine's clock (see --clock manual).",
                        no_args_is_help=True)  # fmt: skip
    group.command("show", cls=TasksctlCommand)(with_globals(show, location=False))
    group.command("advance", cls=TasksctlCommand)(with_globals(advance, location=False))
    group.command("set", cls=TasksctlCommand)(with_globals(set_, location=False))
    engine_app.add_typer(group, name="clock", cls=TasksctlGroup)
