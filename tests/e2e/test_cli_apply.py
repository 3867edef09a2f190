"""``tasksctl apply``, ``queues export`` and ``engine run|start --queues`` end to end.

Every test runs the real command against a real engine over real gRPC: in-process through
``CliRunner`` (the same click invocation and error funnel) for most, ``python -m tasksctl`` in
a subprocess or on a pty for stdin, terminals and engine start-up. Each test works in a project
of its own, so prune and export only ever see its queues on the shared engine.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tasksctl.cli.app import app
from tests.conftest import engine_cli, free_port, make_client
from tests.terminal import answer_prompt_on_pty

LOCATION = "us-central1"

FILE = """\
queues:
  - name: email
    rate_limits:
      max_dispatches_per_second: 10
      max_concurrent_dispatches: 5
    retry_config:
      max_attempts: 5
      min_backoff: 1s
      max_backoff: 10m
  - name: hooks
    state: paused
    stackdriver_logging_config: {sampling_ratio: 0.5}
    http_target:
      uri_override: {scheme: https, host: hooks.example, path: /in, mode: always}
      http_method: PUT
      header_overrides: {X-Env: ci}
  - name: legacy
    app_engine_routing_override: {service: worker, version: v2}
    retry_config: {max_attempts: unlimited, max_retry_duration: 1h}
"""

APP_ENGINE_FILE = """\
queue:
- name: ae-mail
  rate: 5/s
  bucket_size: 40
  max_concurrent_requests: 3
  retry_parameters:
    task_retry_limit: 4
    task_age_limit: 2h
    min_backoff_seconds: 2
    max_backoff_seconds: 60
    max_doublings: 3
- name: ae-stopped
  rate: 0
"""


# -- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture
def project(unique: str, client: Any) -> Iterator[str]:
    """A project of its own; its queues are deleted afterwards to keep the shared engine small."""
    name = f"apply-{unique}"
    yield name
    for location in (LOCATION, "europe-west1"):
        for queue in client.list_queues(parent=f"projects/{name}/locations/{location}"):
            client.delete_queue(name=queue.name)


@pytest.fixture
def tasksctl(cli_env: dict[str, str], project: str) -> Any:
    """Run tasksctl in-process against the session engine in this test's project."""
    runner = CliRunner()
    base: dict[str, str | None] = {
        key: cli_env[key]
        for key in ("TASKSCTL_ENDPOINT", "TASKSCTL_LOCATION", "TASKSCTL_CONFIG_DIR", "NO_COLOR")
    }
    base.update(
        TASKSCTL_PROJECT=project,
        TASKSCTL_NO_AUTOSTART="1",
        CLOUD_TASKS_EMULATOR_HOST=None,
        TASKSCTL_BACKEND=None,
    )

    def run(*args: str, input: str | None = None, env: dict[str, str | None] | None = None) -> Any:
        return runner.invoke(app, list(args), input=input, env={**base, **(env or {})})

    return run


@pytest.fixture
def write(tmp_path: Path) -> Any:
    """Write a queues file; returns its path as a string."""

    def make(text: str, name: str = "queues.yaml") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return make


def queue_ids(client: Any, project: str, location: str = LOCATION) -> list[str]:
    parent = f"projects/{project}/locations/{location}"
    return sorted(q.name.rsplit("/", 1)[1] for q in client.list_queues(parent=parent))


def get(client: Any, project: str, queue: str) -> Any:
    return client.get_queue(name=f"projects/{project}/locations/{LOCATION}/queues/{queue}")


def err_lines(result: Any) -> list[str]:
    return list(result.stderr.splitlines())


def one_error(result: Any, command: str = "apply") -> str:
    """The single ``ERROR: (tasksctl.<command>) ...`` line, without its prefix."""
    assert result.stdout == "", result.stdout
    lines = err_lines(result)
    assert len(lines) == 1, result.stderr
    prefix = f"ERROR: (tasksctl.{command}) "
    assert lines[0].startswith(prefix), lines[0]
    return str(lines[0][len(prefix) :])


# -- apply --------------------------------------------------------------------------------------


