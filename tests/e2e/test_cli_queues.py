"""`tasksctl queues|locations|cmek-config` end to end against a real engine over real gRPC.

Most runs are in-process (``CliRunner``, the same click invocation and error funnel as the real
command) for speed; a few run the real ``python -m tasksctl`` in a subprocess or on a pty.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tasksctl.cli.app import app
from tasksctl.cli.context import GLOBALS_KEY, Cli
from tasksctl.errors import TasksctlError, UsageError
from tasksctl.queue_flags import FIELDS, QueueFlags, build_update
from tests.terminal import answer_prompt_on_pty

PROJECT = "test-project"
LOCATION = "us-central1"

DEFAULT_RETRY = {
    "maxAttempts": 100,
    "maxBackoff": "3600s",
    "maxDoublings": 16,
    "maxRetryDuration": "0s",
    "minBackoff": "0.100s",
}


@pytest.fixture
def tasksctl(cli_env: dict[str, str]) -> Any:
    """Run tasksctl in-process against the session engine; returns click's Result."""
    runner = CliRunner()
    keys = (
        "TASKSCTL_ENDPOINT",
        "TASKSCTL_PROJECT",
        "TASKSCTL_LOCATION",
        "TASKSCTL_CONFIG_DIR",
        "TASKSCTL_NO_AUTOSTART",
        "NO_COLOR",
    )
    base: dict[str, str | None] = {k: cli_env[k] for k in keys}
    base.update(CLOUD_TASKS_EMULATOR_HOST=None, TASKSCTL_BACKEND=None)

    def run(*args: str, input: str | None = None, env: dict[str, str | None] | None = None) -> Any:
        return runner.invoke(app, list(args), input=input, env={**base, **(env or {})})

    return run


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return result


def describe(tasksctl: Any, queue: str, *extra: str) -> dict[str, Any]:
    return dict(
        json.loads(ok(tasksctl("queues", "describe", queue, "--format", "json", *extra)).stdout)
    )


def error_line(result: Any, command: str) -> str:
    """The one ``ERROR: (tasksctl.queues.x) ...`` line, without the prefix."""
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    prefix = f"ERROR: (tasksctl.queues.{command}) "
    assert lines[0].startswith(prefix), lines[0]
    return str(lines[0][len(prefix) :])


# -- flag conversion (no engine) ----------------------------------------------------------------


def test_update_mask_holds_exactly_the_touched_fields() -> None:
    flags = QueueFlags(
        values={
            "max_attempts": "unlimited",
            "min_backoff": "1.5m",
            "http_header_override": ["B: 2", "A: 1", "B: 3"],
        },
        clear=frozenset(
            {
                "max_dispatches_per_second",
                "http_oidc_token_audience_override",
                "http_oidc_service_account_email_override",
            }
        ),
    )
    queue, paths = build_update("projects/p/locations/l/queues/q", flags)
    assert paths == [
        "http_target.header_overrides",
        "http_target.oidc_token",  # both halves cleared: the whole token goes
        "rate_limits.max_dispatches_per_second",
        "retry_config.max_attempts",
        "retry_config.min_backoff",
    ]
    assert queue.retry_config.max_attempts == -1
    assert queue.retry_config.min_backoff.total_seconds() == 90
    assert [(h.header.key, h.header.value) for h in queue.http_target.header_overrides] == [
        ("A", "1"),
        ("B", "3"),
    ]
    assert "rate_limits" not in queue  # cleared fields stay unset in the body
    one_half = QueueFlags(
        values={"http_oidc_service_account_email_override": "a@b"},
        clear=frozenset({"http_oidc_token_audience_override"}),
    )
    assert build_update("projects/p/locations/l/queues/q", one_half)[1] == [
        "http_target.oidc_token.audience",
        "http_target.oidc_token.service_account_email",
    ]
    assert {f.rest_path for f in FIELDS} >= {
        "retryConfig.maxAttempts",
        "httpTarget.oauthToken.serviceAccountEmail",
    }


