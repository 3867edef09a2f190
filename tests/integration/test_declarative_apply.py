"""Declarative apply against a real engine over gRPC with the official client."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from google.cloud import tasks_v2
from google.protobuf import field_mask_pb2

from tasksctl.declarative.apply import ApplyError, apply_plan, fetch_current, plan_file
from tasksctl.declarative.convert import export_queues, queue_leaves
from tasksctl.declarative.plan import compute_plan
from tasksctl.declarative.spec import QueueFile, load_file, load_text

LOCATION = "us-central1"

FILE = """\
queues:
  - name: email
    rate_limits:
      max_dispatches_per_second: 10
      max_concurrent_dispatches: 5
    retry_config:
      max_attempts: 5
      max_retry_duration: 1h
      min_backoff: 1s
      max_backoff: 10m
      max_doublings: 4
    stackdriver_logging_config:
      sampling_ratio: 0.5
  - name: hooks
    state: paused
    http_target:
      uri_override:
        scheme: https
        host: hooks.example
        port: 8443
        path: /in
        query: "a=b"
        mode: always
      http_method: PUT
      header_overrides: {X-Env: prod, X-Team: core}
      oidc_token:
        service_account_email: sa@p.iam.gserviceaccount.com
        audience: https://hooks.example
  - name: legacy
    app_engine_routing_override: {service: worker, version: v2}
    retry_config: {max_attempts: unlimited}
"""


@pytest.fixture
def project(unique: str) -> str:
    """A project of its own, so prune and export only ever see this test's queues."""
    return f"decl-{unique}"


def load(text: str, project: str) -> QueueFile:
    return load_text(textwrap.dedent(text), "queues.yaml", project, LOCATION)


def apply_text(client: Any, text: str, project: str, prune: bool = False) -> list[tuple[str, str]]:
    plan = plan_file(client, load(text, project), prune=prune)
    result = apply_plan(client, plan)
    assert result.completed == list(plan.actions)
    return [(action.kind, action.queue_id) for action in plan.actions]


def live(client: Any, project: str, location: str = LOCATION) -> dict[str, tasks_v2.Queue]:
    return {q.name.rsplit("/", 1)[-1]: q for q in fetch_current(client, {(project, location)})}


def test_create_from_empty_then_a_second_apply_changes_nothing(client: Any, project: str) -> None:
    assert apply_text(client, FILE, project) == [
        ("create", "email"), ("create", "hooks"), ("pause", "hooks"), ("create", "legacy"),
    ]  # fmt: skip
    queues = live(client, project)
    assert sorted(queues) == ["email", "hooks", "legacy"]
    email = queues["email"]
    assert email.rate_limits.max_dispatches_per_second == 10
    assert email.rate_limits.max_concurrent_dispatches == 5
    assert email.retry_config.max_attempts == 5
    assert email.retry_config.max_retry_duration.total_seconds() == 3600
    assert email.retry_config.min_backoff.total_seconds() == 1
    assert email.retry_config.max_backoff.total_seconds() == 600
    assert email.retry_config.max_doublings == 4
    assert email.stackdriver_logging_config.sampling_ratio == 0.5
    hooks = queues["hooks"]
    assert hooks.state == tasks_v2.Queue.State.PAUSED
    assert hooks.http_target.uri_override.host == "hooks.example"
    assert hooks.http_target.uri_override.port == 8443
    assert hooks.http_target.http_method == tasks_v2.HttpMethod.PUT
    assert [(h.header.key, h.header.value) for h in hooks.http_target.header_overrides] == [
        ("X-Env", "prod"), ("X-Team", "core"),
    ]  # fmt: skip
    assert hooks.http_target.oidc_token.audience == "https://hooks.example"
    assert queues["legacy"].app_engine_routing_override.service == "worker"
    assert queues["legacy"].retry_config.max_attempts == -1

    second = plan_file(client, load(FILE, project))
    assert second.actions == ()
    result = apply_plan(client, second)
    assert not result.changed
    assert result.summary() == "No changes. The queues match the file."


