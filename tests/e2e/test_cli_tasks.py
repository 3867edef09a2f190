"""`tasksctl tasks ...`, `queues wait-empty` and `engine reset` end to end.

Runs the real CLI (in-process through the root app and its error funnel, a few times as a real
subprocess or on a pseudo-terminal) against the session engine over gRPC, and a real HTTP sink
on 127.0.0.1 for delivery.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tasksctl.dedup import content_form, id_from_content, id_from_key
from tasksctl.errors import UsageError
from tasksctl.resources import TASK_ID_RE
from tests.conftest import free_port
from tests.sink import Respond, Sink, sink_fixture
from tests.tasks_cli import (
    LOCATION,
    PROJECT,
    error_line,
    full_name,
    ok,
    run_on_terminal,
    tasksctl_fixture,
)

tasksctl = tasksctl_fixture()
sink = sink_fixture()

CREATE = ("tasks", "create-http-task")
URL = "http://127.0.0.1:9/hook"


@pytest.fixture
def queue(tasksctl: Any, unique: str) -> str:
    """A fresh paused queue's ID: its tasks stay put (nothing is dispatched)."""
    name = f"t-{unique}"
    ok(tasksctl("queues", "create", name))
    ok(tasksctl("queues", "pause", name))
    return name


@pytest.fixture
def running(tasksctl: Any, unique: str) -> str:
    """A fresh running queue's ID, for delivery tests."""
    name = f"r-{unique}"
    ok(tasksctl("queues", "create", name))
    return name


def describe(tasksctl: Any, name: str) -> dict[str, Any]:
    result = ok(tasksctl("tasks", "describe", name, "--response-view", "full", "--format", "json"))
    return dict(json.loads(result.stdout))


def names_in(tasksctl: Any, queue: str, env: dict[str, str] | None = None) -> list[str]:
    listing = ("tasks", "list", "--queue", queue, "--format", "value(name.basename())")
    return str(ok(tasksctl(*listing, env=env)).stdout).split()


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# -- deterministic IDs (no engine) --------------------------------------------------------------


def test_dedup_key_ids_start_with_the_hash_and_stay_valid() -> None:
    digest = hashlib.sha256(b"order:42").hexdigest()[:16]
    assert id_from_key("order:42") == f"{digest}-order-42"
    assert id_from_key("a  b//c__d") == hashlib.sha256(b"a  b//c__d").hexdigest()[:16] + "-a-b-c__d"
    assert id_from_key("::") == hashlib.sha256(b"::").hexdigest()[:16]  # nothing readable left
    assert id_from_key("ключ") == hashlib.sha256("ключ".encode()).hexdigest()[:16]
    long = id_from_key("x" * 2000)
    assert len(long) == 500 and TASK_ID_RE.match(long)
    assert id_from_key("x" * 2000) != id_from_key("x" * 1999)  # the hash covers the whole key
    assert id_from_key("k-1") != id_from_key("k_1")
    with pytest.raises(UsageError, match="must not be empty"):
        id_from_key("")


