"""``tasks create-http-task`` and ``tasks create-app-engine-task`` (gcloud's flags, plus
``--schedule-delay``, ``--dispatch-deadline``, ``--dedup-key``, ``--dedup-content`` and
``--if-absent``).

Every flag is checked before a request is made (:mod:`tasksctl.task_flags`). The created task's
full name goes to stdout (so ``name=$(tasksctl tasks create-http-task ...)`` works) and
gcloud's ``Created task [NAME].`` to stderr; with ``--format`` the task itself is printed
instead of the name. A task name that exists or existed recently is refused by the service
(``ALREADY_EXISTS``, exit 3); ``--if-absent`` turns that into success (exit 0).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from tasksctl.cli.context import Cli
from tasksctl.cli.options import QueueOption
from tasksctl.errors import AlreadyExists, UsageError

if TYPE_CHECKING:
    from tasksctl.cli.base import TasksctlTyper
    from tasksctl.resources import QueueName
    from tasksctl.task_flags import TaskInput

BODY = "Body flags"
SCHEDULE = "Scheduling flags"
AUTH = "Authorization flags"
DEDUP = "Naming and dedup flags"


def _opt(flag: str, help: str, metavar: str | None = None, panel: str | None = None) -> Any:
    return typer.Option(flag, help=help, metavar=metavar, rich_help_panel=panel, show_default=False)


TaskIdArgument = Annotated[
    str | None,
    typer.Argument(
        metavar="TASK_ID",
        show_default=False,
        help="Task ID, or a full task name. Without it the service picks a random ID; with it "
        "a second create within the dedup window is refused (ALREADY_EXISTS).",
    ),
]
UrlOption = Annotated[
    str | None, _opt("--url", "Absolute http:// or https:// URL the task is sent to.", "URL")
]
MethodOption = Annotated[
    str | None,
    _opt(
        "--method", "HTTP method: POST (default), GET, HEAD, PUT, DELETE, PATCH, OPTIONS.", "METHOD"
    ),
]
HeaderOption = Annotated[
    list[str] | None,
    _opt("--header", "Header as 'Key: Value'; repeat for several.", "HEADER_FIELD:HEADER_VALUE"),
]
BodyContentOption = Annotated[
    str | None, _opt("--body-content", "Body as text (UTF-8).", "BODY_CONTENT", BODY)
]
BodyFileOption = Annotated[
    str | None,
    _opt("--body-file", "File whose bytes are the body ('-' = stdin; at most 1 MB).", "PATH", BODY),
]
ScheduleTimeOption = Annotated[
    str | None,
    _opt("--schedule-time", "When to send it, RFC 3339 (2030-01-01T12:00:00Z).", "TIME", SCHEDULE),
]
ScheduleDelayOption = Annotated[
    str | None,
    _opt(
        "--schedule-delay",
        "Send it after this delay: 30s, 10m, 24h, 2d (max 30 days).",
        "DURATION",
        SCHEDULE,
    ),
]
DeadlineOption = Annotated[
    str | None,
    _opt(
        "--dispatch-deadline",
        "How long one attempt may take, 15s to 30m (default 10m).",
        "DURATION",
        SCHEDULE,
    ),
]
OidcEmailOption = Annotated[
    str | None,
    _opt(
        "--oidc-service-account-email",
        "Send an OIDC ID token for this service account.",
        "EMAIL",
        AUTH,
    ),
]
OidcAudienceOption = Annotated[
    str | None,
    _opt(
        "--oidc-token-audience", "Audience of the OIDC token (default: the URL).", "AUDIENCE", AUTH
    ),
]
OauthEmailOption = Annotated[
    str | None,
    _opt(
        "--oauth-service-account-email",
        "Send an OAuth access token for this service account (for Google APIs).",
        "EMAIL",
        AUTH,
    ),
]
OauthScopeOption = Annotated[
    str | None,
    _opt(
        "--oauth-token-scope", "Scope of the OAuth token (default cloud-platform).", "SCOPE", AUTH
    ),
]
DedupKeyOption = Annotated[
    str | None,
    _opt(
        "--dedup-key",
        "Derive the task ID from KEY (sha256 first, then a readable part of "
        "KEY): the same key always names the same task.",
        "KEY",
        DEDUP,
    ),
]
DedupContentOption = Annotated[
    bool,
    _opt(
        "--dedup-content", "Derive the task ID from the method, URL, headers and body.", None, DEDUP
    ),
]
IfAbsentOption = Annotated[
    bool,
    _opt(
        "--if-absent",
        "Succeed (exit 0) when a task of that name already exists or existed "
        "recently, instead of failing with exit 3.",
        None,
        DEDUP,
    ),
]
RelativeUriOption = Annotated[
    str | None, _opt("--relative-uri", "Relative URI of the App Engine handler.", "RELATIVE_URI")
]
RoutingOption = Annotated[
    str | None,
    _opt(
        "--routing",
        "App Engine routing: service:SERVICE,version:VERSION,instance:INSTANCE.",
        "KEY:VALUE,...",
    ),
]


def _body(content: str | None, path: str | None) -> tuple[bytes | None, str]:
    from tasksctl.task_flags import read_body_file

    if content is not None and path is not None:
        raise UsageError(
            "argument --body-content: At most one of --body-content | --body-file can be specified."
        )
    if path is not None:
        return read_body_file(path), "body_file"
    return (content.encode("utf-8") if content is not None else None), "body_content"


def _common(
    task: TaskInput,
    method: str | None,
    header: list[str] | None,
    body_content: str | None,
    body_file: str | None,
    schedule_time: str | None,
    schedule_delay: str | None,
) -> None:
    from tasksctl.resources import utcnow
    from tasksctl.task_flags import check_body, check_method, parse_header_items, parse_schedule

    task.method = check_method(method)
    task.headers = parse_header_items(header or [])
    body, body_flag = _body(body_content, body_file)
    task.body = check_body(body, task.method, task.kind, name=body_flag)
    task.schedule_time, task.schedule_delay = parse_schedule(
        schedule_time, schedule_delay, utcnow()
    )


def _queue_and_id(
    cli: Cli,
    task: TaskInput,
    task_id: str | None,
    queue: str | None,
    dedup_key: str | None,
    dedup_content: bool,
) -> QueueName:
    """Resolve the queue and set ``task.task_id`` from TASK_ID or a dedup flag."""
    from tasksctl.task_flags import check_task_id

    given = [
        n
        for n, v in (
            ("TASK_ID", task_id),
            ("--dedup-key", dedup_key),
            ("--dedup-content", dedup_content),
        )
        if v
    ]
    if len(given) > 1:
        raise UsageError(
            f"argument {given[0]}: At most one of TASK_ID | --dedup-key | --dedup-content "
            "can be specified."
        )
    if task_id and "/" in task_id:
        name = cli.task_name(task_id, None)
        parent = cli.queue_name(queue) if queue else name.parent
        if parent != name.parent:
            raise UsageError(
                f"argument TASK_ID: the task [{task_id}] is not in the queue [{parent}]."
            )
        task.task_id = name.task
        return parent
    if not queue:
        raise UsageError("argument --queue: Must be specified.")
    if task_id:
        task.task_id = check_task_id(task_id, lambda _: "argument TASK_ID")
    elif dedup_key is not None:
        from tasksctl.dedup import id_from_key

        task.task_id = id_from_key(dedup_key)
    elif dedup_content:
        task.task_id = task.content_id()
    return cli.queue_name(queue)


def _create(cli: Cli, queue: QueueName, task: TaskInput, if_absent: bool) -> None:
    from google.api_core import exceptions as core_exceptions

    from tasksctl.client import import_tasks_v2
    from tasksctl.resources import utcnow

    tasks_v2 = import_tasks_v2()
    message = task.to_pb(str(queue), utcnow())
    try:
        created = cli.client.create_task(
            request={"parent": str(queue), "task": tasks_v2.Task.wrap(message)}
        )
    except core_exceptions.AlreadyExists as exc:
        name = message.name
        if not if_absent:
            raise AlreadyExists(
                f"{exc.message.rstrip('.')}: task [{name}]; "
                "pass --if-absent to treat an existing task as success."
            ) from None
        cli.out.status(f"Task [{name}] already exists; nothing created.")
        _print_existing(cli, name)
        return
    cli.out.status(f"Created task [{created.name}].")
    if cli.flags.format:
        cli.print_resource(created, default_format="none")
    else:
        cli.out.data(created.name)


def _print_existing(cli: Cli, name: str) -> None:
    """The name on stdout; with --format, the task itself when it still exists."""
    if not cli.flags.format:
        cli.out.data(name)
        return
    from google.api_core import exceptions as core_exceptions

    try:
        existing = cli.client.get_task(request={"name": name})
    except core_exceptions.NotFound:  # it existed recently: only the name is reserved
        return
    cli.print_resource(existing, default_format="none")


def create_http_task(
    cli: Cli,
    task_id: TaskIdArgument = None,
    queue: QueueOption = None,
    url: UrlOption = None,
    method: MethodOption = None,
    header: HeaderOption = None,
    body_content: BodyContentOption = None,
    body_file: BodyFileOption = None,
    schedule_time: ScheduleTimeOption = None,
    schedule_delay: ScheduleDelayOption = None,
    dispatch_deadline: DeadlineOption = None,
    oidc_service_account_email: OidcEmailOption = None,
    oidc_token_audience: OidcAudienceOption = None,
    oauth_service_account_email: OauthEmailOption = None,
    oauth_token_scope: OauthScopeOption = None,
    dedup_key: DedupKeyOption = None,
    dedup_content: DedupContentOption = False,
    if_absent: IfAbsentOption = False,
) -> None:
    """Create an HTTP task; prints its name on stdout (the task itself with --format)."""
    from tasksctl.task_flags import KIND_HTTP, TaskInput, check_auth, check_url, parse_deadline

    if url is None:
        raise UsageError("argument --url: Must be specified.")
    task = TaskInput(kind=KIND_HTTP, url=check_url(url))
    _common(task, method, header, body_content, body_file, schedule_time, schedule_delay)
    task.dispatch_deadline = parse_deadline(dispatch_deadline)
    check_auth(
        {
            "oidc_service_account_email": oidc_service_account_email,
            "oidc_token_audience": oidc_token_audience,
            "oauth_service_account_email": oauth_service_account_email,
            "oauth_token_scope": oauth_token_scope,
        }
    )
    task.oidc_email, task.oidc_audience = oidc_service_account_email, oidc_token_audience
    task.oauth_email, task.oauth_scope = oauth_service_account_email, oauth_token_scope
    parent = _queue_and_id(cli, task, task_id, queue, dedup_key, dedup_content)
    _create(cli, parent, task, if_absent)


def create_app_engine_task(
    cli: Cli,
    task_id: TaskIdArgument = None,
    queue: QueueOption = None,
    relative_uri: RelativeUriOption = None,
    routing: RoutingOption = None,
    method: MethodOption = None,
    header: HeaderOption = None,
    body_content: BodyContentOption = None,
    body_file: BodyFileOption = None,
    schedule_time: ScheduleTimeOption = None,
    schedule_delay: ScheduleDelayOption = None,
    dedup_key: DedupKeyOption = None,
    dedup_content: DedupContentOption = False,
    if_absent: IfAbsentOption = False,
) -> None:
    """Create an App Engine task; prints its name on stdout (the task itself with --format)."""
    from tasksctl.task_flags import KIND_APP_ENGINE, TaskInput, check_relative_uri, parse_routing

    # like gcloud, no --relative-uri sends none (the API then means "/")
    uri = "" if relative_uri is None else check_relative_uri(relative_uri)
    task = TaskInput(kind=KIND_APP_ENGINE, relative_uri=uri)
    task.routing = parse_routing(routing)
    _common(task, method, header, body_content, body_file, schedule_time, schedule_delay)
    parent = _queue_and_id(cli, task, task_id, queue, dedup_key, dedup_content)
    _create(cli, parent, task, if_absent)


def register(app: TasksctlTyper) -> None:
    """Add the create verbs to the ``tasks`` group."""
    app.command("create-http-task")(create_http_task)
    app.command("create-app-engine-task")(create_app_engine_task)