def test_one_changed_field_sends_a_one_path_mask_and_changes_only_it(
    client: Any, project: str
) -> None:
    apply_text(client, FILE, project)
    before = tasks_v2.Queue.pb(live(client, project)["email"])
    changed = FILE.replace("max_dispatches_per_second: 10", "max_dispatches_per_second: 20")
    plan = plan_file(client, load(changed, project))
    (action,) = plan.actions
    assert (action.kind, action.queue_id) == ("update", "email")
    assert action.update_mask == ("rate_limits.max_dispatches_per_second",)
    assert apply_plan(client, plan).completed == [action]

    after = tasks_v2.Queue.pb(live(client, project)["email"])
    assert after.rate_limits.max_dispatches_per_second == 20
    # Everything else is as it was (max_burst_size is output-only and follows the rate).
    for message in (before, after):
        message.rate_limits.max_dispatches_per_second = 0
        message.rate_limits.max_burst_size = 0
    assert after == before
    assert plan_file(client, load(changed, project)).actions == ()


def test_settings_left_out_of_the_file_return_to_defaults(client: Any, project: str) -> None:
    apply_text(client, FILE, project)
    trimmed = FILE.replace("      max_attempts: 5\n", "").replace("      max_doublings: 4\n", "")
    (action,) = plan_file(client, load(trimmed, project)).actions
    assert action.update_mask == ("retry_config.max_attempts", "retry_config.max_doublings")
    apply_plan(client, plan_file(client, load(trimmed, project)))
    email = live(client, project)["email"]
    assert (email.retry_config.max_attempts, email.retry_config.max_doublings) == (100, 16)
    assert email.retry_config.max_backoff.total_seconds() == 600


def test_http_target_changes_token_switch_and_removal(client: Any, project: str) -> None:
    apply_text(client, FILE, project)
    switched = (
        FILE.replace("oidc_token:", "oauth_token:")
        .replace("audience: https://hooks.example", "scope: https://s.example")
        .replace("X-Team: core", "X-Team: edge")
    )
    assert switched.count("oauth_token") == 1 and "scope: https://s.example" in switched
    plan = plan_file(client, load(switched, project))
    assert [a.update_mask for a in plan.actions] == [
        ("http_target.header_overrides", "http_target.oauth_token", "http_target.oidc_token")
    ]
    apply_plan(client, plan)
    hooks = live(client, project)["hooks"]
    assert (
        tasks_v2.HttpTarget.pb(hooks.http_target).WhichOneof("authorization_header")
        == "oauth_token"
    )
    assert hooks.http_target.oauth_token.scope == "https://s.example"
    assert hooks.http_target.header_overrides[1].header.value == "edge"
    assert hooks.http_target.uri_override.host == "hooks.example"
    assert plan_file(client, load(switched, project)).actions == ()

    start = switched.index("    http_target:")
    end = switched.index("  - name: legacy")
    plain = switched[:start] + switched[end:]
    plan = plan_file(client, load(plain, project))
    assert [a.update_mask for a in plan.actions] == [("http_target",)]
    apply_plan(client, plan)
    assert not tasks_v2.Queue.pb(live(client, project)["hooks"]).HasField("http_target")
    assert plan_file(client, load(plain, project)).actions == ()


def test_state_follows_the_file(client: Any, project: str) -> None:
    apply_text(client, FILE, project)
    running = FILE.replace("    state: paused\n", "")
    assert apply_text(client, running, project) == [("resume", "hooks")]
    assert live(client, project)["hooks"].state == tasks_v2.Queue.State.RUNNING
    paused_email = FILE.replace("  - name: email\n", "  - name: email\n    state: paused\n")
    assert apply_text(client, paused_email, project) == [("pause", "email"), ("pause", "hooks")]


def test_dry_run_changes_nothing(client: Any, project: str) -> None:
    plan = plan_file(client, load(FILE, project))
    result = apply_plan(client, plan, dry_run=True)
    assert result.changed and result.completed == []
    assert result.summary() == (
        "Plan: 3 to create, 0 to update, 1 to pause, 0 to resume, 0 to delete. "
        "(dry run: nothing was changed)"
    )
    assert live(client, project) == {}