def test_dedup_ids_are_the_same_in_another_process() -> None:
    code = (
        "from tasksctl.dedup import id_from_key, id_from_content;"
        "print(id_from_key('order:42'));"
        "print(id_from_content('http', None, 'http://h/p', {'B': '2', 'a': '1'}, b'x'))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    expected = id_from_key("order:42") + "\n"
    expected += id_from_content("http", "POST", "http://h/p", {"a": "1", "B": "2"}, b"x") + "\n"
    assert outputs == {expected}


def test_content_ids_follow_the_documented_form() -> None:
    form = content_form("http", "post", "http://h/p", {"X-B": "2", "x-a": "1"}, b"hi")
    assert form == b"tasksctl-dedup-v1\nhttp\nPOST\nhttp://h/p\nx-a:1\nx-b:2\n\nhi"
    expected = hashlib.sha256(form).hexdigest()[:32]
    assert id_from_content("http", None, "http://h/p", {"x-a": "1", "X-B": "2"}, b"hi") == expected
    assert id_from_content("http", "PUT", "http://h/p", {}, b"hi") != expected
    assert id_from_content("app-engine", "POST", "http://h/p", {}, None) != id_from_content(
        "http", "POST", "http://h/p", {}, None
    )


# -- create: every flag reaches the stored task --------------------------------------------------


def test_every_http_flag_reaches_the_stored_task(tasksctl: Any, queue: str, tmp_path: Path) -> None:
    body = bytes(range(256)) * 8  # binary: must arrive unchanged
    (tmp_path / "body.bin").write_bytes(body)
    before = datetime.now(UTC)
    result = ok(
        tasksctl(
            *CREATE,
            "t-all",
            "--queue",
            queue,
            "--url",
            URL + "?a=1",
            "--method",
            "put",
            "--header",
            "X-One: 1",
            "--header",
            "X-Two:  two, with: colon",
            "--header",
            "X-One: again",
            "--body-file",
            str(tmp_path / "body.bin"),
            "--schedule-delay",
            "2h",
            "--dispatch-deadline",
            "45s",
            "--oidc-service-account-email",
            "sa@p.iam.gserviceaccount.com",
            "--oidc-token-audience",
            "https://aud.example.com",
        )
    )
    name = full_name(queue, "t-all")
    assert (result.stdout, result.stderr) == (name + "\n", f"Created task [{name}].\n")
    task = describe(tasksctl, name)
    http = task["httpRequest"]
    assert http["url"] == URL + "?a=1"
    assert http["httpMethod"] == "PUT"
    assert {k: http["headers"][k] for k in ("X-One", "X-Two")} == {
        "X-One": "again",
        "X-Two": "two, with: colon",
    }
    assert base64.b64decode(http["body"]) == body
    assert http["oidcToken"] == {
        "serviceAccountEmail": "sa@p.iam.gserviceaccount.com",
        "audience": "https://aud.example.com",
    }
    assert task["dispatchDeadline"] == "45s"
    delay = (when(task["scheduleTime"]) - before).total_seconds()
    assert 7200 - 1 <= delay <= 7200 + 60


def test_oauth_schedule_time_and_stdin_body(tasksctl: Any, queue: str) -> None:
    at = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)
    local = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = ok(
        tasksctl(
            *CREATE,
            "--queue",
            queue,
            "--url",
            URL,
            "--method",
            "PATCH",
            "--body-file",
            "-",
            "--schedule-time",
            local,
            "--oauth-service-account-email",
            "sa@p.iam.gserviceaccount.com",
            "--oauth-token-scope",
            "https://www.googleapis.com/auth/cloud-platform",
            input=b"\x00\xffpayload\n",
        )
    )
    name = result.stdout.strip()
    assert name.startswith(f"projects/{PROJECT}/locations/{LOCATION}/queues/{queue}/tasks/")
    task = describe(tasksctl, name)
    assert base64.b64decode(task["httpRequest"]["body"]) == b"\x00\xffpayload\n"
    assert task["httpRequest"]["httpMethod"] == "PATCH"
    assert task["httpRequest"]["oauthToken"] == {
        "serviceAccountEmail": "sa@p.iam.gserviceaccount.com",
        "scope": "https://www.googleapis.com/auth/cloud-platform",
    }
    assert when(task["scheduleTime"]) == at


def test_a_body_of_exactly_one_megabyte_is_accepted(
    tasksctl: Any, queue: str, tmp_path: Path
) -> None:
    (tmp_path / "mb").write_bytes(b"m" * 1_048_576)
    name = ok(
        tasksctl(*CREATE, "--queue", queue, "--url", URL, "--body-file", str(tmp_path / "mb"))
    )
    task = describe(tasksctl, name.stdout.strip())
    assert len(base64.b64decode(task["httpRequest"]["body"])) == 1_048_576


def test_create_app_engine_task(tasksctl: Any, queue: str) -> None:
    result = ok(
        tasksctl(
            "tasks",
            "create-app-engine-task",
            "ae-1",
            "--queue",
            queue,
            "--relative-uri",
            "/work?x=1",
            "--routing",
            "service:worker,version:v2",
            "--method",
            "PUT",
            "--header",
            "A: b",
            "--body-content",
            "data",
            "--schedule-delay",
            "1h",
        )
    )
    name = full_name(queue, "ae-1")
    assert result.stdout == name + "\n"
    request = describe(tasksctl, name)["appEngineHttpRequest"]
    assert request["relativeUri"] == "/work?x=1"
    assert request["httpMethod"] == "PUT"
    assert request["headers"]["A"] == "b"
    assert base64.b64decode(request["body"]) == b"data"
    assert {k: request["appEngineRouting"][k] for k in ("service", "version")} == {
        "service": "worker",
        "version": "v2",
    }
    table = ok(tasksctl("tasks", "list", "--queue", queue)).stdout.splitlines()
    assert table[1].split()[:2] == ["ae-1", "app-engine"]


def test_create_with_format_prints_the_task(tasksctl: Any, queue: str) -> None:
    result = ok(tasksctl(*CREATE, "fmt-1", "--queue", queue, "--url", URL, "--format", "json"))
    assert json.loads(result.stdout)["name"] == full_name(queue, "fmt-1")
    full = full_name(queue, "fmt-2")  # a full task name needs no --queue
    assert ok(tasksctl(*CREATE, full, "--url", URL)).stdout == full + "\n"