def test_create_from_empty_then_a_second_apply_changes_nothing(
    tasksctl: Any, write: Any, client: Any, project: str
) -> None:
    path = write(FILE)
    first = tasksctl("apply", "-f", path)
    assert first.exit_code == 0, first.output
    assert first.stdout == ""
    assert err_lines(first) == [
        f"Created queue [{LOCATION}/email].",
        f"Created queue [{LOCATION}/hooks].",
        f"Paused queue [{LOCATION}/hooks].",
        f"Created queue [{LOCATION}/legacy].",
        "Apply complete: 3 created, 0 updated, 1 paused, 0 resumed, 0 deleted.",
    ]
    email, hooks, legacy = (get(client, project, q) for q in ("email", "hooks", "legacy"))
    assert email.rate_limits.max_dispatches_per_second == 10
    assert email.rate_limits.max_concurrent_dispatches == 5
    assert email.retry_config.max_attempts == 5
    assert email.retry_config.min_backoff.total_seconds() == 1
    assert hooks.state.name == "PAUSED"
    assert hooks.http_target.uri_override.host == "hooks.example"
    assert hooks.http_target.http_method.name == "PUT"
    assert [(h.header.key, h.header.value) for h in hooks.http_target.header_overrides] == [
        ("X-Env", "ci")
    ]
    assert hooks.stackdriver_logging_config.sampling_ratio == 0.5
    assert legacy.app_engine_routing_override.service == "worker"
    assert legacy.retry_config.max_attempts == -1

    again = tasksctl("apply", "-f", path)
    assert again.exit_code == 0, again.output
    assert (again.stdout, err_lines(again)) == ("", [f"No changes: 3 queues match {path}."])
    detailed = tasksctl("apply", "-f", path, "--detailed-exitcode")
    assert detailed.exit_code == 0, detailed.output
    assert err_lines(detailed) == [f"No changes: 3 queues match {path}."]


def test_one_changed_field_sends_a_one_path_update_mask(
    tasksctl: Any, write: Any, client: Any, project: str
) -> None:
    path = write(FILE)
    assert tasksctl("apply", "-f", path).exit_code == 0
    before = {q: type(get(client, project, q)).to_dict(get(client, project, q)) for q in
              ("email", "hooks", "legacy")}  # fmt: skip
    write(FILE.replace("max_attempts: 5", "max_attempts: 7"))
    result = tasksctl("apply", "-f", path, "--verbosity", "debug", "--detailed-exitcode")
    assert result.exit_code == 2, result.output
    lines = [line for line in err_lines(result) if not line.startswith("DEBUG: Using")]
    assert lines == [
        f"Updated queue [{LOCATION}/email].",
        f"DEBUG: update_mask [{LOCATION}/email]: retry_config.max_attempts",
        "Apply complete: 0 created, 1 updated, 0 paused, 0 resumed, 0 deleted.",
    ]
    after = {q: type(get(client, project, q)).to_dict(get(client, project, q)) for q in
             ("email", "hooks", "legacy")}  # fmt: skip
    assert after["email"]["retry_config"].pop("max_attempts") == 7
    assert before["email"]["retry_config"].pop("max_attempts") == 5
    assert after == before  # nothing else moved, in this queue or the others


def test_dry_run_prints_the_plan_and_changes_nothing(
    tasksctl: Any, write: Any, client: Any, project: str
) -> None:
    path = write(FILE)
    assert tasksctl("apply", "-f", path).exit_code == 0
    write(FILE.replace("max_dispatches_per_second: 10", "max_dispatches_per_second: 20")
          + "  - name: extra\n")  # fmt: skip
    result = tasksctl("apply", "-f", path, "--dry-run", "--detailed-exitcode")
    assert result.exit_code == 2, result.output
    assert result.stdout.splitlines() == [
        "~ update queue email: rate_limits.max_dispatches_per_second 10 → 20",
        "+ create queue extra",
        "Plan: 1 to create, 1 to update, 0 to pause, 0 to resume, 0 to delete.",
    ]
    assert err_lines(result) == ["Dry run: nothing was changed."]
    assert queue_ids(client, project) == ["email", "hooks", "legacy"]
    assert get(client, project, "email").rate_limits.max_dispatches_per_second == 10
    plain = tasksctl("apply", "-f", path, "--dry-run")
    assert plain.exit_code == 0, plain.output


