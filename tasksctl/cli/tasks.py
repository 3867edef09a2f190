"""``tasksctl tasks``: gcloud's task commands (GA) plus bulk import, bulk delete and ``failed``.

The verbs that create tasks live in :mod:`tasksctl.cli.tasks_create`, ``import`` in
:mod:`tasksctl.cli.tasks_import`; this module holds the group and the inspect/act verbs:
``list``, ``describe``, ``run``, ``delete`` and ``failed``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tasksctl.cli import tasks_create, tasks_import
from tasksctl.cli.base import TasksctlTyper
from tasksctl.cli.context import Cli
from tasksctl.cli.options import QueueOption
from tasksctl.errors import TasksctlError, UsageError
from tasksctl.render import ListFlags

if TYPE_CHECKING:
    from tasksctl.resources import QueueName

app = TasksctlTyper(help="Create, inspect, run, import and delete Cloud Tasks tasks.")
tasks_create.register(app)
tasks_import.register(app)

# gcloud's `tasks list` format (command_lib/tasks/list_formats.py); TYPE is gcloud's tasktype()
# transform spelled with yesno(): v2 tasks are HTTP (they have a URL) or App Engine.
LIST_FORMAT = (
    'table(name.basename():label="TASK_NAME",'
    'httpRequest.url.yesno(yes="http", no="app-engine"):label="TYPE",'
    "createTime,"
    "scheduleTime,"
    'dispatchCount.yesno(no="0"):label="DISPATCH_ATTEMPTS",'
    'responseCount.yesno(no="0"):label="RESPONSE_ATTEMPTS",'
    'lastAttempt.responseStatus.message.yesno(no="Unknown"):label="LAST_ATTEMPT_STATUS")'
)
FAILED_FORMAT = (
    'table(task:label="TASK_NAME", attempt:label="ATTEMPT", time:label="TIME", '
    'status.yesno(no="-"):label="STATUS", latency_ms:label="LATENCY_MS", error:label="ERROR")'
)
# Tasks per ListTasks call when --page-size is not given. gcloud asks for 25; the output is the
# same whatever the page size, and 25 made listing 50,000 tasks cost 2,000 round trips (issue 14).
DEFAULT_PAGE_SIZE = 1000
LIST_PAGE = 1000  # the API's maximum, for delete --all/--filter
DELETE_BATCH = 1000  # BatchDeleteTasks' limit
SHOW_EACH = 10  # up to this many deletions get a line each, more get a summary

VIEWS = {"basic": 1, "full": 2, "view-unspecified": 0}

TaskArgument = Annotated[
    str,
    typer.Argument(
        metavar="TASK",
        show_default=False,
        help="Task ID (with --queue) or projects/PROJECT/locations/LOCATION/queues/QUEUE/tasks/ID.",
    ),
]
ResponseViewOption = Annotated[
    str,
    typer.Option(
        "--response-view",
        metavar="RESPONSE_VIEW",
        help="basic (without body and headers) or full (needs cloudtasks.tasks.fullView on "
        "Cloud Tasks).",
    ),
]


def response_view(text: str) -> int:
    value = text.strip().lower()
    if value not in VIEWS:
        raise UsageError(
            f"argument --response-view: Invalid choice: '{text}'.\n\n"
            "Valid choices are [basic, full, view-unspecified]."
        )
    return VIEWS[value]


def require_queue(queue: str | None) -> str:
    if not queue:
        raise UsageError("argument --queue: Must be specified.")
    return queue


def list_tasks(cli: Cli, queue: QueueName, page_size: int, view: int = 1) -> Iterator[Any]:
    """Every task of ``queue`` (the client's pager fetches the pages)."""
    pager = cli.client.list_tasks(
        request={"parent": str(queue), "page_size": page_size, "response_view": view}
    )
    return iter(pager)


@app.command("list")
def list_(
    cli: Cli,
    flags: ListFlags,
    queue: QueueOption = None,
    view: ResponseViewOption = "basic",
) -> None:
    """List the tasks of a queue, in schedule order."""
    from tasksctl.render import message_to_dict

    chosen = response_view(view)
    name = cli.queue_name(require_queue(queue))
    items = list_tasks(cli, name, flags.page_size or DEFAULT_PAGE_SIZE, chosen)
    cli.render(LIST_FORMAT).resources((message_to_dict(t) for t in items), flags)


@app.command("describe")
def describe(
    cli: Cli, task: TaskArgument, queue: QueueOption = None, view: ResponseViewOption = "basic"
) -> None:
    """Show a task (YAML by default; --response-view full adds its body and headers)."""
    chosen = response_view(view)
    name = cli.task_name(task, queue)
    cli.print_resource(cli.client.get_task(request={"name": str(name), "response_view": chosen}))


@app.command("run")
def run(cli: Cli, task: TaskArgument, queue: QueueOption = None) -> None:
    """Dispatch a task now, even on a paused queue; prints the task."""
    name = cli.task_name(task, queue)
    cli.print_resource(cli.client.run_task(request={"name": str(name)}))


@app.command("delete")
def delete(
    cli: Cli,
    tasks: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="TASK",
            show_default=False,
            help="Task IDs (with --queue) or full task names.",
        ),
    ] = None,
    queue: QueueOption = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Delete every task of --queue (asks first).")
    ] = False,
    filter_: Annotated[
        str | None,
        typer.Option(
            "--filter",
            metavar="EXPRESSION",
            show_default=False,
            help="Delete the tasks of --queue that match, e.g. 'dispatchCount>3' or "
            "'httpRequest.url:example.com' (fields as `tasks list --format json` shows them; "
            "asks first).",
        ),
    ] = None,
) -> None:
    """Delete tasks: the ones named, or --all / --filter of a queue (BatchDeleteTasks).

    Named tasks are deleted without a prompt, as gcloud does; --all and --filter list the
    queue first and ask for confirmation unless --quiet.
    """
    from tasksctl.resources import TaskName

    if tasks and (all_ or filter_):
        raise UsageError("argument TASK: At most one of TASK | --all | --filter can be specified.")
    if all_ and filter_:
        raise UsageError("argument --all: At most one of --all | --filter can be specified.")
    if not tasks and not (all_ or filter_):
        raise UsageError("Name the tasks to delete, or use --queue with --all or --filter.")
    if tasks:
        names = [cli.task_name(task, queue) for task in tasks]
        if len(names) == 1:
            cli.client.delete_task(request={"name": str(names[0])})
            cli.out.status(f"Deleted task [{names[0].task}].")
            cli.render("none").nothing()
            return
    else:
        parent = cli.queue_name(require_queue(queue))
        names = _select(cli, parent, filter_)
        if not names:
            cli.out.status(f"No tasks to delete in [{parent.short}].")
            return
        what = "all" if all_ else "the"
        suffix = "" if all_ else " that match the filter"
        cli.out.confirm(
            f"You are about to delete {what} {len(names)} task(s) of [{parent.short}]{suffix}. "
            "Do you want to continue"
        )
    by_queue: dict[QueueName, list[TaskName]] = {}
    for name in names:
        by_queue.setdefault(name.parent, []).append(name)
    failed: dict[str, str] = {}
    for parent, members in by_queue.items():
        failed.update(delete_many(cli, parent, [str(n) for n in members]))
    gone: set[str] = set()
    if not tasks:  # listed a moment ago: a task delivered since then is not a failure
        gone = {name for name, error in failed.items() if error.startswith("NOT_FOUND")}
        failed = {name: error for name, error in failed.items() if name not in gone}
    deleted = [n for n in names if str(n) not in failed and str(n) not in gone]
    if len(names) <= SHOW_EACH:
        for name in deleted:
            cli.out.status(f"Deleted task [{name.task}].")
    elif deleted:
        where = ", ".join(f"[{q.short}]" for q in by_queue)
        cli.out.status(f"Deleted {len(deleted)} tasks from {where}.")
    if gone:
        cli.out.status(f"{len(gone)} listed task(s) had already left the queue.")
    for name in names:
        if str(name) in failed:
            cli.out.warning(f"Task [{name.task}] was not deleted: {failed[str(name)]}")
    if failed:
        raise TasksctlError(f"{len(failed)} of {len(names)} tasks were not deleted.")