# -- dedup naming -------------------------------------------------------------------------------


def test_the_same_dedup_key_twice_creates_one_task(tasksctl: Any, queue: str, unique: str) -> None:
    key = f"order:{unique}"
    name = full_name(queue, hashlib.sha256(key.encode()).hexdigest()[:16] + f"-order-{unique}")
    args = (*CREATE, "--queue", queue, "--url", URL, "--dedup-key", key)
    assert ok(tasksctl(*args)).stdout == name + "\n"
    second = tasksctl(*args)
    assert second.exit_code == 3
    message = error_line(second, "tasks.create-http-task")
    assert message.startswith("ALREADY_EXISTS: ")
    assert f"task [{name}]" in message and "--if-absent" in message
    again = ok(tasksctl(*args, "--if-absent"))
    assert again.stdout == name + "\n"
    assert again.stderr == f"Task [{name}] already exists; nothing created.\n"
    assert names_in(tasksctl, queue) == [name.rsplit("/", 1)[1]]


def test_a_deleted_dedup_name_stays_reserved(tasksctl: Any, tasks_engine: Any) -> None:
    # On the plugin's manual-clock engine the dedup window cannot run out between two calls,
    # however slow the machine is.
    env = {"TASKSCTL_ENDPOINT": tasks_engine.grpc_address,
           "TASKSCTL_ENGINE_HTTP": tasks_engine.http_url}  # fmt: skip
    ok(tasksctl("queues", "create", "dedup", env=env))
    key = "order:deleted"
    name = full_name("dedup", hashlib.sha256(key.encode()).hexdigest()[:16] + "-order-deleted")
    args = (*CREATE, "--queue", "dedup", "--url", URL, "--dedup-key", key)
    assert ok(tasksctl(*args, env=env)).stdout == name + "\n"
    ok(tasksctl("tasks", "delete", name, env=env))
    again = tasksctl(*args, env=env)
    assert again.exit_code == 3, again.stdout
    gone = ok(tasksctl(*args, "--if-absent", "--format", "json", env=env))
    assert gone.stdout == ""  # nothing to print: the task itself is gone
    assert names_in(tasksctl, "dedup", env=env) == []


def test_dedup_content_ignores_header_case_and_order(tasksctl: Any, queue: str) -> None:
    first = ok(
        tasksctl(
            *CREATE,
            "--queue",
            queue,
            "--url",
            URL,
            "--header",
            "X-B: 2",
            "--header",
            "x-a: 1",
            "--body-content",
            "hi",
            "--dedup-content",
        )
    )
    expected = id_from_content("http", "POST", URL, {"x-a": "1", "X-B": "2"}, b"hi")
    assert first.stdout == full_name(queue, expected) + "\n"
    same = tasksctl(
        *CREATE,
        "--queue",
        queue,
        "--url",
        URL,
        "--method",
        "post",
        "--header",
        "X-A: 1",
        "--header",
        "x-b: 2",
        "--body-content",
        "hi",
        "--dedup-content",
    )
    assert same.exit_code == 3
    other = ok(
        tasksctl(
            *CREATE, "--queue", queue, "--url", URL, "--body-content", "hi!", "--dedup-content"
        )
    )
    assert other.stdout != first.stdout


def test_real_process_exit_codes_for_dedup(run_cli: Any, client: Any, queue_path: str) -> None:
    args = (*CREATE, "--queue", queue_path, "--url", URL, "--dedup-key", "k")
    first, second = run_cli(*args), run_cli(*args)
    assert (first.returncode, second.returncode) == (0, 3)
    assert first.stdout.strip().startswith(queue_path + "/tasks/")
    assert second.stderr.startswith("ERROR: (tasksctl.tasks.create-http-task) ALREADY_EXISTS: ")
    assert run_cli(*args, "--if-absent").returncode == 0


# -- invalid input is refused before any request ------------------------------------------------