def test_diff_shows_field_changes_and_masks_plain_when_piped(
    tasksctl: Any, write: Any, project: str
) -> None:
    path = write(FILE)
    assert tasksctl("apply", "-f", path).exit_code == 0
    write(FILE.replace("    state: paused\n", "").replace("      max_attempts: 5\n", ""))
    result = tasksctl("apply", "-f", path, "--diff")
    assert result.exit_code == 0, result.output
    assert "\x1b[" not in result.stdout
    assert result.stdout.splitlines() == [
        "~ update queue email",
        "    ~ retry_config.max_attempts: 5 → 100 (default)",
        "      update_mask: retry_config.max_attempts",
        "~ resume queue hooks",
        "    ~ state: paused → running",
        "Plan: 0 to create, 1 to update, 0 to pause, 1 to resume, 0 to delete.",
    ]
    assert err_lines(result) == [
        f"Updated queue [{LOCATION}/email].",
        f"Resumed queue [{LOCATION}/hooks].",
        "Apply complete: 0 created, 1 updated, 0 paused, 1 resumed, 0 deleted.",
    ]


def test_prune_deletes_absent_queues_only_with_quiet(
    tasksctl: Any, write: Any, client: Any, project: str
) -> None:
    path = write(FILE)
    assert tasksctl("apply", "-f", path).exit_code == 0
    other = f"projects/{project}/locations/europe-west1"
    client.create_queue(parent=other, queue={"name": f"{other}/queues/elsewhere"})
    write("queues:\n  - name: email\n  - name: newcomer\n")

    refused = tasksctl("apply", "-f", path, "--prune")
    assert refused.exit_code == 2
    assert one_error(refused) == (
        "Cannot ask for confirmation because stdin is not a terminal; "
        "use --quiet to proceed without a prompt."
    )
    refused_ci = tasksctl("apply", "-f", path, "--prune", "--detailed-exitcode")
    assert refused_ci.exit_code == 1, refused_ci.output
    assert queue_ids(client, project) == ["email", "hooks", "legacy"]  # nothing at all changed
    assert get(client, project, "email").rate_limits.max_dispatches_per_second == 10

    pruned = tasksctl("apply", "-f", path, "--prune", "--quiet")
    assert pruned.exit_code == 0, pruned.output
    assert err_lines(pruned) == [
        f"Updated queue [{LOCATION}/email].",
        f"Created queue [{LOCATION}/newcomer].",
        f"Deleted queue [{LOCATION}/hooks].",
        f"Deleted queue [{LOCATION}/legacy].",
        "Apply complete: 1 created, 1 updated, 0 paused, 0 resumed, 2 deleted.",
    ]
    assert queue_ids(client, project) == ["email", "newcomer"]
    assert queue_ids(client, project, "europe-west1") == ["elsewhere"]  # outside the scope
    again = tasksctl("apply", "-f", path, "--prune", "--detailed-exitcode")
    assert again.exit_code == 0 and err_lines(again) == [f"No changes: 2 queues match {path}."]


def test_prune_asks_on_a_terminal(
    cli_env: dict[str, str], write: Any, client: Any, project: str
) -> None:
    parent = f"projects/{project}/locations/{LOCATION}"
    for queue in ("keep", "drop"):
        client.create_queue(parent=parent, queue={"name": f"{parent}/queues/{queue}"})
    path = write("queues:\n  - name: keep\n")
    env = {**cli_env, "TASKSCTL_PROJECT": project}
    args = ["apply", "-f", path, "--prune"]
    code, text = answer_prompt_on_pty(args, b"n\n", env)
    assert code == 1
    asked = (
        f"1 queue not in {path} will be deleted: [{LOCATION}/drop]. Deleted queues can not be "
        "re-created for a duration of up to 7 days. Do you want to continue (Y/n)?  "
    )
    # the prompt is wrapped at 80 columns, as gcloud wraps its prompts
    assert text.replace("\n", "").startswith(asked.replace("\n", ""))
    assert all(len(line) <= 80 for line in text.splitlines())
    assert text.endswith("ERROR: (tasksctl.apply) Aborted by user.\n")
    assert queue_ids(client, project) == ["drop", "keep"]
    code, text = answer_prompt_on_pty(args, b"y\n", env)
    assert code == 0, text
    assert text.endswith(
        f"Deleted queue [{LOCATION}/drop].\n"
        "Apply complete: 0 created, 0 updated, 0 paused, 0 resumed, 1 deleted.\n"
    )
    assert queue_ids(client, project) == ["keep"]


