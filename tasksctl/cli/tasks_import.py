"""``tasks import --queue Q FILE``: many tasks from JSON Lines, JSON, CSV or YAML.

Rows are checked first (row errors name the row and the field); the valid ones are sent with
``BatchCreateTasks`` (100 per call, a few calls at a time) or, where the backend does not serve
it, with concurrent ``CreateTask`` calls (:mod:`tasksctl.import_send`). A progress bar is drawn
on stderr when stderr is a terminal. The summary (created, already existed, failed) goes to
stderr; with ``--format`` it is also printed on stdout as a resource.

Exit code: 0 when every row was created or already existed, 1 when any row failed (those rows
are in the rejects file, which ``tasks import`` reads back), 2 when the file or flags are
unusable as a whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tasksctl.cli.context import Cli
from tasksctl.cli.options import QueueOption
from tasksctl.errors import TasksctlError, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from tasksctl.cli.base import TasksctlTyper
    from tasksctl.import_send import Outcome

SHOW_ERRORS = 10  # row errors printed on stderr; all of them are in the rejects file


def import_tasks(
    cli: Cli,
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE",
            show_default=False,
            help="Tasks to create, one per row: .jsonl/.ndjson, .json, .csv, .yaml/.yml, or - "
            "for stdin (with --input-format).",
        ),
    ],
    queue: QueueOption = None,
    input_format: Annotated[
        str | None,
        typer.Option(
            "--input-format",
            metavar="FORMAT",
            show_default=False,
            help="jsonl, json, csv or yaml (default: from the file's extension).",
        ),
    ] = None,
    rejects: Annotated[
        str | None,
        typer.Option(
            "--rejects",
            metavar="PATH",
            show_default=False,
            help="Where failed rows go, with an error column, in the input's format "
            "[default: FILE with .rejects before its extension].",
        ),
    ] = None,
    dedup_content: Annotated[
        bool,
        typer.Option(
            "--dedup-content",
            help="Name rows without task_id/dedup_key by their content (method, URL, headers, "
            "body), so importing the same file twice creates nothing new.",
        ),
    ] = False,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            metavar="N",
            help="BatchCreateTasks calls in flight at once (1-32); without batches, 8 times "
            "as many CreateTask calls (at most 64).",
        ),
    ] = 4,
) -> None:
    """Create many tasks from a file (BatchCreateTasks; concurrent creates where unsupported).

    Row fields: url (required), method, headers, body | body_base64, schedule_time |
    schedule_delay, dispatch_deadline, task_id | dedup_key, oidc_service_account_email,
    oidc_token_audience, oauth_service_account_email, oauth_token_scope. Exit 1 when any row
    failed; those rows are written to the rejects file, which can be imported again.
    """
    from tasksctl.cli.tasks import require_queue  # not at the top: tasks imports this module
    from tasksctl.importer import default_rejects_path, detect_format, read_table, row_to_input
    from tasksctl.resources import utcnow
    from tasksctl.task_flags import TaskInput

    if not 1 <= concurrency <= 32:
        raise UsageError(f"argument --concurrency: must be 1 to 32; received: {concurrency}")
    fmt = detect_format(file, input_format)
    parent = cli.queue_name(require_queue(queue))
    table = read_table(file, fmt)
    rejects_path = Path(rejects) if rejects else default_rejects_path(file, fmt)
    now = utcnow()
    valid: list[tuple[int, TaskInput]] = []
    errors: dict[int, str] = {}
    for index, row in enumerate(table.rows):
        try:
            valid.append((index, row_to_input(row, now, dedup_content)))
        except UsageError as exc:
            errors[index] = exc.message
    if not table.rows:
        cli.out.status(f"No tasks to import in [{file}].")
        return
    outcomes: dict[int, Outcome] = {}
    if valid:
        cli.client.get_queue(request={"name": str(parent)})  # a missing queue: one clear error
        results = _send(cli, str(parent), [task for _, task in valid], concurrency)
        outcomes = {index: result for (index, _), result in zip(valid, results, strict=True)}
    _report(cli, file, parent.short, table, errors, outcomes, rejects_path)


def _send(cli: Cli, queue: str, tasks: list[Any], concurrency: int) -> list[Outcome]:
    from tasksctl.import_send import Sender

    with _progress(cli, len(tasks)) as advance:
        sender = Sender(cli.client, queue, concurrency=concurrency, progress=advance)
        outcomes = sender.run(tasks)
    if not sender.batch_supported:
        cli.out.info("The backend does not serve BatchCreateTasks; used concurrent CreateTask.")
    return outcomes


class _NoProgress:
    def __enter__(self) -> Callable[[int], None]:
        return lambda n: None

    def __exit__(self, *exc: object) -> None:
        return None


class _Bar:
    """A rich progress bar on stderr (only used when stderr is a terminal)."""

    def __init__(self, stream: Any, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self.progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(file=stream),
            transient=True,
        )
        self.task = self.progress.add_task("Importing", total=total)

    def __enter__(self) -> Callable[[int], None]:
        self.progress.start()
        return lambda n: self.progress.advance(self.task, n)

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


def _progress(cli: Cli, total: int) -> Any:
    isatty = getattr(cli.out.stderr, "isatty", None)
    if total < 1 or not (isatty and isatty()) or cli.out.verbosity == "none":
        return _NoProgress()
    return _Bar(cli.out.stderr, total)


def _report(
    cli: Cli,
    file: str,
    queue: str,
    table: Any,
    errors: dict[int, str],
    outcomes: dict[int, Outcome],
    rejects_path: Path,
) -> None:
    from tasksctl.import_send import CREATED, EXISTED
    from tasksctl.importer import write_rejects

    created = sum(1 for o in outcomes.values() if o.status == CREATED)
    existed = sum(1 for o in outcomes.values() if o.status == EXISTED)
    rejected = []
    for index, row in enumerate(table.rows):
        outcome = outcomes.get(index)
        if index not in errors and outcome is not None and outcome.status not in (CREATED, EXISTED):
            errors[index] = outcome.message
        if index in errors:
            rejected.append((row, errors[index]))
    shown = [f"{table.rows[i].ref}: {errors[i]}" for i in sorted(errors)][:SHOW_ERRORS]
    for line in shown:
        cli.out.warning(line)
    if len(errors) > len(shown):
        cli.out.warning(f"... and {len(errors) - len(shown)} more failed rows.")
    cli.out.status(
        f"Imported [{file}] into [{queue}]: created {created}, already existed {existed}, "
        f"failed {len(rejected)}."
    )
    if rejected:
        write_rejects(rejects_path, table, rejected)
        cli.out.status(f"Wrote {len(rejected)} failed rows to [{rejects_path}].")
    if cli.flags.format:
        summary = {
            "file": file,
            "queue": queue,
            "created": created,
            "alreadyExisted": existed,
            "failed": len(rejected),
            "rejects": str(rejects_path) if rejected else None,
        }
        cli.render("none").resource(summary)
    if rejected:
        raise TasksctlError(
            f"{len(rejected)} of {len(table.rows)} rows failed; fix them in [{rejects_path}] "
            "and import that file again."
        )


def register(app: TasksctlTyper) -> None:
    """Add ``import`` to the ``tasks`` group."""
    app.command("import")(import_tasks)