INVALID = [
    (
        ["--url", "ftp://x/y"],
        "argument --url: must be an absolute http:// or https:// URL; received: ftp://x/y",
    ),
    (
        ["--url", "/relative"],
        "argument --url: must be an absolute http:// or https:// URL; received: /relative",
    ),
    (
        ["--url", URL, "--method", "GET", "--body-content", "x"],
        "argument --body-content: a body is allowed only with POST, PUT or PATCH, not GET.",
    ),
    (
        ["--url", URL, "--method", "delete", "--body-file", "BODY"],
        "argument --body-file: a body is allowed only with POST, PUT or PATCH, not DELETE.",
    ),
    (
        ["--url", URL, "--body-content", "x", "--body-file", "BODY"],
        "argument --body-content: At most one of --body-content | --body-file can be specified.",
    ),
    (
        ["--url", URL, "--schedule-delay", "31d"],
        "argument --schedule-delay: must be at most 30 days ahead; received: 31d",
    ),
    (
        ["--url", URL, "--schedule-time", "2999-01-01T00:00:00Z"],
        "argument --schedule-time: must be at most 30 days ahead; received: 2999-01-01T00:00:00Z",
    ),
    (
        ["--url", URL, "--schedule-time", "tomorrow"],
        "argument --schedule-time: 'tomorrow' is not an RFC 3339 timestamp "
        "(for example 2030-01-01T12:00:00Z).",
    ),
    (
        ["--url", URL, "--schedule-time", "2030-01-01T00:00:00Z", "--schedule-delay", "1m"],
        "argument --schedule-time: At most one of --schedule-time | --schedule-delay can be "
        "specified.",
    ),
    (
        ["--url", URL, "--body-file", "HUGE"],
        "argument --body-file: the body is larger than the 1 MB task limit (1,048,576 bytes).",
    ),
    (
        ["--url", URL, "--header", "NoColon"],
        "argument --header: Bad value [NoColon]: Must be of the form: "
        '"HEADER_FIELD: HEADER_VALUE".',
    ),
    (
        ["--url", URL, "--header", "X-Empty:"],
        "argument --header: Bad value [X-Empty:]: Must be of the form: "
        '"HEADER_FIELD: HEADER_VALUE".',
    ),
    (["--url", URL, "--header", "X(bad): 1"], "argument --header: invalid header name 'X(bad)'."),
    (
        ["--url", URL, "--dispatch-deadline", "10s"],
        "argument --dispatch-deadline: must be between 15s and 30m; received: 10s",
    ),
    (
        ["--url", URL, "--dispatch-deadline", "31m"],
        "argument --dispatch-deadline: must be between 15s and 30m; received: 31m",
    ),
    (
        ["--url", URL, "--oidc-token-audience", "a"],
        "argument --oidc-service-account-email: Must be specified with --oidc-token-audience.",
    ),
    (
        [
            "--url",
            URL,
            "--oidc-service-account-email",
            "a@b",
            "--oauth-service-account-email",
            "c@d",
        ],
        "argument --oauth-service-account-email: At most one of OAuth "
        "(--oauth-service-account-email, --oauth-token-scope) | OIDC "
        "(--oidc-service-account-email, --oidc-token-audience) can be specified.",
    ),
    (
        ["--url", URL, "--method", "TRACE"],
        "argument --method: Invalid choice: 'TRACE' "
        "(choose from POST, GET, HEAD, PUT, DELETE, PATCH, OPTIONS).",
    ),
    (
        ["id-1", "--url", URL, "--dedup-key", "k"],
        "argument TASK_ID: At most one of TASK_ID | --dedup-key | --dedup-content can be "
        "specified.",
    ),
    (
        ["--url", URL, "--dedup-key", "k", "--dedup-content"],
        "argument --dedup-key: At most one of TASK_ID | --dedup-key | --dedup-content can be "
        "specified.",
    ),
    (
        ["bad id!", "--url", URL],
        "argument TASK_ID: invalid task ID 'bad id!': use letters, "
        "digits, hyphens and underscores (1-500 characters).",
    ),
    ([], "argument --url: Must be specified."),
]


@pytest.mark.parametrize(("args", "message"), INVALID)
def test_invalid_input_is_refused_before_any_request(
    tasksctl: Any, tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "body").write_bytes(b"x")
    (tmp_path / "huge").write_bytes(b"x" * 1_048_577)
    files = {"BODY": str(tmp_path / "body"), "HUGE": str(tmp_path / "huge")}
    args = [files.get(a, a) for a in args]
    # Nothing listens at the endpoint: any request would end in exit 1, not 2.
    dead = {"TASKSCTL_ENDPOINT": f"127.0.0.1:{free_port()}"}
    result = tasksctl(*CREATE, "--queue", "q", *args, env=dead)
    assert result.exit_code == 2, result.stderr
    assert error_line(result, "tasks.create-http-task") == message