def test_diff_is_coloured_on_a_terminal(cli_env: dict[str, str], write: Any, project: str) -> None:
    path = write("queues:\n  - name: tty\n    rate_limits: {max_dispatches_per_second: 3}\n")
    env = {key: value for key, value in cli_env.items() if key != "NO_COLOR"}
    env.update(TASKSCTL_PROJECT=project, TERM="xterm-256color")
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "tasksctl", "apply", "-f", path, "--dry-run", "--diff"],
            stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE, env=env, timeout=60,
        )  # fmt: skip
        os.close(slave)
        slave = -1
        shown = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child's side of the terminal is closed
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    assert proc.returncode == 0, proc.stderr
    text = shown.decode()
    assert "\x1b[" in text  # rich colours on a terminal
    assert "+ create queue" in text and "rate_limits.max_dispatches_per_second: 3" in text


def test_detailed_exit_codes_and_a_failed_rpc(
    tasks_engine: Any, tasksctl: Any, run_cli: Any, write: Any
) -> None:
    """0 nothing to do, 2 changed, 1 error; the failed RPC says what was already done."""
    # The pytest plugin's engine, emptied for this test; its manual clock stands still.
    env = {"TASKSCTL_ENDPOINT": tasks_engine.grpc_address, "TASKSCTL_PROJECT": "codes"}
    parent = f"projects/codes/locations/{LOCATION}"
    client = tasks_engine.client()
    client.create_queue(parent=parent, queue={"name": f"{parent}/queues/b-gone"})
    client.delete_queue(name=f"{parent}/queues/b-gone")  # its name stays reserved: time stands
    path = write("queues:\n  - name: a-ok\n  - name: b-gone\n")

    failed = run_cli("apply", "-f", path, env=env)  # the real process and its exit status
    assert failed.returncode == 1, failed.stderr
    assert failed.stdout == ""
    message = failed.stderr.strip()
    assert message.startswith(
        f"Created queue [{LOCATION}/a-ok].\n"
        f"ERROR: (tasksctl.apply) create queue [{parent}/queues/b-gone] failed: "
        "FAILED_PRECONDITION: "
    )
    assert message.endswith("(already done: created a-ok)")
    detailed = tasksctl("apply", "-f", path, "--detailed-exitcode", env=env)
    assert detailed.exit_code == 1, detailed.output
    assert "nothing was changed before it" in detailed.stderr

    path = write("queues:\n  - name: a-ok\n")
    assert tasksctl("apply", "-f", path, "--detailed-exitcode", env=env).exit_code == 0
    path = write("queues:\n  - name: a-ok\n  - name: c-new\n")
    changed = tasksctl("apply", "-f", path, "--detailed-exitcode", env=env)
    assert changed.exit_code == 2, changed.output
    assert tasksctl("apply", "-f", path, "--detailed-exitcode", env=env).exit_code == 0
    bad = write("queues:\n  - name: a-ok\n    colour: blue\n", "bad.yaml")
    assert tasksctl("apply", "-f", bad, env=env).exit_code == 2  # a usage error...
    flagged = tasksctl("apply", "-f", bad, "--detailed-exitcode", env=env)
    assert flagged.exit_code == 1  # ...is 1 where 2 would mean "changed"
    assert one_error(flagged).startswith(f"{bad}:3: queues[0].colour: unknown key")


def test_stdin_and_schema(run_cli: Any, tasksctl: Any, client: Any, project: str) -> None:
    env = {"TASKSCTL_PROJECT": project}
    text = "queues:\n  - name: piped\n    retry_config: {max_doublings: 2}\n"
    result = run_cli("apply", "-f", "-", input=text, env=env)  # a real pipe on stdin
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == f"Created queue [{LOCATION}/piped]."
    assert get(client, project, "piped").retry_config.max_doublings == 2
    again = tasksctl("apply", "-f", "-", input=text)
    assert again.stderr == "No changes: 1 queue matches <stdin>.\n"
    bad = tasksctl("apply", "-f", "-", input="queues:\n  - name: x\n    state: off\n")
    assert bad.exit_code == 2
    assert bad.stderr == (
        "ERROR: (tasksctl.apply) <stdin>:3: queues[0].state: expected running or paused, "
        "got false\n"
    )

    schema = tasksctl("apply", "--schema", env={"TASKSCTL_ENDPOINT": "127.0.0.1:9"})
    assert schema.exit_code == 0, schema.stderr
    document = json.loads(schema.stdout)
    assert document["$schema"].startswith("https://json-schema.org/")
    assert "queues" in document["properties"]
    assert schema.stdout.startswith('{\n  "$schema"')  # indent 2
    missing = tasksctl("apply")
    assert missing.exit_code == 2
    assert missing.stderr.startswith("ERROR: (tasksctl.apply) Missing option '-f'")