def _select(cli: Cli, parent: QueueName, expression: str | None) -> list[Any]:
    """The tasks of ``parent`` (all, or those matching ``expression``) as TaskNames."""
    from tasksctl.render import message_to_dict, select
    from tasksctl.resources import parse_task_name

    items: Iterator[dict[str, Any]] = (
        message_to_dict(t) for t in list_tasks(cli, parent, LIST_PAGE)
    )
    if expression:
        items = iter(select(items, ListFlags(filter=expression)))
    return [parse_task_name(item["name"]) for item in items]


def delete_many(cli: Cli, parent: QueueName, names: list[str]) -> dict[str, str]:
    """Delete ``names`` (all in ``parent``) with BatchDeleteTasks, or DeleteTask calls when
    the backend does not serve batches; returns ``{name: error}`` for the ones that failed."""
    from google.api_core import exceptions as core_exceptions

    from tasksctl.import_send import code_name

    failed: dict[str, str] = {}
    for start in range(0, len(names), DELETE_BATCH):
        chunk = names[start : start + DELETE_BATCH]
        try:
            operation = cli.client.batch_delete_tasks(
                request={"parent": str(parent), "names": chunk}
            )
        except core_exceptions.MethodNotImplemented:
            failed.update(_delete_each(cli, names[start:]))
            break
        try:
            operation.result(timeout=300)
        except core_exceptions.GoogleAPICallError:
            pass  # every request failed: the metadata says why
        metadata = operation.metadata
        for index, status in metadata.failed_requests.items() if metadata else ():
            failed[chunk[index]] = f"{code_name(status.code)}: {status.message}"
    return failed