def test_invalid_app_engine_input(tasksctl: Any) -> None:
    dead = {"TASKSCTL_ENDPOINT": f"127.0.0.1:{free_port()}"}
    cases = [
        (
            ["--relative-uri", "no-slash"],
            "argument --relative-uri: must begin with '/' and "
            "contain no spaces; received: no-slash",
        ),
        (
            ["--routing", "zone:x"],
            "argument --routing: Bad value [zone]: Only the following keys are valid for routing: "
            "[service, version, instance].",
        ),
        (
            ["--method", "PATCH", "--body-content", "x"],
            "argument --body-content: a body is allowed only with POST or PUT, not PATCH.",
        ),
    ]
    for args, message in cases:
        result = tasksctl("tasks", "create-app-engine-task", "--queue", "q", *args, env=dead)
        assert result.exit_code == 2, result.stderr
        assert error_line(result, "tasks.create-app-engine-task") == message


def test_create_in_a_missing_queue(tasksctl: Any, unique: str) -> None:
    result = tasksctl(*CREATE, "--queue", f"none-{unique}", "--url", URL)
    assert result.exit_code == 1
    assert error_line(result, "tasks.create-http-task").startswith("NOT_FOUND: ")


# -- list / describe / run ----------------------------------------------------------------------


def test_list_describe_and_run(tasksctl: Any, queue: str) -> None:
    for task_id in ("a1", "a2", "a3"):
        ok(tasksctl(*CREATE, task_id, "--queue", queue, "--url", URL, "--body-content", "b"))
    table = ok(tasksctl("tasks", "list", "--queue", queue)).stdout.splitlines()
    assert table[0].split() == [
        "TASK_NAME",
        "TYPE",
        "CREATE_TIME",
        "SCHEDULE_TIME",
        "DISPATCH_ATTEMPTS",
        "RESPONSE_ATTEMPTS",
        "LAST_ATTEMPT_STATUS",
    ]
    assert sorted(row.split()[0] for row in table[1:]) == ["a1", "a2", "a3"]
    assert all(
        row.split()[1] == "http" and row.split()[-3:] == ["0", "0", "Unknown"] for row in table[1:]
    )
    paged = ok(tasksctl("tasks", "list", "--queue", queue, "--page-size", "1", "--format", "json"))
    assert len(json.loads(paged.stdout)) == 3
    limited = ok(
        tasksctl(
            "tasks",
            "list",
            "--queue",
            queue,
            "--limit",
            "2",
            "--sort-by",
            "~name",
            "--format",
            "value(name.basename())",
        )
    )
    assert limited.stdout.split() == ["a3", "a2"]
    basic = json.loads(ok(tasksctl("tasks", "list", "--queue", queue, "--format", "json")).stdout)
    assert "body" not in basic[0]["httpRequest"]
    full = ok(
        tasksctl("tasks", "list", "--queue", queue, "--response-view", "full", "--format", "json")
    )
    assert base64.b64decode(json.loads(full.stdout)[0]["httpRequest"]["body"]) == b"b"

    described = yaml.safe_load(ok(tasksctl("tasks", "describe", "a1", "--queue", queue)).stdout)
    assert described["name"] == full_name(queue, "a1")
    assert described["view"] == "BASIC" and "body" not in described["httpRequest"]
    by_name = ok(tasksctl("tasks", "describe", full_name(queue, "a1")))
    assert yaml.safe_load(by_name.stdout)["name"] == full_name(queue, "a1")
    short = tasksctl("tasks", "describe", "a1")
    assert short.exit_code == 1
    assert error_line(short, "tasks.describe") == (
        "Must specify either the fully qualified task path or the queue flag."
    )
    missing = tasksctl("tasks", "describe", "nope", "--queue", queue)
    assert missing.exit_code == 1
    assert error_line(missing, "tasks.describe").startswith("NOT_FOUND: ")

    ran = ok(tasksctl("tasks", "run", "a2", "--queue", queue))
    assert yaml.safe_load(ran.stdout)["name"] == full_name(queue, "a2")


def test_list_needs_a_queue_and_reports_an_empty_one(tasksctl: Any, queue: str) -> None:
    result = tasksctl("tasks", "list")
    assert result.exit_code == 2
    assert error_line(result, "tasks.list") == "argument --queue: Must be specified."
    empty = ok(tasksctl("tasks", "list", "--queue", queue))
    assert (empty.stdout, empty.stderr) == ("", "Listed 0 items.\n")
    bad = tasksctl("tasks", "list", "--queue", queue, "--response-view", "huge")
    assert bad.exit_code == 2


# -- delete -------------------------------------------------------------------------------------