def test_queue_and_task_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TASKSCTL_CONFIG_DIR", str(tmp_path))
    flags = {"project": "p1", "location": "europe-west1", "endpoint": "127.0.0.1:1"}
    cli = Cli.create("tasksctl tasks describe", {GLOBALS_KEY: flags})
    assert cli.command == "tasksctl.tasks.describe"
    assert str(cli.queue_name("q")) == "projects/p1/locations/europe-west1/queues/q"
    full = "projects/p2/locations/asia-east1/queues/other"
    assert str(cli.queue_name(full)) == full  # a full name ignores --project/--location
    assert cli.queue_name(full).short == "asia-east1/other"
    assert str(cli.task_name("t_1", "q")) == (
        "projects/p1/locations/europe-west1/queues/q/tasks/t_1"
    )
    assert str(cli.task_name(f"{full}/tasks/t", None)) == f"{full}/tasks/t"
    with pytest.raises(TasksctlError, match="fully qualified task path or the queue flag"):
        cli.task_name("t", None)
    with pytest.raises(UsageError, match="Invalid task ID"):
        cli.task_name("t!", "q")


# -- create / describe / update ----------------------------------------------------------------


def test_create_with_every_http_flag_round_trips(tasksctl: Any, unique: str) -> None:
    queue = f"all-{unique}"
    result = ok(
        tasksctl(
            "queues",
            "create",
            queue,
            "--max-attempts",
            "7",
            "--max-retry-duration",
            "1h",
            "--max-doublings",
            "4",
            "--min-backoff",
            "1.5s",
            "--max-backoff",
            "2m",
            "--max-dispatches-per-second",
            "12.5",
            "--max-concurrent-dispatches",
            "7",
            "--log-sampling-ratio",
            "0.5",
            "--http-uri-override",
            "scheme:https,host:example.com,port:8443,path:/x,query:a=b,mode:always",
            "--http-method-override",
            "put",
            "--http-header-override",
            "X-B: two: parts",
            "--http-header-override",
            "X-A:1",
            "--http-oidc-service-account-email-override",
            "sa@p.iam.gserviceaccount.com",
            "--http-oidc-token-audience-override",
            "https://aud.example.com",
        )
    )
    assert (result.stdout, result.stderr) == ("", f"Created queue [{LOCATION}/{queue}].\n")
    got = describe(tasksctl, queue)
    assert got["name"] == f"projects/{PROJECT}/locations/{LOCATION}/queues/{queue}"
    assert got["state"] == "RUNNING"
    assert got["retryConfig"] == {
        "maxAttempts": 7,
        "maxRetryDuration": "3600s",
        "maxDoublings": 4,
        "minBackoff": "1.500s",
        "maxBackoff": "120s",
    }
    assert got["rateLimits"]["maxDispatchesPerSecond"] == 12.5
    assert got["rateLimits"]["maxConcurrentDispatches"] == 7
    assert got["stackdriverLoggingConfig"] == {"samplingRatio": 0.5}
    target = got["httpTarget"]
    assert target["uriOverride"] == {
        "scheme": "HTTPS",
        "host": "example.com",
        "port": "8443",
        "pathOverride": {"path": "/x"},
        "queryOverride": {"queryParams": "a=b"},
        "uriOverrideEnforceMode": "ALWAYS",
    }
    assert target["httpMethod"] == "PUT"
    assert target["headerOverrides"] == [
        {"header": {"key": "X-A", "value": "1"}},
        {"header": {"key": "X-B", "value": "two: parts"}},
    ]
    assert target["oidcToken"] == {
        "serviceAccountEmail": "sa@p.iam.gserviceaccount.com",
        "audience": "https://aud.example.com",
    }