def _delete_each(cli: Cli, names: list[str]) -> dict[str, str]:
    from concurrent.futures import ThreadPoolExecutor

    from google.api_core import exceptions as core_exceptions

    from tasksctl.import_send import describe_error

    def one(name: str) -> tuple[str, str | None]:
        try:
            cli.client.delete_task(request={"name": name})
        except core_exceptions.GoogleAPICallError as exc:
            return name, describe_error(exc)
        return name, None

    with ThreadPoolExecutor(max_workers=16) as pool:
        return {name: error for name, error in pool.map(one, names) if error is not None}


@app.command("failed")
def failed(cli: Cli, flags: ListFlags, queue: QueueOption = None) -> None:
    """Tasks of a queue whose retries ran out, one line per attempt (local engine only).

    Reads the local engine's record (each attempt's time, HTTP status, latency and error).
    Cloud Tasks keeps no such record: there, failed attempts are in Cloud Logging.
    """
    from urllib.parse import quote

    from tasksctl import side_port

    what = "`tasks failed`"
    side_port.base_url(cli.settings, what, side_port.CLOUD_LOGGING_HINT)
    name = cli.queue_name(require_queue(queue))
    payload = side_port.call(
        cli.settings,
        what,
        f"/v1/failed?queue={quote(str(name), safe='')}",
        hint=side_port.CLOUD_LOGGING_HINT,
    )
    cli.render(FAILED_FORMAT).resources(failed_rows(payload), flags)


def failed_rows(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per attempt, each carrying its task's fields (the side port's JSON)."""
    rows: list[dict[str, Any]] = []
    for task in payload.get("tasks") or []:
        common = {
            "name": task.get("name"),
            "task": str(task.get("name") or "").rsplit("/", 1)[-1],
            "url": task.get("url"),
            "method": task.get("method"),
            "gave_up_at": task.get("gave_up_at"),
            "dispatch_count": task.get("dispatch_count"),
        }
        attempts = task.get("attempts") or [{}]
        for number, attempt in enumerate(attempts, start=1):
            latency = attempt.get("latency_ms")
            rows.append(
                {
                    **common,
                    "attempt": number if attempt else None,
                    "time": attempt.get("time"),
                    "status": attempt.get("status"),
                    "latency_ms": round(float(latency), 1) if latency is not None else None,
                    "error": attempt.get("error"),
                    "response_head": attempt.get("response_head"),
                }
            )
    return rows