def test_delete_named_tasks_without_a_prompt(tasksctl: Any, queue: str) -> None:
    for task_id in ("d1", "d2", "d3"):
        ok(tasksctl(*CREATE, task_id, "--queue", queue, "--url", URL))
    one = ok(tasksctl("tasks", "delete", "d1", "--queue", queue))
    assert one.stderr == "Deleted task [d1].\n"
    two = ok(tasksctl("tasks", "delete", "d2", full_name(queue, "d3"), "--queue", queue))
    assert two.stderr == "Deleted task [d2].\nDeleted task [d3].\n"
    assert names_in(tasksctl, queue) == []
    ok(tasksctl(*CREATE, "d4", "--queue", queue, "--url", URL))
    partly = tasksctl("tasks", "delete", "d4", "d1", "--queue", queue)
    assert partly.exit_code == 1
    lines = partly.stderr.splitlines()
    assert lines[0] == "Deleted task [d4]."
    assert lines[1].startswith("WARNING: Task [d1] was not deleted: NOT_FOUND: ")
    assert lines[2] == "ERROR: (tasksctl.tasks.delete) 1 of 2 tasks were not deleted."
    gone = tasksctl("tasks", "delete", "d1", "--queue", queue)
    assert gone.exit_code == 1
    assert error_line(gone, "tasks.delete").startswith("NOT_FOUND: ")


def test_delete_by_filter_and_all(tasksctl: Any, client: Any, queue: str) -> None:
    parent = f"projects/{PROJECT}/locations/{LOCATION}/queues/{queue}"
    for n in range(14):
        path = "/keep" if n < 11 else "/drop"
        client.create_task(parent=parent, task={"http_request": {"url": f"http://h{path}"}})
    refused = tasksctl("tasks", "delete", "--queue", queue, "--filter", "httpRequest.url:drop")
    assert refused.exit_code == 2  # a prompt, and stdin is not a terminal
    assert "use --quiet" in refused.stderr
    dropped = ok(
        tasksctl("tasks", "delete", "--queue", queue, "--filter", "httpRequest.url:drop", "-q")
    )
    assert len(dropped.stderr.splitlines()) == 3  # one line per task for a few
    assert all(line.startswith("Deleted task [") for line in dropped.stderr.splitlines())
    assert len(names_in(tasksctl, queue)) == 11
    everything = ok(tasksctl("tasks", "delete", "--queue", queue, "--all", "--quiet"))
    assert everything.stderr == f"Deleted 11 tasks from [{LOCATION}/{queue}].\n"
    assert names_in(tasksctl, queue) == []
    nothing = ok(tasksctl("tasks", "delete", "--queue", queue, "--all", "-q"))
    assert nothing.stderr == f"No tasks to delete in [{LOCATION}/{queue}].\n"
    for args, message in (
        (
            ["d1", "--all"],
            "argument TASK: At most one of TASK | --all | --filter can be specified.",
        ),
        (
            ["--all", "--filter", "x"],
            "argument --all: At most one of --all | --filter can be specified.",
        ),
        ([], "Name the tasks to delete, or use --queue with --all or --filter."),
        (["--all"], "argument --queue: Must be specified."),
    ):
        result = tasksctl(
            "tasks", "delete", *args, *(["--queue", queue] if args != ["--all"] else [])
        )
        assert result.exit_code == 2
        assert error_line(result, "tasks.delete") == message


# -- queues wait-empty ----------------------------------------------------------------------------


def test_wait_empty(tasksctl: Any, queue: str, unique: str) -> None:
    done = ok(tasksctl("queues", "wait-empty", queue, "--timeout", "5s"))
    assert done.stderr == f"Queue [{LOCATION}/{queue}] is empty.\n"
    ok(tasksctl(*CREATE, "--queue", queue, "--url", URL))
    started = time.monotonic()
    late = tasksctl("queues", "wait-empty", queue, "--timeout", "0.4s", "--interval", "0.1s")
    assert 0.4 <= time.monotonic() - started < 5
    assert late.exit_code == 1
    assert error_line(late, "queues.wait-empty") == (
        f"Timed out after 0.4s: queue [{LOCATION}/{queue}] still holds 1 task."
    )
    missing = tasksctl("queues", "wait-empty", f"none-{unique}", "--timeout", "1s")
    assert missing.exit_code == 1
    assert error_line(missing, "queues.wait-empty").startswith("NOT_FOUND: ")
    assert tasksctl("queues", "wait-empty", queue, "--interval", "0s").exit_code == 2


def test_wait_empty_spinner_on_a_terminal(
    cli_env: dict[str, str], tasksctl: Any, queue: str
) -> None:
    ok(tasksctl(*CREATE, "--queue", queue, "--url", URL))
    code, text = run_on_terminal(
        ["queues", "wait-empty", queue, "--timeout", "1s", "--interval", "0.2s"], cli_env
    )
    assert code == 1
    assert f"Waiting for [{LOCATION}/{queue}] to empty: 1 task left" in text  # the spinner
    assert text.rstrip().endswith("still holds 1 task.")


# -- tasks failed / engine reset outside the local engine -----------------------------------------