BAD_FILES = [
    pytest.param(
        "queues:\n  - name: good\n  - name: bad\n    rate_limit: {max_dispatches_per_second: 1}\n",
        "4: queues[1].rate_limit: unknown key; did you mean 'rate_limits'?",
        id="unknown-key",
    ),
    pytest.param(
        "queues:\n  - name: good\n  - name: bad\n    retry_config:\n      max_attempts: lots\n",
        "5: queues[1].retry_config.max_attempts: expected an integer or \"unlimited\", got 'lots'",
        id="wrong-type",
    ),
    pytest.param(
        "queues:\n  - name: good\n  - name: bad\n    rate_limits:\n"
        "      max_concurrent_dispatches: 6000\n",
        "5: queues[1].rate_limits.max_concurrent_dispatches: 6000 is out of range "
        "(must be between 1 and 5000)",
        id="out-of-range",
    ),
    pytest.param(
        "queues:\n  - name: good\n  - name: twice\n  - name: twice\n",
        "4: queues[2]: duplicate queue projects/{project}/locations/us-central1/queues/twice "
        "(also at line 3, queues[1])",
        id="duplicate-queue",
    ),
]


@pytest.mark.parametrize(("text", "detail"), BAD_FILES)
def test_a_bad_file_fails_with_file_line_and_field_and_changes_nothing(
    tasksctl: Any, write: Any, client: Any, project: str, text: str, detail: str
) -> None:
    path = write(text)
    result = tasksctl("apply", "-f", path)
    assert result.exit_code == 2
    assert one_error(result) == f"{path}:{detail.format(project=project)}"
    assert queue_ids(client, project) == []  # not even the good queue before it
    # The file is checked before any connection: no engine needed to find the error.
    offline = tasksctl("apply", "-f", path, env={"TASKSCTL_ENDPOINT": "127.0.0.1:9"})
    assert offline.exit_code == 2 and one_error(offline) == one_error(result)


def test_app_engine_queue_yaml_is_converted_and_pull_queues_refused(
    tasksctl: Any, write: Any, client: Any, project: str
) -> None:
    path = write(APP_ENGINE_FILE, "queue.yaml")
    result = tasksctl("apply", "-f", path)
    assert result.exit_code == 0, result.output
    lines = err_lines(result)
    assert lines[0].startswith(f"WARNING: {path}:4: queue[0].bucket_size: ignored: ")
    assert lines[1:] == [
        f"Created queue [{LOCATION}/ae-mail].",
        f"Created queue [{LOCATION}/ae-stopped].",
        f"Paused queue [{LOCATION}/ae-stopped].",
        "Apply complete: 2 created, 0 updated, 1 paused, 0 resumed, 0 deleted.",
    ]
    mail = get(client, project, "ae-mail")
    assert mail.rate_limits.max_dispatches_per_second == 5
    assert mail.rate_limits.max_concurrent_dispatches == 3
    retry = mail.retry_config
    assert retry.max_attempts == 5  # task_retry_limit + 1: Cloud Tasks counts the first attempt
    assert retry.max_retry_duration.total_seconds() == 7200
    assert (retry.min_backoff.total_seconds(), retry.max_backoff.total_seconds()) == (2, 60)
    assert retry.max_doublings == 3
    assert get(client, project, "ae-stopped").state.name == "PAUSED"
    again = tasksctl("apply", "-f", path)
    assert again.exit_code == 0 and err_lines(again)[-1] == f"No changes: 2 queues match {path}."

    pull = write("queue:\n- name: ae-new\n  rate: 1/s\n- name: pulled\n  mode: pull\n", "pull.yaml")
    refused = tasksctl("apply", "-f", pull)
    assert refused.exit_code == 2
    assert one_error(refused).startswith(
        f"{pull}:5: queue[1].mode: pull queues are not supported by Cloud Tasks v2"
    )
    assert queue_ids(client, project) == ["ae-mail", "ae-stopped"]


# -- export -------------------------------------------------------------------------------------


