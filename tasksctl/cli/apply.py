"""``tasksctl apply -f queues.yaml``: make the queues match a file, idempotently (for CI).

Flow: read and validate the whole file (a bad file fails here with one ``file:line: field:
problem`` line, exit 2, before any request and before the engine is autostarted) → ListQueues
in the project/locations the file covers → plan (``tasksctl.declarative``) → with ``--dry-run``
or ``--diff`` print the plan on stdout → with ``--prune`` confirm the deletions → run the RPCs,
one gcloud-style ``Created queue [LOC/Q].`` line per action on stderr → one summary line.

Exit codes: 0 on success. With ``--detailed-exitcode`` (terraform's convention): 0 nothing to
change, 2 changes made (or planned, with ``--dry-run``), 1 any error, including a bad file and a
refused prompt (2 would read as "changed"). Errors in the flags themselves, found before the
command runs, still exit 2.

Project and location for queues that name none come from the CLI settings (``--project``,
``--location``, environment, config file, the local defaults), as for every other command.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tasksctl.cli.context import Cli
from tasksctl.errors import EXIT_ERROR, TasksctlError, UsageError, from_api_exception

if TYPE_CHECKING:
    from tasksctl.cli.base import TasksctlTyper
    from tasksctl.declarative.plan import Action, Plan
    from tasksctl.declarative.spec import QueueFile

EXIT_CHANGED = 2
STDIN_SOURCE = "<stdin>"

PRUNE_PROMPT = (
    "{count} not in {source} will be deleted: [{names}]. Deleted queues can not be re-created "
    "for a duration of up to 7 days. Do you want to continue"
)

FilenameOption = Annotated[
    str | None,
    typer.Option(
        "--filename",
        "-f",
        metavar="FILE",
        help="The queues file: tasksctl queues.yaml or App Engine queue.yaml; - reads stdin.",
        show_default=False,
    ),
]
DryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="Print the plan (on stdout) and change nothing."),
]
DiffOption = Annotated[
    bool,
    typer.Option(
        "--diff",
        help="Print the plan with each field's old and new value and the update masks.",
    ),
]
PruneOption = Annotated[
    bool,
    typer.Option(
        "--prune",
        help="Also delete queues that are not in the file, in the project/locations it covers "
        "(asks for confirmation unless --quiet).",
    ),
]
DetailedOption = Annotated[
    bool,
    typer.Option(
        "--detailed-exitcode",
        help="Exit 0 when nothing changes, 2 when changes were made (or planned with "
        "--dry-run), 1 on any error.",
    ),
]
SchemaOption = Annotated[
    bool,
    typer.Option("--schema", help="Print the JSON Schema of the queues.yaml format and exit."),
]


def apply(
    cli: Cli,
    filename: FilenameOption = None,
    dry_run: DryRunOption = False,
    diff: DiffOption = False,
    prune: PruneOption = False,
    detailed_exitcode: DetailedOption = False,
    schema: SchemaOption = False,
) -> None:
    """Make the queues match a queues.yaml file (create, update, and delete with --prune).

    A second run with the same file changes nothing and says so. The file lists queues with
    the settings of `queues create` (rate limits, retry config, logging, routing and HTTP
    overrides, state running|paused); settings it leaves out mean the service defaults. Print
    its JSON Schema with --schema.
    """
    if schema:
        from tasksctl.declarative.schema import json_schema

        cli.out.data(json.dumps(json_schema(), indent=2))
        return
    if not filename:
        raise UsageError(
            "Missing option '-f' / '--filename': the queues file to apply (- reads stdin), "
            "or --schema."
        )
    try:
        changed = _apply(cli, filename, dry_run=dry_run, diff=diff, prune=prune)
    except Exception as exc:
        if not detailed_exitcode:
            raise
        error = _as_error(exc)
        if error is None:
            raise
        error.exit_code = EXIT_ERROR
        if error is exc:
            raise
        raise error from exc
    if detailed_exitcode and changed:
        raise typer.Exit(EXIT_CHANGED)


def _apply(cli: Cli, filename: str, *, dry_run: bool, diff: bool, prune: bool) -> bool:
    """Load, plan, print, confirm, apply; True when something changed (or would)."""
    from tasksctl.declarative.apply import apply_plan, plan_file
    from tasksctl.declarative.plan import PAST_TENSE
    from tasksctl.declarative.render_plan import render_plan, render_result

    queue_file = _load(cli, filename)
    for warning in queue_file.warnings:
        cli.out.warning(warning)
    plan = plan_file(cli.client, queue_file, prune=prune)
    if not plan.has_changes:
        count = len(queue_file.queues)
        matches = "1 queue matches" if count == 1 else f"{count} queues match"
        cli.out.status(f"No changes: {matches} {queue_file.source}.")
        return False
    label = _labeller(plan)
    if dry_run or diff:
        render_plan(plan, cli.out.console(cli.out.stdout, soft_wrap=True), diff=diff)
    if dry_run:
        cli.out.status("Dry run: nothing was changed.")
        return True
    _confirm_deletes(cli, plan, queue_file, label)

    def report(action: Action) -> None:
        cli.out.status(f"{PAST_TENSE[action.kind]} queue [{label(action)}].")
        if action.kind == "update":
            cli.out.debug(f"update_mask [{label(action)}]: {','.join(action.update_mask)}")

    result = apply_plan(cli.client, plan, on_action=report)
    render_result(result, cli.out.console(cli.out.stderr, soft_wrap=True))
    return result.changed


def _load(cli: Cli, filename: str) -> QueueFile:
    from tasksctl.declarative.spec import load_file, load_text

    settings = cli.settings
    project, location = settings.project_value, settings.location_value
    if filename == "-":
        from tasksctl.bounded_input import QUEUE_FILE_MAX_BYTES, read_text

        text = read_text("-", QUEUE_FILE_MAX_BYTES, "queues file", cli.out.stdin)
        return load_text(text, STDIN_SOURCE, project, location)
    return load_file(filename, project, location)


def _confirm_deletes(cli: Cli, plan: Plan, queue_file: QueueFile, label: Any) -> None:
    deletes = [action for action in plan.actions if action.kind == "delete"]
    if not deletes:
        return
    names = ", ".join(label(action) for action in deletes)
    count = "1 queue" if len(deletes) == 1 else f"{len(deletes)} queues"
    cli.out.confirm(PRUNE_PROMPT.format(count=count, source=queue_file.source, names=names))


def _labeller(plan: Plan) -> Any:
    """Queues as ``LOC/Q`` like gcloud, or full names when the plan spans several projects."""
    from tasksctl.resources import parse_queue_name

    projects = {parse_queue_name(action.name).project for action in plan.actions}

    def label(action: Action) -> str:
        return action.name if len(projects) > 1 else parse_queue_name(action.name).short

    return label


def _as_error(exc: Exception) -> TasksctlError | None:
    return exc if isinstance(exc, TasksctlError) else from_api_exception(exc)


def register(app: TasksctlTyper) -> None:
    """Add ``apply`` to the root app."""
    app.command("apply")(apply)