def test_failed_and_reset_on_the_cloud_backend(tasksctl: Any) -> None:
    cloud = {"TASKSCTL_BACKEND": "cloud", "TASKSCTL_ENDPOINT": None}
    result = tasksctl("tasks", "failed", "--queue", "q", env=cloud)
    assert result.exit_code == 1
    assert error_line(result, "tasks.failed") == (
        "`tasks failed` exists only on the local engine (the backend is cloud); in production, "
        "failed attempts are in Cloud Logging: gcloud logging read "
        "'resource.type=\"cloud_tasks_queue\"'."
    )
    reset = tasksctl("engine", "reset", "--quiet", env=cloud)
    assert reset.exit_code == 1
    assert error_line(reset, "engine.reset") == (
        "`engine reset` empties the local engine only; it is refused on the cloud backend."
    )


def test_failed_and_reset_when_the_side_port_does_not_answer(tasksctl: Any) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = tasksctl("tasks", "failed", "--queue", "q", env={"TASKSCTL_ENGINE_HTTP": url})
    assert result.exit_code == 1
    message = error_line(result, "tasks.failed")
    assert message.startswith(
        f"`tasks failed` exists only on the local engine, and its side port {url} did not answer"
    )
    assert message.endswith("gcloud logging read 'resource.type=\"cloud_tasks_queue\"'.")
    reset = tasksctl("engine", "reset", "-q", env={"TASKSCTL_ENGINE_HTTP": url})
    assert reset.exit_code == 1
    assert "did not answer" in error_line(reset, "engine.reset")
    prompt = tasksctl("engine", "reset")  # the prompt comes before any request
    assert prompt.exit_code == 2
    assert "use --quiet" in error_line(prompt, "engine.reset")


# -- delivery (needs the dispatcher) --------------------------------------------------------------


def test_every_flag_reaches_the_delivered_request(
    tasksctl: Any, running: str, sink: Sink, tmp_path: Path
) -> None:
    from google.auth import jwt

    body = bytes(range(256))
    (tmp_path / "b").write_bytes(body)
    created = ok(
        tasksctl(
            *CREATE,
            "--queue",
            running,
            "--url",
            sink.url_for("/hook") + "?x=1",
            "--method",
            "PUT",
            "--header",
            "X-One: 1",
            "--header",
            "Content-Type: text/plain",
            "--body-file",
            str(tmp_path / "b"),
            "--dispatch-deadline",
            "20s",
            "--oidc-service-account-email",
            "sa@p.iam.gserviceaccount.com",
            "--oidc-token-audience",
            "https://aud.example.com",
            "--dedup-key",
            "deliver-me",
        )
    )
    (got,) = sink.wait_for(1, timeout=10, path="/hook")
    assert (got.method, got.query, got.body) == ("PUT", "x=1", body)
    assert got.headers["X-One"] == "1"
    assert got.headers["Content-Type"] == "text/plain"
    assert got.headers["X-CloudTasks-QueueName"] == running
    assert got.headers["X-CloudTasks-TaskName"] == id_from_key("deliver-me")
    assert created.stdout.strip().endswith("/tasks/" + id_from_key("deliver-me"))
    scheme, _, token = got.headers["Authorization"].partition(" ")
    claims = jwt.decode(token, verify=False)
    assert scheme == "Bearer"
    assert (claims["aud"], claims["email"]) == (
        "https://aud.example.com",
        "sa@p.iam.gserviceaccount.com",
    )


def test_schedule_delay_delays_delivery(tasksctl: Any, tasks_engine: Any, sink: Sink) -> None:
    # On the plugin's manual-clock engine (its clock restarts at the real now for each test), the
    # delay is waited out by moving the engine's clock through the CLI, not by sleeping.
    def cli(*args: str) -> Any:
        env = {"TASKSCTL_ENDPOINT": tasks_engine.grpc_address,
               "TASKSCTL_ENGINE_HTTP": tasks_engine.http_url}  # fmt: skip
        return ok(tasksctl(*args, env=env))

    start = tasks_engine.now()
    cli("queues", "create", "delayed")
    late_url, now_url = sink.url_for("/late"), sink.url_for("/now")
    created = cli(*CREATE, "--queue", "delayed", "--url", late_url, "--schedule-delay", "2s")
    cli(*CREATE, "--queue", "delayed", "--url", now_url)
    sink.wait_for(1, timeout=10, path="/now")  # due at once: delivered with the clock standing
    assert sink.requests_for("/late") == []
    due = when(describe(cli, created.stdout.strip())["scheduleTime"])
    assert timedelta(seconds=2) <= due - start <= timedelta(seconds=60)

    # `clock set` returns once every attempt due by then was made: nothing before the delay...
    cli("engine", "clock", "set", rfc3339(due - timedelta(microseconds=1)))
    assert sink.requests_for("/late") == []
    # ... and the delayed task at its schedule time.
    cli("engine", "clock", "set", rfc3339(due))
    (late,) = sink.wait_for(1, timeout=10, path="/late")
    assert float(late.headers["X-CloudTasks-TaskETA"]) == pytest.approx(due.timestamp(), abs=1e-6)


