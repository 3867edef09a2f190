"""`tasksctl tasks import` end to end against the session engine over real gRPC.

Rows go in as JSON Lines, JSON, CSV and YAML; the tasks they create are read back with
``tasks describe --response-view full``. A small gRPC relay in front of the engine that answers
UNIMPLEMENTED for the batch RPCs (as an emulator without them would) exercises the fallback to
concurrent CreateTask/DeleteTask calls.
"""

from __future__ import annotations

import base64
import csv
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from tasksctl.dedup import id_from_key
from tests.tasks_cli import (
    LOCATION,
    error_line,
    full_name,
    ok,
    run_on_terminal,
    tasksctl_fixture,
)

tasksctl = tasksctl_fixture()

URL = "http://127.0.0.1:9/hook"


@pytest.fixture
def queue(tasksctl: Any, unique: str) -> str:
    """A fresh paused queue (imports should not race the dispatcher here)."""
    name = f"imp-{unique}"
    ok(tasksctl("queues", "create", name))
    ok(tasksctl("queues", "pause", name))
    return name


def describe(tasksctl: Any, queue: str, task_id: str) -> dict[str, Any]:
    name = full_name(queue, task_id)
    result = ok(tasksctl("tasks", "describe", name, "--response-view", "full", "--format", "json"))
    return dict(json.loads(result.stdout))


def count(tasksctl: Any, queue: str) -> int:
    listed = ok(tasksctl("tasks", "list", "--queue", queue, "--format", "value(name)"))
    return len(listed.stdout.split())


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# -- the mixed file: good, duplicate and bad rows ------------------------------------------------


def test_good_duplicate_and_bad_rows(tasksctl: Any, queue: str, tmp_path: Path) -> None:
    ok(
        tasksctl(
            "tasks", "create-http-task", "--queue", queue, "--url", URL, "--dedup-key", "existing"
        )
    )
    header = [
        "url",
        "method",
        "headers",
        "body",
        "schedule_delay",
        "dispatch_deadline",
        "task_id",
        "dedup_key",
    ]
    rows = [
        [URL, "put", "X-A: 1; X-B: two", "hello", "", "", "", "k1"],  # line 2: created
        [URL, "", '{"X-J": "v, w"}', "", "1h", "30s", "t2", ""],  # line 3: created
        [URL, "", "", "", "", "", "", "k1"],  # line 4: in-file dup
        [URL, "", "", "", "", "", "", "existing"],  # line 5: existed
        ["nope", "", "", "", "", "", "", ""],  # line 6: bad URL
        [URL, "GET", "", "body", "", "", "", ""],  # line 7: GET + body
        [URL, "", "Bad Header", "", "", "", "", ""],  # line 8: bad header
        [URL, "", "", "", "", "", "t9", "k9"],  # line 9: both IDs
    ]
    source = write_csv(tmp_path / "tasks.csv", header, rows)
    result = tasksctl("tasks", "import", "--queue", queue, str(source))
    assert result.exit_code == 1
    rejects = tmp_path / "tasks.rejects.csv"
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "WARNING: line 6: url: must be an absolute http:// or https:// URL; received: nope",
        "WARNING: line 7: body: a body is allowed only with POST, PUT or PATCH, not GET.",
        "WARNING: line 8: headers: Bad value [Bad Header]: Must be of the form: "
        '"HEADER_FIELD: HEADER_VALUE".',
        "WARNING: line 9: task_id: give either task_id or dedup_key, not both",
        f"Imported [{source}] into [{LOCATION}/{queue}]: created 2, already existed 2, failed 4.",
        f"Wrote 4 failed rows to [{rejects}].",
        f"ERROR: (tasksctl.tasks.import) 4 of 8 rows failed; fix them in [{rejects}] and import "
        "that file again.",
    ]
    rejected = read_csv(rejects)
    assert [r["url"] for r in rejected] == ["nope", URL, URL, URL]
    assert list(rejected[0]) == [*header, "error"]
    assert rejected[1]["error"] == "body: a body is allowed only with POST, PUT or PATCH, not GET."
    # The stored tasks carry every field of their rows.
    k1 = describe(tasksctl, queue, id_from_key("k1"))["httpRequest"]
    assert (k1["httpMethod"], base64.b64decode(k1["body"])) == ("PUT", b"hello")
    assert {k: k1["headers"][k] for k in ("X-A", "X-B")} == {"X-A": "1", "X-B": "two"}
    t2 = describe(tasksctl, queue, "t2")
    assert t2["httpRequest"]["headers"]["X-J"] == "v, w"
    assert t2["dispatchDeadline"] == "30s"
    ahead = datetime.fromisoformat(t2["scheduleTime"].replace("Z", "+00:00")) - datetime.now(UTC)
    assert timedelta(minutes=58) < ahead <= timedelta(hours=1)
    assert count(tasksctl, queue) == 3

    # The rejects file imports as it is (same failures) ...
    again = tasksctl("tasks", "import", "--queue", queue, str(rejects))
    assert again.exit_code == 1
    assert "created 0, already existed 0, failed 4." in again.stderr
    assert len(read_csv(tmp_path / "tasks.rejects.rejects.csv")) == 4
    # ... and, once fixed, goes in; its error column is ignored.
    fixed = read_csv(rejects)
    fixed[0]["url"] = URL + "/fixed"
    fixed[1]["method"] = "POST"
    fixed[2]["headers"] = "Good-Header: 1"
    fixed[3]["task_id"] = ""
    with rejects.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(fixed[0]))
        writer.writeheader()
        writer.writerows(fixed)
    done = ok(tasksctl("tasks", "import", "--queue", queue, str(rejects)))
    assert done.stderr == (
        f"Imported [{rejects}] into [{LOCATION}/{queue}]: created 4, already existed 0, failed 0.\n"
    )
    assert count(tasksctl, queue) == 7