def test_prune_deletes_only_absent_queues_in_scope(client: Any, project: str) -> None:
    apply_text(client, FILE, project)
    other = f"projects/{project}/locations/europe-west1"
    client.create_queue(parent=other, queue={"name": f"{other}/queues/elsewhere"})
    only_email = FILE[: FILE.index("  - name: hooks")]
    assert plan_file(client, load(only_email, project)).actions == ()  # no prune: nothing deleted
    assert apply_text(client, only_email, project, prune=True) == [
        ("delete", "hooks"), ("delete", "legacy"),
    ]  # fmt: skip
    assert sorted(live(client, project)) == ["email"]
    assert sorted(live(client, project, "europe-west1")) == ["elsewhere"]


def test_apply_stops_at_the_first_error_and_says_what_was_done(client: Any, project: str) -> None:
    plan = plan_file(client, load("queues:\n  - name: a\n  - name: b\n  - name: c\n", project))
    parent = f"projects/{project}/locations/{LOCATION}"
    client.create_queue(
        parent=parent, queue={"name": f"{parent}/queues/b"}
    )  # behind the plan's back
    with pytest.raises(ApplyError) as info:
        apply_plan(client, plan)
    message = str(info.value)
    assert message.startswith(f"create queue [{parent}/queues/b] failed: ALREADY_EXISTS: ")
    assert message.endswith("(already done: created a; 1 more action(s) not attempted)")
    assert info.value.exit_code == 3
    assert [a.queue_id for a in info.value.completed] == ["a"]
    assert sorted(live(client, project)) == ["a", "b"]


def test_app_engine_queue_yaml_applies(client: Any, project: str, tmp_path: Path) -> None:
    path = tmp_path / "queue.yaml"
    path.write_text(
        "queue:\n- name: mail\n  rate: 30/m\n  bucket_size: 10\n  retry_parameters:\n"
        "    task_retry_limit: 3\n    task_age_limit: 1h\n- name: off\n  rate: 0\n"
    )
    queue_file = load_file(path, project, LOCATION)
    apply_plan(client, plan_file(client, queue_file))
    queues = live(client, project)
    assert queues["mail"].rate_limits.max_dispatches_per_second == 0.5
    assert queues["mail"].retry_config.max_attempts == 4
    assert queues["mail"].retry_config.max_retry_duration.total_seconds() == 3600
    assert queues["off"].state == tasks_v2.Queue.State.PAUSED
    assert queues["off"].retry_config.max_attempts == -1
    assert plan_file(client, queue_file).actions == ()


def test_export_apply_on_a_fresh_engine_export_round_trip(
    client: Any, project: str, tasks_engine: Any
) -> None:
    apply_text(client, FILE, project)
    # A setting changed outside the file shows up in the export too.
    name = f"projects/{project}/locations/{LOCATION}/queues/legacy"
    client.update_queue(
        queue={"name": name, "rate_limits": {"max_dispatches_per_second": 1.5}},
        update_mask=field_mask_pb2.FieldMask(paths=["rate_limits.max_dispatches_per_second"]),
    )
    exported = export_queues(fetch_current(client, {(project, LOCATION)}), project, LOCATION)
    assert "      max_dispatches_per_second: 1.5\n" in exported

    fresh = tasks_engine.client()  # the pytest plugin's engine, emptied for this test
    queue_file = load_text(exported, "export.yaml")
    plan = plan_file(fresh, queue_file)
    assert [a.kind for a in plan.actions] == ["create", "create", "pause", "create"]
    apply_plan(fresh, plan)
    assert export_queues(fetch_current(fresh, {(project, LOCATION)}), project, LOCATION) == exported
    assert plan_file(fresh, queue_file).actions == ()
    originals = {q.name: queue_leaves(q) for q in fetch_current(client, {(project, LOCATION)})}
    copies = {q.name: queue_leaves(q) for q in fetch_current(fresh, {(project, LOCATION)})}
    assert copies == originals


def test_compute_plan_accepts_a_dict_of_current_queues(client: Any, project: str) -> None:
    apply_text(client, FILE, project)
    current = {q.name: q for q in fetch_current(client, {(project, LOCATION)})}
    assert compute_plan(load(FILE, project).queues, current).actions == ()