def test_wait_empty_returns_after_delivery(tasksctl: Any, running: str, sink: Sink) -> None:
    for n in range(3):
        ok(
            tasksctl(
                *CREATE,
                "--queue",
                running,
                "--url",
                sink.url_for(f"/w{n}"),
                "--schedule-delay",
                "0.5s",
            )
        )
    ok(tasksctl("queues", "wait-empty", running, "--timeout", "20s", "--interval", "0.1s"))
    assert len(sink.requests) == 3


def test_run_dispatches_now_on_a_paused_queue(tasksctl: Any, queue: str, sink: Sink) -> None:
    ok(tasksctl(*CREATE, "r1", "--queue", queue, "--url", sink.url_for("/run")))
    ok(tasksctl("tasks", "run", "r1", "--queue", queue))
    sink.wait_for(1, timeout=10, path="/run")


def test_failed_shows_the_attempts_of_a_task_aimed_at_an_always_500_sink(
    tasksctl: Any, sink: Sink, unique: str
) -> None:
    queue = f"f-{unique}"
    ok(
        tasksctl(
            "queues",
            "create",
            queue,
            "--max-attempts",
            "2",
            "--min-backoff",
            "0.1s",
            "--max-backoff",
            "0.1s",
        )
    )
    sink.plan("/broken", Respond(500, delay=0.02))
    ok(tasksctl(*CREATE, "doomed", "--queue", queue, "--url", sink.url_for("/broken")))
    ok(tasksctl("queues", "wait-empty", queue, "--timeout", "30s", "--interval", "0.1s"))
    assert len(sink.requests_for("/broken")) == 2
    rows = json.loads(ok(tasksctl("tasks", "failed", "--queue", queue, "--format", "json")).stdout)
    assert [(r["task"], r["attempt"], r["status"]) for r in rows] == [
        ("doomed", 1, 500),
        ("doomed", 2, 500),
    ]
    assert all(20 <= r["latency_ms"] < 10_000 and when(r["time"]) for r in rows), rows
    assert rows[0]["name"] == full_name(queue, "doomed")
    assert rows[0]["url"] == sink.url_for("/broken")
    table = ok(tasksctl("tasks", "failed", "--queue", queue)).stdout.splitlines()
    assert table[0].split() == ["TASK_NAME", "ATTEMPT", "TIME", "STATUS", "LATENCY_MS", "ERROR"]
    assert [row.split()[:2] for row in table[1:]] == [["doomed", "1"], ["doomed", "2"]]


def test_engine_reset_empties_a_private_engine(tasks_engine: Any, run_cli: Any) -> None:
    # The pytest plugin's engine is this test's alone (emptied before each test), and its manual
    # clock stands still, so the deleted task's name stays reserved until the reset.
    env = {"TASKSCTL_ENDPOINT": tasks_engine.grpc_address,
           "TASKSCTL_ENGINE_HTTP": tasks_engine.http_url}  # fmt: skip
    # The state to reset is set up through the API; the command under test runs as a process.
    client = tasks_engine.client()
    parent = f"projects/{PROJECT}/locations/{LOCATION}"
    for queue in ("r-a", "r-b"):
        client.create_queue(parent=parent, queue={"name": f"{parent}/queues/{queue}"})
        client.pause_queue(name=f"{parent}/queues/{queue}")

    def create_task(task_id: str) -> None:
        task = {"name": f"{parent}/queues/r-a/tasks/{task_id}", "http_request": {"url": URL}}
        client.create_task(parent=f"{parent}/queues/r-a", task=task)

    for task_id in ("x1", "x2", "x3"):
        create_task(task_id)
    client.delete_task(name=f"{parent}/queues/r-a/tasks/x3")
    refused = run_cli("engine", "reset", env=env)
    assert refused.returncode == 2  # asks first; stdin is not a terminal
    result = run_cli("engine", "reset", "--quiet", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "Reset the local engine: deleted 2 queue(s) and 2 task(s).\n"
    assert list(client.list_queues(parent=parent)) == []
    # Names are free again: the tombstones went too.
    client.create_queue(parent=parent, queue={"name": f"{parent}/queues/r-a"})
    create_task("x3")