# -- formats ------------------------------------------------------------------------------------


def sample_rows() -> list[dict[str, Any]]:
    soon = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    return [
        {
            "url": URL + "/bin",
            "task_id": "bin",
            "body_base64": base64.b64encode(b"\x00\xff").decode(),
            "headers": {"Content-Type": "application/octet-stream", "X-N": "5"},
        },
        {
            "url": URL + "/oidc",
            "task_id": "oidc",
            "method": "PATCH",
            "body": "ü",
            "schedule_time": soon.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "dispatch_deadline": 20,
            "oidc_service_account_email": "sa@p.iam.gserviceaccount.com",
            "oidc_token_audience": "https://aud",
        },
    ]


def check_rows(tasksctl: Any, queue: str, rows: list[dict[str, Any]]) -> None:
    binary = describe(tasksctl, queue, "bin")["httpRequest"]
    assert base64.b64decode(binary["body"]) == b"\x00\xff"
    assert binary["headers"]["X-N"] == "5"
    oidc = describe(tasksctl, queue, "oidc")
    assert oidc["httpRequest"]["httpMethod"] == "PATCH"
    assert base64.b64decode(oidc["httpRequest"]["body"]) == "ü".encode()
    assert oidc["httpRequest"]["oidcToken"] == {
        "serviceAccountEmail": "sa@p.iam.gserviceaccount.com",
        "audience": "https://aud",
    }
    assert oidc["dispatchDeadline"] == "20s"
    assert oidc["scheduleTime"] == rows[1]["schedule_time"]


@pytest.mark.parametrize("fmt", ["jsonl", "json", "yaml", "yml", "ndjson"])
def test_formats(tasksctl: Any, tmp_path: Path, unique: str, fmt: str) -> None:
    queue = f"fmt-{fmt}-{unique}"
    ok(tasksctl("queues", "create", queue))
    ok(tasksctl("queues", "pause", queue))
    rows = sample_rows()
    path = tmp_path / f"tasks.{fmt}"
    if fmt in ("jsonl", "ndjson"):
        write_jsonl(path, rows)
    elif fmt == "json":
        path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    else:  # YAML reads the timestamp as a datetime and the deadline as a number
        path.write_text(yaml.safe_dump(rows).replace("'", ""), encoding="utf-8")
    result = ok(tasksctl("tasks", "import", "--queue", queue, str(path)))
    assert "created 2, already existed 0, failed 0." in result.stderr
    check_rows(tasksctl, queue, rows)