def test_create_routing_oauth_unlimited_and_format(tasksctl: Any, unique: str) -> None:
    routed = f"gae-{unique}"
    ok(
        tasksctl(
            "queues",
            "create",
            routed,
            "--routing-override",
            "service:worker,version:v2,instance:i1",
            "--max-attempts",
            "unlimited",
        )
    )
    got = describe(tasksctl, routed)
    assert {k: got["appEngineRoutingOverride"][k] for k in ("service", "version", "instance")} == {
        "service": "worker",
        "version": "v2",
        "instance": "i1",
    }
    assert got["retryConfig"]["maxAttempts"] == -1
    oauth = f"oauth-{unique}"
    created = ok(
        tasksctl(
            "queues",
            "create",
            oauth,
            "--format",
            "json",
            "--http-oauth-service-account-email-override",
            "sa@p.iam.gserviceaccount.com",
            "--http-oauth-token-scope-override",
            "https://scope",
        )
    )
    printed = json.loads(created.stdout)  # create prints the queue only when --format is given
    assert printed["httpTarget"]["oauthToken"] == {
        "serviceAccountEmail": "sa@p.iam.gserviceaccount.com",
        "scope": "https://scope",
    }
    table = ok(tasksctl("queues", "list", "--filter", f"name:{unique}", "--sort-by", "name"))
    width = len(oauth)  # the widest QUEUE_NAME cell
    assert table.stdout.splitlines() == [
        "QUEUE_NAME".ljust(width) + "  STATE    MAX_NUM_OF_TASKS  MAX_RATE (/sec)  MAX_ATTEMPTS",
        routed.ljust(width) + "  RUNNING  1000              500.0            unlimited",
        oauth.ljust(width) + "  RUNNING  1000              500.0            100",
    ]


def test_header_only_override_is_kept_on_create_and_set_on_update(
    tasksctl: Any, unique: str
) -> None:
    queue = f"hdr-{unique}"
    ok(tasksctl("queues", "create", queue, "--http-header-override", "X-Env: staging"))
    assert describe(tasksctl, queue)["httpTarget"]["headerOverrides"] == [
        {"header": {"key": "X-Env", "value": "staging"}}
    ]
    ok(
        tasksctl(
            "queues",
            "update",
            queue,
            "--http-header-override",
            "X-Env: prod",
            "--http-header-override",
            "X-Team: core",
        )
    )
    assert describe(tasksctl, queue)["httpTarget"]["headerOverrides"] == [
        {"header": {"key": "X-Env", "value": "prod"}},
        {"header": {"key": "X-Team", "value": "core"}},
    ]


def test_update_changes_only_touched_fields(tasksctl: Any, unique: str) -> None:
    queue = f"upd-{unique}"
    ok(
        tasksctl(
            "queues",
            "create",
            queue,
            "--max-attempts",
            "9",
            "--min-backoff",
            "2s",
            "--max-dispatches-per-second",
            "10",
            "--max-concurrent-dispatches",
            "20",
            "--http-method-override",
            "GET",
            "--http-header-override",
            "X-Keep: yes",
        )
    )
    before = describe(tasksctl, queue)
    result = ok(
        tasksctl(
            "queues",
            "update",
            queue,
            "--max-concurrent-dispatches",
            "3",
            "--max-backoff",
            "30s",
            "--verbosity",
            "debug",
        )
    )
    assert (
        "DEBUG: update_mask: rate_limits.max_concurrent_dispatches,retry_config.max_backoff\n"
        in result.stderr
    )
    assert result.stderr.endswith(f"Updated queue [{LOCATION}/{queue}].\n")
    after = describe(tasksctl, queue)
    assert after["rateLimits"]["maxConcurrentDispatches"] == 3
    assert after["retryConfig"]["maxBackoff"] == "30s"
    for key in ("maxAttempts", "minBackoff", "maxDoublings", "maxRetryDuration"):
        assert after["retryConfig"][key] == before["retryConfig"][key]
    assert after["rateLimits"]["maxDispatchesPerSecond"] == 10.0
    assert after["httpTarget"] == before["httpTarget"]
    # an update to a queue given by its full name ignores --location
    full = f"projects/{PROJECT}/locations/{LOCATION}/queues/{queue}"
    ok(tasksctl("queues", "update", full, "--location", "asia-east1", "--max-doublings", "3"))
    assert describe(tasksctl, queue)["retryConfig"]["maxDoublings"] == 3


