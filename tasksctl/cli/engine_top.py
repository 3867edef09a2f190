"""``engine top``: a live dashboard of the local engine's queues (``q`` or Ctrl-C quits).

Every ``--interval`` it reads ``GET /v1/stats`` from the engine's HTTP side port (the URL the
settings resolve, as for ``tasks failed``) and redraws :func:`tasksctl.dashboard.render` with
``rich.live.Live`` on stdout. Keys are read one at a time with the terminal in cbreak mode
(``tty.setcbreak`` + ``select``), and the terminal is restored however the loop ends. When
stdout is not a terminal, or with ``--once``, it prints one table and exits.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from tasksctl.cli.context import Cli
from tasksctl.errors import TasksctlError, UsageError

if TYPE_CHECKING:
    from rich.console import Console

WHAT = "`engine top`"
STATS_PATH = "/v1/stats"
MIN_INTERVAL = 0.1
QUIT_KEYS = frozenset("qQ")
PIPE_WIDTH = 200  # a table sent to a pipe or file is not squeezed into 80 columns

IntervalOpt = Annotated[
    str,
    typer.Option("--interval", metavar="DURATION", help="How often to refresh, e.g. 1s or 500ms."),
]
OnceOpt = Annotated[
    bool,
    typer.Option("--once", help="Print one table and exit (the default when stdout is piped)."),
]


def _isatty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def parse_interval(text: str) -> float:
    """``--interval`` in seconds; at least 100 ms so the engine is not polled in a busy loop."""
    from tasksctl.resources import parse_duration

    seconds = parse_duration(text, "--interval")
    if seconds < MIN_INTERVAL:
        raise UsageError(f"Invalid value for --interval: {text!r} is shorter than 100ms.")
    return seconds


def make_console(stream: TextIO) -> Console:
    """A rich console on ``stream``; wide when it is not a terminal (rich honours NO_COLOR)."""
    from rich.console import Console

    width = None
    if not _isatty(stream):
        columns = os.environ.get("COLUMNS", "")
        width = int(columns) if columns.isdigit() and int(columns) > 0 else PIPE_WIDTH
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


@contextlib.contextmanager
def cbreak_keys(stream: TextIO) -> Iterator[Callable[[float], str]]:
    """Yield ``wait(seconds) -> key`` reading single keys from ``stream`` in cbreak mode.

    ``wait`` returns the first key pressed within ``seconds`` ("" when none). Cbreak keeps
    ISIG, so Ctrl-C still raises KeyboardInterrupt. The terminal settings are put back on exit,
    whatever ended the loop. Without a terminal on ``stream`` it just sleeps.
    """
    if not _isatty(stream):
        yield _sleep
        return
    import select
    import termios
    import tty

    fd = stream.fileno()
    saved = termios.tcgetattr(fd)

    def wait(seconds: float) -> str:
        ready, _, _ = select.select([fd], [], [], max(seconds, 0.0))
        if not ready:
            return ""
        return os.read(fd, 1).decode("utf-8", "replace")

    try:
        tty.setcbreak(fd, termios.TCSANOW)
        yield wait
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _sleep(seconds: float) -> str:
    time.sleep(max(seconds, 0.0))
    return ""


def fetch(cli: Cli) -> dict[str, Any]:
    """One ``/v1/stats`` answer (one-line errors: cloud backend, engine not answering)."""
    from tasksctl import side_port

    return side_port.call(cli.settings, WHAT, STATS_PATH)


def top(cli: Cli, interval: IntervalOpt = "1s", once: OnceOpt = False) -> None:
    """Live dashboard of the local engine: per queue its state, backlog, due tasks, in flight
    against the cap, dispatch rate against the limit, successes, retries and failures per
    second, and latency p50/p99. Press q or Ctrl-C to quit. Prints one table and exits with
    --once or when stdout is not a terminal; with --format, one record per queue."""
    from tasksctl import side_port

    seconds = parse_interval(interval)
    side_port.base_url(cli.settings, WHAT)  # the cloud backend: one line, before any request
    stats = fetch(cli)  # an engine that does not answer fails here, exit 1
    if cli.flags.format:  # for scripts: one record per queue, e.g. --format "value(name,due)"
        from tasksctl.dashboard import queues_of

        cli.render("json").resources([dict(q) for q in queues_of(stats)])
        return
    console = make_console(cli.out.stdout)
    if once or not _isatty(cli.out.stdout):
        from tasksctl.dashboard import render

        console.print(render(stats))
        return
    run_live(cli, console, stats, seconds)


def run_live(cli: Cli, console: Console, stats: dict[str, Any], seconds: float) -> None:
    """Redraw every ``seconds`` until q or Ctrl-C; a failed fetch keeps the last figures and
    says so in red, and the next good one clears it."""
    from rich.live import Live

    from tasksctl.dashboard import render

    footer = f"q: quit · refresh every {seconds:g}s"
    problem: str | None = None
    with contextlib.suppress(KeyboardInterrupt), cbreak_keys(cli.out.stdin) as wait:
        with Live(
            render(stats, footer=footer),
            console=console,
            auto_refresh=False,
            redirect_stdout=False,
            redirect_stderr=False,
        ) as live:
            next_at = time.monotonic() + seconds
            while True:
                key = wait(next_at - time.monotonic())
                if key in QUIT_KEYS:
                    break
                if time.monotonic() < next_at:
                    continue  # another key: keep waiting for the refresh
                next_at = time.monotonic() + seconds
                try:
                    stats, problem = fetch(cli), None
                except TasksctlError as err:
                    problem = f"{err.message} (showing the last figures; retrying)"
                live.update(render(stats, footer=footer, problem=problem), refresh=True)


def register(app: Any) -> None:
    """Add ``top`` to the ``engine`` group (a ``TasksctlTyper``: it adds the global flags)."""
    app.command("top")(top)
