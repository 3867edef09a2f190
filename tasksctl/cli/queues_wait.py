"""``queues wait-empty QUEUE``: a CI primitive that waits until a queue holds no tasks.

A task leaves its queue when it is delivered (2xx), when its retries run out, or when it is
deleted, so "empty" means every task was dealt with. The command polls ``ListTasks`` (one task
per page off a terminal: it only needs to know whether any is left) and, on a terminal, shows
a spinner with the number still queued. Exit 0 once empty; exit 1 with one line when
``--timeout`` passes.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

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
    shown = cli.out.interactive
    with cli.out.spinner(f"Waiting for [{name.short}] to empty") as update:
        while True:
            left = _count(cli, name, COUNT_PAGE if shown else 1)
            if left == 0:
                break
            remaining = max(0.0, deadline - time.monotonic())
            update(
                f"Waiting for [{name.short}] to empty: {_tasks(left)} left ({remaining:.0f}s to go)"
            )
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


def register(app: TasksctlTyper) -> None:
    """Add ``wait-empty`` to the ``queues`` group."""
    app.command("wait-empty")(wait_empty)