def test_clear_flags_restore_defaults(tasksctl: Any, unique: str) -> None:
    queue = f"clr-{unique}"
    ok(
        tasksctl(
            "queues",
            "create",
            queue,
            "--max-attempts",
            "3",
            "--max-retry-duration",
            "10m",
            "--max-doublings",
            "2",
            "--min-backoff",
            "1s",
            "--max-backoff",
            "10s",
            "--max-dispatches-per-second",
            "5",
            "--max-concurrent-dispatches",
            "2",
            "--log-sampling-ratio",
            "0.25",
            "--http-uri-override",
            "host:example.com",
            "--http-method-override",
            "PATCH",
            "--http-header-override",
            "A: b",
            "--http-oauth-service-account-email-override",
            "sa@p.iam.gserviceaccount.com",
            "--http-oauth-token-scope-override",
            "https://scope",
        )
    )
    clears = [f.clear_flag for f in FIELDS if "oidc" not in f.name and "routing" not in f.name]
    ok(tasksctl("queues", "update", queue, *clears))
    got = describe(tasksctl, queue)
    assert got["retryConfig"] == DEFAULT_RETRY
    assert got["rateLimits"]["maxDispatchesPerSecond"] == 500.0
    assert got["rateLimits"]["maxConcurrentDispatches"] == 1000
    assert "stackdriverLoggingConfig" not in got or not got["stackdriverLoggingConfig"]
    assert not got.get("httpTarget"), got.get("httpTarget")


def test_update_errors_follow_gcloud(tasksctl: Any, unique: str) -> None:
    queue = f"uerr-{unique}"
    ok(tasksctl("queues", "create", queue))
    nothing = tasksctl("queues", "update", queue)
    assert nothing.exit_code == 1
    assert error_line(nothing, "update") == "Must specify at least one field to update."
    scope = tasksctl("queues", "update", queue, "--http-oauth-token-scope-override", "s")
    assert scope.exit_code == 1
    assert error_line(scope, "update") == (
        "Oauth service account email (http-oauth-service-account-email-override) must be set."
    )
    both = tasksctl("queues", "update", queue, "--max-attempts", "3", "--clear-max-attempts")
    assert both.exit_code == 2
    assert error_line(both, "update") == (
        "argument --clear-max-attempts: At most one of --clear-max-attempts | --max-attempts "
        "can be specified."
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ("--min-backoff", "10parsecs"),
            2,
            "Invalid value for --min-backoff: '10parsecs' is not a duration",
        ),
        (
            ("--max-attempts", "-5"),
            2,
            "argument --max-attempts: Value must be greater than or equal to -1",
        ),
        (("--max-dispatches-per-second", "1000"), 1, "INVALID_ARGUMENT: "),
        (
            ("--max-dispatches-per-second", "fast"),
            2,
            "argument --max-dispatches-per-second: invalid float value: 'fast'",
        ),
        (
            ("--http-header-override", "NoColon"),
            2,
            'argument --http-header-override: Bad value [NoColon]: Must be of the form: "HEADER_',
        ),
        (
            ("--http-uri-override", "colour:red"),
            2,
            "argument --http-uri-override: Bad value [colour]: Only the following keys are valid",
        ),
        (("--http-method-override", "FETCH"), 2, "argument --http-method-override: Invalid choice"),
        (("--http-oidc-token-audience-override", "a"), 1, "Oidc service account email"),
        (
            ("--routing-override", "service:s", "--http-method-override", "GET"),
            1,
            "Attempting to send multiple queue target types simultaneously",
        ),
        (
            (
                "--http-oidc-service-account-email-override",
                "a@b",
                "--http-oauth-service-account-email-override",
                "a@b",
            ),
            2,
            "argument [--http-oauth-service-account-email-override : --http-oauth-token-scope-"
            "override]: At most one of",
        ),
    ],
)
def test_bad_create_input_is_one_line(
    tasksctl: Any, unique: str, args: tuple[str, ...], code: int, message: str
) -> None:
    result = tasksctl("queues", "create", f"bad-{unique}", *args)
    assert result.exit_code == code, result.output
    assert error_line(result, "create").startswith(message)
    assert tasksctl("queues", "describe", f"bad-{unique}").exit_code == 1  # nothing was created