def test_stdin_needs_a_format_and_rejects_go_to_the_working_dir(
    tasksctl: Any, queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    text = json.dumps({"url": URL, "task_id": "in-1"}) + "\n" + json.dumps({"url": 1}) + "\n"
    vague = tasksctl("tasks", "import", "--queue", queue, "-", input=text)
    assert vague.exit_code == 2
    assert error_line(vague, "tasks.import") == (
        "Cannot tell the format of [-] from its name; use --input-format (jsonl, json, csv, yaml)."
    )
    result = tasksctl(
        "tasks", "import", "--queue", queue, "-", "--input-format", "jsonl", input=text
    )
    assert result.exit_code == 1
    assert "WARNING: line 2: url: must be text, not int" in result.stderr
    rejected = (tmp_path / "tasksctl-import.rejects.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in rejected] == [
        {"url": 1, "error": "url: must be text, not int"}
    ]
    assert describe(tasksctl, queue, "in-1")["httpRequest"]["url"] == URL


def test_row_errors_name_the_row_and_the_field(tasksctl: Any, queue: str, tmp_path: Path) -> None:
    lines = [
        json.dumps({"url": URL}),
        "{not json",
        "",
        json.dumps([1, 2]),
        json.dumps({"url": URL, "heders": {"a": "b"}}),
        json.dumps({"url": URL, "body": "x" * 1_048_577}),
        json.dumps({"url": URL, "body_base64": "***"}),
        json.dumps({"url": URL, "body": "a", "body_base64": "YQ=="}),
        json.dumps({"url": URL, "schedule_delay": "31d"}),
        json.dumps({"url": URL, "schedule_time": "soon"}),
        json.dumps({"url": URL, "dispatch_deadline": "2h"}),
        json.dumps({"url": URL, "oidc_token_audience": "a"}),
        json.dumps({"url": URL, "task_id": "no spaces"}),
        json.dumps({"url": URL, "headers": {"X": {"nested": 1}}}),
        json.dumps({"method": "POST"}),
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = tasksctl(
        "tasks",
        "import",
        "--queue",
        queue,
        str(path),
        "--rejects",
        str(tmp_path / "out" / "bad.jsonl"),
    )
    assert result.exit_code == 1
    warnings = [line for line in result.stderr.splitlines() if line.startswith("WARNING: ")]
    assert warnings[:10] == [
        "WARNING: line 2: not valid JSON: Expecting property name enclosed in double quotes "
        "(column 2)",
        "WARNING: line 4: a row must be an object of fields",
        "WARNING: line 5: unknown field 'heders' (fields: url, method, headers, body, "
        "body_base64, schedule_time, schedule_delay, dispatch_deadline, task_id, dedup_key, "
        "oidc_service_account_email, oidc_token_audience, oauth_service_account_email, "
        "oauth_token_scope)",
        "WARNING: line 6: body: the body is larger than the 1 MB task limit (1,048,576 bytes).",
        "WARNING: line 7: body_base64: not valid base64",
        "WARNING: line 8: body: give either body or body_base64, not both",
        "WARNING: line 9: schedule_delay: must be at most 30 days ahead; received: 31d",
        "WARNING: line 10: schedule_time: 'soon' is not an RFC 3339 timestamp "
        "(for example 2030-01-01T12:00:00Z).",
        "WARNING: line 11: dispatch_deadline: must be between 15s and 30m; received: 2h",
        "WARNING: line 12: oidc_service_account_email: Must be specified with oidc_token_audience.",
    ]
    assert warnings[10:] == ["WARNING: ... and 3 more failed rows."]
    assert "created 1, already existed 0, failed 13." in result.stderr
    rejected = [json.loads(x) for x in (tmp_path / "out" / "bad.jsonl").read_text().splitlines()]
    assert len(rejected) == 13
    assert rejected[0] == {"raw": "{not json", "error": rejected[0]["error"]}
    assert rejected[-1] == {"method": "POST", "error": "url: a URL is required"}
    assert rejected[-2]["error"] == "headers: the value of header 'X' must be text."


# -- bulk behaviour -----------------------------------------------------------------------------


def test_many_rows_go_in_batches_and_dedup_content_makes_reimport_a_no_op(
    tasksctl: Any, queue: str, tmp_path: Path
) -> None:
    path = write_jsonl(
        tmp_path / "many.jsonl", [{"url": f"{URL}/{n}", "body": f"#{n}"} for n in range(250)]
    )
    first = ok(
        tasksctl(
            "tasks", "import", "--queue", queue, str(path), "--dedup-content", "--format", "json"
        )
    )
    assert json.loads(first.stdout) == {
        "alreadyExisted": 0,
        "created": 250,
        "failed": 0,
        "file": str(path),
        "queue": f"{LOCATION}/{queue}",
        "rejects": None,
    }
    assert count(tasksctl, queue) == 250
    second = ok(
        tasksctl(
            "tasks", "import", "--queue", queue, str(path), "--dedup-content", "--concurrency", "2"
        )
    )
    assert "created 0, already existed 250, failed 0." in second.stderr
    assert not (tmp_path / "many.rejects.jsonl").exists()
    assert count(tasksctl, queue) == 250


def test_import_into_a_missing_queue_writes_nothing(
    tasksctl: Any, tmp_path: Path, unique: str
) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", [{"url": URL}])
    result = tasksctl("tasks", "import", "--queue", f"none-{unique}", str(path))
    assert result.exit_code == 1
    assert error_line(result, "tasks.import").startswith("NOT_FOUND: ")
    assert not (tmp_path / "t.rejects.jsonl").exists()


def test_unusable_files(tasksctl: Any, queue: str, tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_text("url\n")
    (tmp_path / "broken.json").write_text('[{"url": 1},\n')
    (tmp_path / "map.yaml").write_text("url: http://x/\n")
    (tmp_path / "empty.csv").write_text("")
    cases = [
        (
            "t.txt",
            [],
            "Cannot tell the format of [{d}/t.txt] from its name; use --input-format "
            "(jsonl, json, csv, yaml).",
        ),
        (
            "missing.jsonl",
            [],
            "Unable to read file [{d}/missing.jsonl]: No such file or directory.",
        ),
        ("broken.json", [], "{d}/broken.json:2: not valid JSON: Expecting value."),
        ("map.yaml", [], "{d}/map.yaml:1: a YAML import file holds a list of tasks."),
        (
            "t.txt",
            ["--input-format", "xml"],
            "argument --input-format: Invalid choice: 'xml' (choose from jsonl, json, csv, yaml).",
        ),
        ("t.txt", ["--concurrency", "0"], "argument --concurrency: must be 1 to 32; received: 0"),
    ]
    for name, extra, message in cases:
        result = tasksctl("tasks", "import", "--queue", queue, str(tmp_path / name), *extra)
        assert result.exit_code == 2, (name, result.stderr)
        assert error_line(result, "tasks.import") == message.format(d=tmp_path)
    empty = ok(tasksctl("tasks", "import", "--queue", queue, str(tmp_path / "empty.csv")))
    assert empty.stderr == f"No tasks to import in [{tmp_path / 'empty.csv'}].\n"


def test_progress_bar_on_a_terminal(
    cli_env: dict[str, str], tasksctl: Any, queue: str, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [{"url": URL} for _ in range(300)])
    code, text = run_on_terminal(["tasks", "import", "--queue", queue, str(path)], cli_env)
    assert code == 0, text
    assert "Importing" in text  # rich's bar, drawn only on a terminal
    assert text.rstrip().endswith("created 300, already existed 0, failed 0.")


# -- a backend without the batch RPCs -----------------------------------------------------------


class NoBatchRelay(grpc.GenericRpcHandler):
    """Relays every RPC to the engine as raw bytes, except BatchCreateTasks/BatchDeleteTasks,
    which it answers UNIMPLEMENTED - like an emulator that predates them."""

    def __init__(self, target: str) -> None:
        self.channel = grpc.insecure_channel(target)

    def service(self, details: Any) -> Any:
        method = details.method
        if method.endswith(("/BatchCreateTasks", "/BatchDeleteTasks")):

            def refuse(request: bytes, context: Any) -> bytes:
                context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
                raise AssertionError("unreachable")

            return grpc.unary_unary_rpc_method_handler(refuse)
        call = self.channel.unary_unary(method)

        def relay(request: bytes, context: Any) -> bytes:
            try:
                return bytes(call(request, timeout=30))
            except grpc.RpcError as exc:
                context.abort(exc.code(), exc.details())
                raise AssertionError("unreachable") from None

        return grpc.unary_unary_rpc_method_handler(relay)


@pytest.fixture
def no_batch_endpoint(engine: Any) -> Iterator[str]:
    relay = NoBatchRelay(engine.address)
    server = grpc.server(ThreadPoolExecutor(max_workers=16))
    server.add_generic_rpc_handlers([relay])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(0)
    relay.channel.close()


def test_falls_back_to_single_calls_without_batch_rpcs(
    tasksctl: Any, queue: str, tmp_path: Path, no_batch_endpoint: str
) -> None:
    env = {"TASKSCTL_ENDPOINT": no_batch_endpoint}
    rows = [{"url": URL, "dedup_key": f"n{n}"} for n in range(130)] + [
        {"url": URL, "dedup_key": "n7"},
        {"url": URL, "method": "GET", "body": "x"},
    ]
    path = write_jsonl(tmp_path / "nb.jsonl", rows)
    result = tasksctl(
        "tasks", "import", "--queue", queue, str(path), "--verbosity", "info", env=env
    )
    assert result.exit_code == 1
    assert "INFO: The backend does not serve BatchCreateTasks; used concurrent CreateTask." in (
        result.stderr
    )
    assert "created 130, already existed 1, failed 1." in result.stderr
    assert count(tasksctl, queue) == 130
    deleted = ok(tasksctl("tasks", "delete", "--queue", queue, "--all", "-q", env=env))
    assert deleted.stderr == f"Deleted 130 tasks from [{LOCATION}/{queue}].\n"
    assert count(tasksctl, queue) == 0
