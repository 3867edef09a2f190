"""``tasksctl queues``: mirrors ``gcloud tasks queues`` (GA), on every backend."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from tasksctl.cli import queue_iam, queues_export, queues_wait
from tasksctl.cli.base import TasksctlTyper
from tasksctl.cli.context import Cli
from tasksctl.cli.options import QueueArgument
from tasksctl.render import ListFlags, message_to_dict

if TYPE_CHECKING:
    from tasksctl.queue_flags import QueueFlags

app = TasksctlTyper(help="Manage Cloud Tasks queues.")
queue_iam.register(app)
queues_wait.register(app)
queues_export.register(app)

# gcloud's default `queues list` format (command_lib/tasks/list_formats.py), GA track.
LIST_FORMAT = (
    'table(name.basename():label="QUEUE_NAME",'
    "state,"
    'rateLimits.maxConcurrentDispatches.yesno(no="unlimited").format("{0}")'
    '.sub("-1", "unlimited"):label="MAX_NUM_OF_TASKS",'
    'rateLimits.maxDispatchesPerSecond.yesno(no="unlimited"):label="MAX_RATE (/sec)",'
    'retryConfig.maxAttempts.yesno(no="unlimited").format("{0}")'
    '.sub("-1", "unlimited"):label="MAX_ATTEMPTS")'
)

DELETE_PROMPT = (
    "Deleted queues can not be re-created for a duration of up to 7 days. "
    "Are you sure you want to delete: [{queue}]"
)
PURGE_PROMPT = "Are you sure you want to purge: [{queue}]"

RETRY = "Retry flags"
RATE = "Rate limit flags"
TARGET = "Target override flags"
CLEAR = "Clear flags (update only)"


def _opt(flag: str, panel: str, help: str, metavar: str | None = None) -> Any:
    return typer.Option(flag, help=help, metavar=metavar, rich_help_panel=panel, show_default=False)


MaxAttempts = Annotated[
    str | None,
    _opt(
        "--max-attempts",
        RETRY,
        "Maximum number of attempts per task (first attempt included), or unlimited.",
        "MAX_ATTEMPTS",
    ),
]
MaxRetryDuration = Annotated[
    str | None,
    _opt(
        "--max-retry-duration",
        RETRY,
        "Time limit for retrying a failed task, measured from the "
        "first attempt, e.g. 10s, 5m, 2h, 1d; 0 means unlimited.",
        "DURATION",
    ),
]
MaxDoublings = Annotated[
    int | None,
    _opt(
        "--max-doublings",
        RETRY,
        "Times the retry interval doubles before it grows linearly.",
        "MAX_DOUBLINGS",
    ),
]
MinBackoff = Annotated[
    str | None,
    _opt(
        "--min-backoff",
        RETRY,
        "Minimum wait before retrying a failed task, e.g. 0.1s, 10s.",
        "DURATION",
    ),
]
MaxBackoff = Annotated[
    str | None,
    _opt(
        "--max-backoff",
        RETRY,
        "Maximum wait before retrying a failed task, e.g. 10s, 1h.",
        "DURATION",
    ),
]
MaxDispatchesPerSecond = Annotated[
    float | None,
    _opt(
        "--max-dispatches-per-second",
        RATE,
        "Maximum rate at which tasks are dispatched (at most 500).",
        "RATE",
    ),
]
MaxConcurrentDispatches = Annotated[
    int | None,
    _opt(
        "--max-concurrent-dispatches",
        RATE,
        "Maximum number of tasks dispatched at once (at most 5000).",
        "COUNT",
    ),
]
RoutingOverride = Annotated[
    str | None,
    _opt(
        "--routing-override",
        TARGET,
        "App Engine routing for all tasks of the queue, as "
        "service:SERVICE,version:VERSION,instance:INSTANCE.",
        "KEY:VALUE,...",
    ),
]
LogSamplingRatio = Annotated[
    float | None,
    _opt("--log-sampling-ratio", RATE, "Fraction of operations to log, 0.0 to 1.0.", "RATIO"),
]
HttpUriOverride = Annotated[
    str | None,
    _opt(
        "--http-uri-override",
        TARGET,
        "Override parts of HTTP task URLs: "
        "scheme:https,host:example.com,port:443,path:/x,query:a=b,mode:ALWAYS|IF_NOT_EXISTS.",
        "KEY:VALUE,...",
    ),
]
HttpMethodOverride = Annotated[
    str | None,
    _opt(
        "--http-method-override",
        TARGET,
        "HTTP method for all HTTP tasks of the queue "
        "(POST, GET, HEAD, PUT, DELETE, PATCH, OPTIONS).",
        "METHOD",
    ),
]
HttpHeaderOverride = Annotated[
    list[str] | None,
    _opt(
        "--http-header-override",
        TARGET,
        "Header set on every HTTP task, as 'Key: Value'; "
        "repeat for several. Given alone it is kept (create) or replaces the headers (update).",
        "HEADER_FIELD:HEADER_VALUE",
    ),
]
OauthEmail = Annotated[
    str | None,
    _opt(
        "--http-oauth-service-account-email-override",
        TARGET,
        "Service account whose OAuth "
        "token is sent with every HTTP task (required with the OAuth scope on create).",
        "EMAIL",
    ),
]
OauthScope = Annotated[
    str | None,
    _opt(
        "--http-oauth-token-scope-override",
        TARGET,
        "OAuth scope of that token "
        "(server default https://www.googleapis.com/auth/cloud-platform).",
        "SCOPE",
    ),
]
OidcEmail = Annotated[
    str | None,
    _opt(
        "--http-oidc-service-account-email-override",
        TARGET,
        "Service account whose OIDC "
        "token is sent with every HTTP task (required with the OIDC audience on create).",
        "EMAIL",
    ),
]
OidcAudience = Annotated[
    str | None,
    _opt(
        "--http-oidc-token-audience-override",
        TARGET,
        "Audience of that OIDC token (server default: the task URL).",
        "AUDIENCE",
    ),
]


def _clear(name: str) -> Any:
    flag = "--" + name.replace("_", "-")
    return typer.Option(
        "--clear-" + flag[2:],
        help=f"Clear the field corresponding to `{flag}`.",
        rich_help_panel=CLEAR,
        show_default=False,
    )


ClearMaxAttempts = Annotated[bool, _clear("max_attempts")]
ClearMaxRetryDuration = Annotated[bool, _clear("max_retry_duration")]
ClearMaxDoublings = Annotated[bool, _clear("max_doublings")]
ClearMinBackoff = Annotated[bool, _clear("min_backoff")]
ClearMaxBackoff = Annotated[bool, _clear("max_backoff")]
ClearMaxDispatchesPerSecond = Annotated[bool, _clear("max_dispatches_per_second")]
ClearMaxConcurrentDispatches = Annotated[bool, _clear("max_concurrent_dispatches")]
ClearLogSamplingRatio = Annotated[bool, _clear("log_sampling_ratio")]
ClearRoutingOverride = Annotated[bool, _clear("routing_override")]
ClearHttpUriOverride = Annotated[bool, _clear("http_uri_override")]
ClearHttpMethodOverride = Annotated[bool, _clear("http_method_override")]
ClearHttpHeaderOverride = Annotated[bool, _clear("http_header_override")]
ClearOauthEmail = Annotated[bool, _clear("http_oauth_service_account_email_override")]
ClearOauthScope = Annotated[bool, _clear("http_oauth_token_scope_override")]
ClearOidcEmail = Annotated[bool, _clear("http_oidc_service_account_email_override")]
ClearOidcAudience = Annotated[bool, _clear("http_oidc_token_audience_override")]


def _flags(values: dict[str, Any]) -> QueueFlags:
    """Collect the queue flags of a create/update call (its locals) into QueueFlags."""
    from tasksctl.queue_flags import FIELDS_BY_NAME, QueueFlags

    return QueueFlags(
        values={name: values.get(name) for name in FIELDS_BY_NAME},
        clear=frozenset(name for name in FIELDS_BY_NAME if values.get("clear_" + name)),
    )


@app.command("create")
def create(
    cli: Cli,
    queue: QueueArgument,
    max_attempts: MaxAttempts = None,
    max_retry_duration: MaxRetryDuration = None,
    max_doublings: MaxDoublings = None,
    min_backoff: MinBackoff = None,
    max_backoff: MaxBackoff = None,
    max_dispatches_per_second: MaxDispatchesPerSecond = None,
    max_concurrent_dispatches: MaxConcurrentDispatches = None,
    log_sampling_ratio: LogSamplingRatio = None,
    routing_override: RoutingOverride = None,
    http_uri_override: HttpUriOverride = None,
    http_method_override: HttpMethodOverride = None,
    http_header_override: HttpHeaderOverride = None,
    http_oauth_service_account_email_override: OauthEmail = None,
    http_oauth_token_scope_override: OauthScope = None,
    http_oidc_service_account_email_override: OidcEmail = None,
    http_oidc_token_audience_override: OidcAudience = None,
) -> None:
    """Create a Cloud Tasks queue."""
    from tasksctl.queue_flags import build_create

    flags = _flags(locals())
    name = cli.queue_name(queue)
    body = build_create(str(name), flags)
    created = cli.client.create_queue(parent=str(name.parent), queue=body)
    cli.out.status(f"Created queue [{name.short}].")
    cli.print_resource(created, default_format="none")


@app.command("update")
def update(
    cli: Cli,
    queue: QueueArgument,
    max_attempts: MaxAttempts = None,
    max_retry_duration: MaxRetryDuration = None,
    max_doublings: MaxDoublings = None,
    min_backoff: MinBackoff = None,
    max_backoff: MaxBackoff = None,
    max_dispatches_per_second: MaxDispatchesPerSecond = None,
    max_concurrent_dispatches: MaxConcurrentDispatches = None,
    log_sampling_ratio: LogSamplingRatio = None,
    routing_override: RoutingOverride = None,
    http_uri_override: HttpUriOverride = None,
    http_method_override: HttpMethodOverride = None,
    http_header_override: HttpHeaderOverride = None,
    http_oauth_service_account_email_override: OauthEmail = None,
    http_oauth_token_scope_override: OauthScope = None,
    http_oidc_service_account_email_override: OidcEmail = None,
    http_oidc_token_audience_override: OidcAudience = None,
    clear_max_attempts: ClearMaxAttempts = False,
    clear_max_retry_duration: ClearMaxRetryDuration = False,
    clear_max_doublings: ClearMaxDoublings = False,
    clear_min_backoff: ClearMinBackoff = False,
    clear_max_backoff: ClearMaxBackoff = False,
    clear_max_dispatches_per_second: ClearMaxDispatchesPerSecond = False,
    clear_max_concurrent_dispatches: ClearMaxConcurrentDispatches = False,
    clear_log_sampling_ratio: ClearLogSamplingRatio = False,
    clear_routing_override: ClearRoutingOverride = False,
    clear_http_uri_override: ClearHttpUriOverride = False,
    clear_http_method_override: ClearHttpMethodOverride = False,
    clear_http_header_override: ClearHttpHeaderOverride = False,
    clear_http_oauth_service_account_email_override: ClearOauthEmail = False,
    clear_http_oauth_token_scope_override: ClearOauthScope = False,
    clear_http_oidc_service_account_email_override: ClearOidcEmail = False,
    clear_http_oidc_token_audience_override: ClearOidcAudience = False,
) -> None:
    """Update a Cloud Tasks queue: only the given fields change (an update mask is sent).

    Each --clear-FLAG resets that field to its default. Updating a queue that does not
    exist creates it, as the API does.
    """
    from tasksctl.queue_flags import build_update

    flags = _flags(locals())
    name = cli.queue_name(queue)
    body, paths = build_update(str(name), flags)
    cli.out.debug(f"update_mask: {','.join(paths)}")
    updated = cli.client.update_queue(queue=body, update_mask={"paths": paths})
    cli.out.status(f"Updated queue [{name.short}].")
    cli.print_resource(updated, default_format="none")


@app.command("describe")
def describe(cli: Cli, queue: QueueArgument) -> None:
    """Show details about a queue (YAML by default)."""
    name = cli.queue_name(queue)
    cli.print_resource(cli.client.get_queue(name=str(name)))


@app.command("list")
def list_(cli: Cli, flags: ListFlags) -> None:
    """List the queues of a location."""
    parent = cli.location_name()
    pager = cli.client.list_queues(
        request={"parent": str(parent), "page_size": flags.page_size or 0}
    )
    cli.render(LIST_FORMAT).resources((message_to_dict(q) for q in pager), flags)


@app.command("delete")
def delete(cli: Cli, queue: QueueArgument) -> None:
    """Delete a queue (asks for confirmation unless --quiet)."""
    name = cli.queue_name(queue)
    cli.out.confirm(DELETE_PROMPT.format(queue=name.short))
    cli.client.delete_queue(name=str(name))
    cli.out.status(f"Deleted queue [{name.short}].")
    cli.render("none").nothing()


@app.command("purge")
def purge(cli: Cli, queue: QueueArgument) -> None:
    """Delete all tasks of a queue (asks for confirmation unless --quiet)."""
    name = cli.queue_name(queue)
    cli.out.confirm(PURGE_PROMPT.format(queue=name.short))
    with cli.out.spinner(f"Purging [{name.short}]"):
        cli.client.purge_queue(name=str(name))
    cli.out.status(f"Purged queue [{name.short}].")
    cli.render("none").nothing()


@app.command("pause")
def pause(cli: Cli, queue: QueueArgument) -> None:
    """Pause a queue: tasks can still be added but none are dispatched."""
    name = cli.queue_name(queue)
    cli.client.pause_queue(name=str(name))
    cli.out.status(f"Paused queue [{name.short}].")
    cli.render("none").nothing()


@app.command("resume")
def resume(cli: Cli, queue: QueueArgument) -> None:
    """Resume dispatching the tasks of a paused queue."""
    name = cli.queue_name(queue)
    cli.client.resume_queue(name=str(name))
    cli.out.status(f"Resumed queue [{name.short}].")
    cli.render("none").nothing()