@pytest.mark.parametrize(
    "queue", ["bad_name", "x" * 101, "projects/p/locations/l/queues/b@d", "projects/p/queues/q"]
)
def test_bad_queue_names(tasksctl: Any, queue: str) -> None:
    result = tasksctl("queues", "describe", queue)
    assert result.exit_code == 2
    assert error_line(result, "describe").startswith("Invalid queue")


def test_existing_and_unknown_queues(tasksctl: Any, unique: str) -> None:
    queue = f"dup-{unique}"
    ok(tasksctl("queues", "create", queue))
    again = tasksctl("queues", "create", queue)
    assert again.exit_code == 3
    assert error_line(again, "create").startswith("ALREADY_EXISTS: ")
    for command in ("describe", "pause", "resume"):
        missing = tasksctl("queues", command, f"missing-{unique}")
        assert missing.exit_code == 1
        assert error_line(missing, command) == "NOT_FOUND: Requested entity was not found."
    gone = tasksctl("queues", "delete", f"missing-{unique}", "--quiet")
    assert (gone.exit_code, error_line(gone, "delete")) == (
        1,
        "NOT_FOUND: Requested entity was not found.",
    )


# -- state commands and prompts ----------------------------------------------------------------


def test_pause_resume_purge_delete(tasksctl: Any, client: Any, unique: str) -> None:
    queue = f"life-{unique}"
    full = f"projects/{PROJECT}/locations/{LOCATION}/queues/{queue}"
    ok(tasksctl("queues", "create", queue))
    paused = ok(tasksctl("queues", "pause", queue))
    assert (paused.stdout, paused.stderr) == ("", f"Paused queue [{LOCATION}/{queue}].\n")
    assert describe(tasksctl, queue)["state"] == "PAUSED"
    assert ok(tasksctl("queues", "resume", full)).stderr == f"Resumed queue [{LOCATION}/{queue}].\n"
    assert describe(tasksctl, queue)["state"] == "RUNNING"
    client.create_task(
        parent=full,
        task={
            "http_request": {"url": "http://127.0.0.1:9/x"},
            "schedule_time": {"seconds": int(time.time()) + 3600},
        },
    )
    assert len(list(client.list_tasks(parent=full))) == 1
    purged = ok(tasksctl("queues", "purge", queue, "-q"))
    assert purged.stderr == f"Purged queue [{LOCATION}/{queue}].\n"
    assert "purgeTime" in describe(tasksctl, queue)
    deleted = ok(tasksctl("--quiet", "queues", "delete", queue))
    assert deleted.stderr == f"Deleted queue [{LOCATION}/{queue}].\n"
    assert tasksctl("queues", "describe", queue).exit_code == 1


@pytest.mark.parametrize("command", ["delete", "purge"])
def test_prompts_fail_with_a_hint_when_stdin_is_not_a_terminal(
    tasksctl: Any, unique: str, command: str
) -> None:
    queue = f"np-{command}-{unique}"
    ok(tasksctl("queues", "create", queue))
    result = tasksctl("queues", command, queue, input="y\n")
    assert result.exit_code == 2
    assert error_line(result, command) == (
        "Cannot ask for confirmation because stdin is not a terminal; use --quiet to proceed "
        "without a prompt."
    )
    assert describe(tasksctl, queue)["state"] == "RUNNING"  # still there


def test_delete_prompt_on_a_terminal(cli_env: dict[str, str], tasksctl: Any, unique: str) -> None:
    queue = f"tty-{unique}"
    ok(tasksctl("queues", "create", queue))
    code, text = answer_prompt_on_pty(["queues", "delete", queue], b"n\n", cli_env)
    assert code == 1
    # wrapped like gcloud at 80 columns (a new pty has no size), the answer ends the line
    assert text == (
        "Deleted queues can not be re-created for a duration of up to 7 days. Are you \nsure "
        f"you want to delete: [{LOCATION}/{queue}] (Y/n)?  \n"
        "ERROR: (tasksctl.queues.delete) Aborted by user.\n"
    )
    assert describe(tasksctl, queue)["state"] == "RUNNING"
    code, text = answer_prompt_on_pty(["queues", "purge", queue], b"maybe\n\n", cli_env)
    assert code == 0, text
    assert text.endswith(
        f"(Y/n)?  Please enter 'y' or 'n':  \nPurged queue [{LOCATION}/{queue}].\n"
    )


