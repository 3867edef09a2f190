"""``queues wait-empty QUEUE``: a CI primitive that waits until a queue holds no tasks.

A task leaves its queue when it is delivered (2xx), when its retries run out, or when it is
deleted, so "empty" means every task was dealt with. The command polls ``ListTasks`` (one task
per page off a terminal: it only needs to know whether any is left) and, on a terminal, shows
a spinner with the number still queued. Exit 0 once empty; exit 1 with one line when
``--timeout`` passes.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tasksctl.cli.context import Cli
from tasksctl.cli.options import QueueArgument
from tasksctl.errors import TasksctlError, UsageError

if TYPE_CHECKING:
    from tasksctl.cli.base import TasksctlTyper
    from tasksctl.resources import QueueName

MIN_INTERVAL = 0.05
COUNT_PAGE = 1000  # the spinner and the timeout message count up to one full page


def wait_empty(
    cli: Cli,
    queue: QueueArgument,
    timeout: Annotated[
        str,
        typer.Option("--timeout", metavar="DURATION", help="Give up after this long (exit 1)."),
    ] = "60s",
    interval: Annotated[
        str,
        typer.Option("--interval", metavar="DURATION", help="Time between two checks."),
    ] = "0.5s",
) -> None:
    """Wait until QUEUE holds no tasks (delivered, given up or deleted); exit 1 on timeout."""
    from tasksctl.resources import parse_duration

    limit = parse_duration(timeout, "--timeout")
    pause = parse_duration(interval, "--interval")
    if pause < MIN_INTERVAL:
        raise UsageError(f"argument --interval: must be at least {MIN_INTERVAL}s.")
    name = cli.queue_name(queue)
    deadline = time.monotonic() + limit
    with _spinner(cli, name) as show:
        while True:
            left = _count(cli, name, COUNT_PAGE if show else 1)
            if left == 0:
                break
            if show:
                show(left, deadline - time.monotonic())
            now = time.monotonic()
            if now >= deadline:
                left = _count(cli, name, COUNT_PAGE)
                raise TasksctlError(
                    f"Timed out after {timeout}: queue [{name.short}] still holds {_tasks(left)}."
                )
            time.sleep(min(pause, max(0.0, deadline - now)))
    cli.out.status(f"Queue [{name.short}] is empty.")


def _count(cli: Cli, queue: QueueName, page_size: int) -> int:
    """Tasks in ``queue``, counted up to one page (``page_size + 1`` means "more")."""
    pager = cli.client.list_tasks(
        request={"parent": str(queue), "page_size": page_size, "response_view": 1}
    )
    page = next(iter(pager.pages))
    count = len(page.tasks)
    return count + 1 if page.next_page_token and count >= page_size else count


def _tasks(count: int) -> str:
    if count > COUNT_PAGE:
        return f"more than {COUNT_PAGE} tasks"
    return "1 task" if count == 1 else f"{count} tasks"


class _Quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


class _Spinner:
    """rich's status spinner on stderr, updated with the count left and the time to go."""

    def __init__(self, stream: Any, queue: QueueName) -> None:
        from rich.console import Console
        from rich.text import Text

        self.queue = queue
        self.text = Text
        self.status = Console(file=stream).status(Text(f"Waiting for [{queue.short}] to empty"))

    def __enter__(self) -> Any:
        self.status.start()

        def show(left: int, remaining: float) -> None:
            self.status.update(
                self.text(
                    f"Waiting for [{self.queue.short}] to empty: {_tasks(left)} left "
                    f"({max(0.0, remaining):.0f}s to go)"
                )
            )

        return show

    def __exit__(self, *exc: object) -> None:
        self.status.stop()


def _spinner(cli: Cli, queue: QueueName) -> Any:
    isatty = getattr(cli.out.stderr, "isatty", None)
    if not (isatty and isatty()) or cli.out.verbosity == "none":
        return _Quiet()
    return _Spinner(cli.out.stderr, queue)


def register(app: TasksctlTyper) -> None:
    """Add ``wait-empty`` to the ``queues`` group."""
    app.command("wait-empty")(wait_empty)