def test_export_apply_on_an_empty_engine_export_round_trip(
    tasks_engine: Any, tasksctl: Any, write: Any, tmp_path: Path, project: str
) -> None:
    assert tasksctl("apply", "-f", write(FILE)).exit_code == 0
    first = tasksctl("queues", "export")
    assert first.exit_code == 0, first.stderr
    assert first.stderr == ""
    assert first.stdout.startswith(f"project: {project}\nlocation: {LOCATION}\nqueues:\n")
    assert "  - name: hooks\n    state: paused\n" in first.stdout

    fresh_env = {"TASKSCTL_ENDPOINT": tasks_engine.grpc_address}  # the plugin's, emptied
    applied = tasksctl("apply", "-f", "-", input=first.stdout, env=fresh_env)
    assert applied.exit_code == 0, applied.stderr
    target = tmp_path / "exported.yaml"
    second = tasksctl("queues", "export", "--output", str(target), env=fresh_env)
    assert second.exit_code == 0, second.stderr
    assert second.stderr == f"Exported 3 queues of [{LOCATION}] to [{target}].\n"
    assert target.read_text() == first.stdout

    empty = tasksctl("queues", "export", "--location", "asia-east1", env=fresh_env)
    assert empty.stdout == f"project: {project}\nlocation: asia-east1\nqueues: []\n"


# -- engine start-up ----------------------------------------------------------------------------


def test_engine_run_with_queues_has_them_before_the_first_request(
    engine_factory: Any, write: Any
) -> None:
    path = write(FILE.replace("queues:\n", "project: preload\nqueues:\n", 1))
    default = write("queues:\n  - name: default-scope\n", "default.yaml")
    engine = engine_factory("--queues", path)
    client = make_client(engine.address)
    assert queue_ids(client, "preload") == ["email", "hooks", "legacy"]
    assert get(client, "preload", "hooks").state.name == "PAUSED"
    assert get(client, "preload", "email").rate_limits.max_concurrent_dispatches == 5
    engine.stop()

    # A restart with another file adds its queues and keeps the ones already there.
    engine = engine_factory("--queues", default, data_dir=engine.data_dir)
    client = make_client(engine.address)
    assert queue_ids(client, "preload") == ["email", "hooks", "legacy"]
    project = os.environ.get("TASKSCTL_PROJECT") or "local-project"
    location = os.environ.get("TASKSCTL_LOCATION") or LOCATION
    assert queue_ids(client, project, location) == ["default-scope"]


def test_engine_run_with_a_bad_queues_file_exits_before_serving(write: Any, tmp_path: Path) -> None:
    path = write("queues:\n  - name: q\n    rate_limits: {max_dispatches_per_second: 900}\n")
    result = subprocess.run(
        [sys.executable, "-m", "tasksctl", "engine", "run", "--port", str(free_port()),
         "--http-port", str(free_port()), "--data-dir", str(tmp_path / "data"), "--queues", path],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stdout == ""  # no ready line
    assert result.stderr.splitlines()[-1] == (
        f"ERROR: (tasksctl.engine.run) {path}:3: queues[0].rate_limits.max_dispatches_per_second:"
        " 900 is out of range (must be > 0 and <= 500)"
    )
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data" / "engine.pid").exists()


def test_engine_start_with_queues(daemon_env: dict[str, str], write: Any) -> None:
    bad = write("queues:\n  - name: q\n  - name: q\n", "bad.yaml")
    failed = engine_cli(daemon_env, "start", "--queues", bad)
    assert failed.returncode == 1
    assert failed.stderr.startswith("ERROR: (tasksctl.engine.start) The local engine exited")
    assert f"{bad}:3: queues[1]: duplicate queue" in failed.stderr

    good = write("queues:\n  - name: started\n")
    started = engine_cli(daemon_env, "start", "--queues", good)
    assert started.returncode == 0, started.stderr
    client = make_client(f"127.0.0.1:{daemon_env['TASKSCTL_ENGINE_PORT']}")
    assert queue_ids(client, "local-project") == ["started"]

    # Already running: the file is applied to the running engine.
    write("queues:\n  - name: started\n  - name: later\n")
    again = engine_cli(daemon_env, "start", "--queues", good)
    assert again.returncode == 0, again.stderr
    assert "is already running" in again.stderr
    assert f"Created queue [projects/local-project/locations/{LOCATION}/queues/later]." in (
        again.stderr
    )
    assert queue_ids(client, "local-project") == ["later", "started"]