# -- list ---------------------------------------------------------------------------------------


@pytest.fixture
def listed(tasksctl: Any, unique: str) -> tuple[str, list[str]]:
    """Three queues in a location of their own (the session engine is shared)."""
    location = f"loc-{unique}"
    names = [f"a-{unique}", f"b-{unique}", f"c-{unique}"]
    ok(tasksctl("queues", "create", names[0], "--location", location, "--max-attempts", "5"))
    ok(
        tasksctl(
            "queues",
            "create",
            names[1],
            "--location",
            location,
            "--max-dispatches-per-second",
            "2",
            "--max-concurrent-dispatches",
            "4",
        )
    )
    ok(tasksctl("queues", "create", names[2], "--location", location))
    ok(tasksctl("queues", "pause", names[2], "--location", location))
    return location, names


def test_list_default_table(tasksctl: Any, listed: tuple[str, list[str]]) -> None:
    location, (a, b, c) = listed
    result = ok(tasksctl("queues", "list", "--location", location))
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        "QUEUE_NAME    STATE    MAX_NUM_OF_TASKS  MAX_RATE (/sec)  MAX_ATTEMPTS",
        f"{a}  RUNNING  1000              500.0            5",
        f"{b}  RUNNING  4                 2.0              100",
        f"{c}  PAUSED   1000              500.0            100",
    ]


def test_list_formats_parse(tasksctl: Any, listed: tuple[str, list[str]]) -> None:
    location, names = listed
    base = ("queues", "list", "--location", location)
    as_json = json.loads(ok(tasksctl(*base, "--format", "json")).stdout)
    assert [q["name"].rsplit("/", 1)[1] for q in as_json] == names
    assert as_json[1]["rateLimits"]["maxDispatchesPerSecond"] == 2.0
    as_yaml = list(yaml.safe_load_all(ok(tasksctl(*base, "--format", "yaml")).stdout))
    assert as_yaml == as_json
    rows = list(
        csv.reader(
            io.StringIO(
                ok(
                    tasksctl(
                        *base, "--format", "csv(name.basename(),state,retryConfig.maxAttempts)"
                    )
                ).stdout
            )
        )
    )
    assert rows == [
        ["queue_name", "state", "max_attempts"],  # gcloud's headings from the default format
        [names[0], "RUNNING", "5"],
        [names[1], "RUNNING", "100"],
        [names[2], "PAUSED", "100"],
    ]
    value = ok(tasksctl(*base, "--format", "value(name.basename())")).stdout
    assert value.splitlines() == names


def test_list_flags(tasksctl: Any, listed: tuple[str, list[str]]) -> None:
    location, (a, b, c) = listed
    base = ("queues", "list", "--location", location, "--format", "value(name.basename())")
    assert ok(tasksctl(*base, "--filter", "state=PAUSED")).stdout == f"{c}\n"
    assert (
        ok(
            tasksctl(*base, "--filter", "NOT state:paus AND rateLimits.maxDispatchesPerSecond<100")
        ).stdout
        == f"{b}\n"
    )
    assert ok(tasksctl(*base, "--sort-by", "~name", "--limit", "2")).stdout == f"{c}\n{b}\n"
    assert ok(tasksctl(*base, "--sort-by", "state,~name")).stdout == f"{c}\n{b}\n{a}\n"
    assert ok(tasksctl(*base, "--page-size", "1")).stdout == f"{a}\n{b}\n{c}\n"
    assert ok(tasksctl(*base, "--page-size", "1", "--limit", "1")).stdout == f"{a}\n"
    uris = ok(tasksctl("queues", "list", "--location", location, "--uri")).stdout.splitlines()
    assert uris[0] == (
        f"https://cloudtasks.googleapis.com/v2/projects/{PROJECT}/locations/{location}/queues/{a}"
    )
    empty = ok(tasksctl(*base, "--filter", "state=DISABLED"))
    assert (empty.stdout, empty.stderr) == ("", "")  # gcloud: the epilog is the default format's
    none = ok(tasksctl("queues", "list", "--location", location, "--filter", "state=DISABLED"))
    assert (none.stdout, none.stderr) == ("", "Listed 0 items.\n")
    # global flags before the subcommand mean the same
    assert (
        ok(
            tasksctl(
                "--location",
                location,
                "--format",
                "value(state)",
                "queues",
                "list",
                "--filter",
                "name:/c-",
            )
        ).stdout
        == "PAUSED\n"
    )


def test_list_of_an_empty_location(tasksctl: Any, unique: str) -> None:
    result = ok(tasksctl("queues", "list", "--location", f"empty-{unique}"))
    assert (result.stdout, result.stderr) == ("", "Listed 0 items.\n")
    assert (
        ok(tasksctl("queues", "list", "--location", f"empty-{unique}", "--format", "json")).stdout
        == "[]\n"
    )


# -- IAM, locations, CMEK -----------------------------------------------------------------------


def test_iam_commands(tasksctl: Any, unique: str, tmp_path: Path) -> None:
    queue = f"iam-{unique}"
    ok(tasksctl("queues", "create", queue))
    empty = yaml.safe_load(ok(tasksctl("queues", "get-iam-policy", queue)).stdout)
    assert not empty.get("bindings")
    added = ok(
        tasksctl(
            "queues",
            "add-iam-policy-binding",
            queue,
            "--member",
            "user:ada@example.com",
            "--role",
            "roles/cloudtasks.enqueuer",
        )
    )
    assert added.stderr == f"Updated IAM policy for queue [{queue}].\n"
    policy = yaml.safe_load(added.stdout)
    assert policy["bindings"] == [
        {"members": ["user:ada@example.com"], "role": "roles/cloudtasks.enqueuer"}
    ]
    ok(
        tasksctl(
            "queues",
            "add-iam-policy-binding",
            queue,
            "--member",
            "group:g@example.com",
            "--role",
            "roles/cloudtasks.enqueuer",
        )
    )
    removed = ok(
        tasksctl(
            "queues",
            "remove-iam-policy-binding",
            queue,
            "--member",
            "user:ada@example.com",
            "--role",
            "roles/cloudtasks.enqueuer",
        )
    )
    assert yaml.safe_load(removed.stdout)["bindings"][0]["members"] == ["group:g@example.com"]
    again = tasksctl(
        "queues",
        "remove-iam-policy-binding",
        queue,
        "--member",
        "user:ada@example.com",
        "--role",
        "roles/cloudtasks.enqueuer",
    )
    assert again.exit_code == 1
    assert error_line(again, "remove-iam-policy-binding") == (
        "Policy binding with the specified principal and role not found!"
    )
    bad_member = tasksctl(
        "queues", "add-iam-policy-binding", queue, "--member", "ada", "--role", "roles/viewer"
    )
    assert bad_member.exit_code == 2
    policy_json = tmp_path / "policy.json"
    policy_json.write_text(
        json.dumps({"bindings": [{"role": "roles/viewer", "members": ["allUsers"]}]})
    )
    # no etag: gcloud warns and asks; without a terminal tasksctl needs --quiet for that
    asks = tasksctl("queues", "set-iam-policy", queue, str(policy_json))
    assert asks.exit_code == 2
    assert "use --quiet" in error_line(asks, "set-iam-policy")
    set_json = ok(
        tasksctl("queues", "set-iam-policy", queue, str(policy_json), "--format", "json", "-q")
    )
    assert json.loads(set_json.stdout)["bindings"] == [
        {"role": "roles/viewer", "members": ["allUsers"]}
    ]
    policy_yaml = tmp_path / "policy.yaml"
    policy_yaml.write_text("bindings:\n- role: roles/owner\n  members:\n  - user:b@example.com\n")
    ok(tasksctl("queues", "set-iam-policy", queue, str(policy_yaml), "--quiet"))
    final = yaml.safe_load(ok(tasksctl("queues", "get-iam-policy", queue)).stdout)
    assert final["bindings"] == [{"members": ["user:b@example.com"], "role": "roles/owner"}]
    policy_yaml.write_text("bindings: [{rol: x}]\n")
    broken = tasksctl("queues", "set-iam-policy", queue, str(policy_yaml))
    assert broken.exit_code == 2
    assert error_line(broken, "set-iam-policy").startswith("Policy file [")
    perms = yaml.safe_load(
        ok(tasksctl("queues", "test-iam-permissions", queue, "cloudtasks.tasks.create")).stdout
    )
    assert perms == {"permissions": ["cloudtasks.tasks.create"]}


def test_locations_and_cmek(tasksctl: Any) -> None:
    table = ok(tasksctl("locations", "list")).stdout.splitlines()
    assert table[0].split() == ["NAME", "FULL_NAME"]
    assert any(
        line.split() == [LOCATION, f"projects/{PROJECT}/locations/{LOCATION}"] for line in table
    )
    two = ok(tasksctl("locations", "list", "--limit", "2", "--format", "value(locationId)"))
    assert len(two.stdout.splitlines()) == 2
    described = yaml.safe_load(ok(tasksctl("locations", "describe", LOCATION)).stdout)
    assert described["locationId"] == LOCATION
    assert described["name"] == f"projects/{PROJECT}/locations/{LOCATION}"
    key = f"projects/{PROJECT}/locations/{LOCATION}/keyRings/ring/cryptoKeys/key"
    updated = ok(
        tasksctl("cmek-config", "update", "--kms-key-name", "key", "--kms-keyring", "ring")
    )
    assert updated.stderr == f"Updated Cmek config for KMS key: [{key}].\n"
    assert yaml.safe_load(ok(tasksctl("cmek-config", "describe")).stdout)["kmsKey"] == key
    cleared = ok(tasksctl("cmek-config", "update", "--clear-kms-key"))
    assert cleared.stderr == "Updated Cmek config for KMS key: [].\n"
    assert "kmsKey" not in yaml.safe_load(ok(tasksctl("cmek-config", "describe")).stdout)
    both = tasksctl("cmek-config", "update", "--clear-kms-key", "--kms-key-name", "k")
    assert both.exit_code == 2


# -- the real command in a subprocess -----------------------------------------------------------


def test_subprocess_create_list_and_exit_codes(run_cli: Any, unique: str) -> None:
    queue = f"sub-{unique}"
    created = run_cli("queues", "create", queue, "--max-dispatches-per-second", "3")
    assert (created.returncode, created.stdout) == (0, "")
    assert created.stderr == f"Created queue [{LOCATION}/{queue}].\n"
    listed = run_cli("queues", "list", "--filter", f"name:{queue}", "--format", "json")
    assert json.loads(listed.stdout)[0]["rateLimits"]["maxDispatchesPerSecond"] == 3.0
    duplicate = run_cli("queues", "create", queue)
    assert duplicate.returncode == 3
    assert duplicate.stderr.startswith("ERROR: (tasksctl.queues.create) ALREADY_EXISTS: ")
    described = run_cli("queues", "describe", queue)
    assert yaml.safe_load(described.stdout)["rateLimits"]["maxDispatchesPerSecond"] == 3.0


def test_subprocess_honours_cloud_tasks_emulator_host(
    run_cli: Any, engine: Any, unique: str
) -> None:
    queue = f"fb-{unique}"
    env = {"TASKSCTL_ENDPOINT": "", "CLOUD_TASKS_EMULATOR_HOST": engine.address}
    assert run_cli("queues", "create", queue, env=env).returncode == 0
    described = run_cli("queues", "describe", queue, "--format", "value(state)", env=env)
    assert described.stdout == "RUNNING\n"
