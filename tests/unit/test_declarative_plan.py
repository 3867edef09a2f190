"""Planning: which RPCs reconcile live queues with a file, exact update masks, rendering."""

from __future__ import annotations

import io

import pytest
from google.cloud import tasks_v2
from rich.console import Console

from tasksctl.declarative.convert import export_queues, queue_leaves, spec_to_queue
from tasksctl.declarative.fields import NANOS
from tasksctl.declarative.plan import Plan, compute_plan
from tasksctl.declarative.render_plan import action_message, plan_lines, render_plan
from tasksctl.declarative.spec import QueueSpec, load_text

P, L = "proj", "us-central1"


def specs(body: str, project: str = P, location: str = L) -> tuple[QueueSpec, ...]:
    return load_text("queues:\n" + body, "queues.yaml", project, location).queues


def live(body: str, state: str = "RUNNING") -> list[tasks_v2.Queue]:
    """Queues as a server returns them: defaults filled in, burst size set, a state."""
    result = []
    for spec in specs(body):
        queue = spec_to_queue(spec, fill_defaults=True)
        pb = tasks_v2.Queue.pb(queue)
        pb.rate_limits.max_burst_size = 100
        pb.retry_config.max_retry_duration.SetInParent()
        pb.state = tasks_v2.Queue.State[state]
        result.append(tasks_v2.Queue.wrap(pb))
    return result


def kinds(plan: Plan) -> list[tuple[str, str]]:
    return [(action.kind, action.queue_id) for action in plan.actions]


def test_everything_is_created_from_empty() -> None:
    wanted = specs(
        "  - name: b\n    state: paused\n  - name: a\n    rate_limits: "
        "{max_dispatches_per_second: 10}\n"
    )
    plan = compute_plan(wanted, [])
    assert kinds(plan) == [("create", "a"), ("create", "b"), ("pause", "b")]
    create_a = plan.actions[0]
    assert create_a.parent == f"projects/{P}/locations/{L}"
    assert (
        create_a.queue is not None and create_a.queue.name == f"projects/{P}/locations/{L}/queues/a"
    )
    assert create_a.queue.rate_limits.max_dispatches_per_second == 10
    assert [(c.path, c.old, c.new) for c in create_a.changes] == [
        ("rate_limits.max_dispatches_per_second", None, 10.0)
    ]
    assert plan.summary() == "Plan: 2 to create, 0 to update, 1 to pause, 0 to resume, 0 to delete."


def test_matching_queues_need_no_action() -> None:
    body = (
        "  - name: a\n    retry_config: {max_attempts: unlimited, min_backoff: 0.1s, "
        "max_backoff: 1h}\n"
        "    http_target:\n      header_overrides: {B: '2', A: '1'}\n"
        "      oidc_token: {service_account_email: a@b, audience: x}\n"
        "  - name: b\n    state: paused\n"
    )
    current = live(body)
    tasks_v2.Queue.pb(current[1]).state = tasks_v2.Queue.State.PAUSED
    plan = compute_plan(specs(body), current)
    assert plan.actions == ()
    assert not plan.has_changes
    assert plan.summary() == "No changes. The queues match the file."


def test_one_changed_field_gives_a_one_path_mask() -> None:
    current = live(
        "  - name: a\n    rate_limits: {max_dispatches_per_second: 500}\n    retry_config: "
        "{max_attempts: 5}\n"
    )
    plan = compute_plan(
        specs(
            "  - name: a\n    rate_limits: {max_dispatches_per_second: 10}\n    retry_config: "
            "{max_attempts: 5}\n"
        ),
        current,
    )
    (action,) = plan.actions
    assert action.kind == "update"
    assert action.update_mask == ("rate_limits.max_dispatches_per_second",)
    assert [(c.path, c.old, c.new, c.reset) for c in action.changes] == [
        ("rate_limits.max_dispatches_per_second", 500.0, 10.0, False)
    ]
    assert action.queue is not None
    assert action.queue.rate_limits.max_dispatches_per_second == 10
    assert action.queue.retry_config.max_attempts == 5


def test_an_omitted_field_goes_back_to_its_default() -> None:
    current = live("  - name: a\n    retry_config: {max_attempts: 5, max_backoff: 10s}\n")
    (action,) = compute_plan(specs("  - name: a\n"), current).actions
    assert action.update_mask == ("retry_config.max_attempts", "retry_config.max_backoff")
    assert [(c.path, c.old, c.new, c.reset) for c in action.changes] == [
        ("retry_config.max_attempts", 5, 100, True),
        ("retry_config.max_backoff", 10 * NANOS, 3600 * NANOS, True),
    ]
    # The body carries the defaults explicitly, so the reset does not depend on mask semantics.
    assert action.queue is not None
    assert action.queue.retry_config.max_attempts == 100


def test_state_changes_use_pause_and_resume_around_the_update() -> None:
    body_paused = (
        "  - name: a\n    state: paused\n    rate_limits: {max_concurrent_dispatches: 7}\n"
    )
    body_running = "  - name: a\n    rate_limits: {max_concurrent_dispatches: 8}\n"
    plan = compute_plan(specs(body_paused), live(body_running))
    assert kinds(plan) == [("pause", "a"), ("update", "a")]
    plan = compute_plan(specs(body_running), live(body_paused, state="PAUSED"))
    assert kinds(plan) == [("update", "a"), ("resume", "a")]
    # A queue disabled by a queue.yaml upload is resumed too.
    plan = compute_plan(specs(body_running), live(body_running, state="DISABLED"))
    assert kinds(plan) == [("resume", "a")]
    assert [(c.path, c.old, c.new) for c in plan.actions[0].changes] == [
        ("state", "disabled", "running")
    ]


@pytest.mark.parametrize(
    ("before", "after", "mask"),
    [
        ("http_target: {header_overrides: {A: '1'}}", "http_target: {header_overrides: {A: '2'}}",
         ("http_target.header_overrides",)),
        ("http_target: {uri_override: {host: a.example}}",
         "http_target: {uri_override: {host: b.example, port: 8080}}",
         ("http_target.uri_override",)),
        ("http_target: {http_method: GET}", "http_target: {http_method: PUT}",
         ("http_target.http_method",)),
        ("http_target: {http_method: GET}", "{}", ("http_target",)),
        ("http_target: {oidc_token: {service_account_email: a@b, audience: x}}",
         "http_target: {oidc_token: {service_account_email: a@b, audience: y}}",
         ("http_target.oidc_token.audience",)),
        ("http_target: {oidc_token: {service_account_email: a@b, audience: x}}",
         "http_target: {oauth_token: {service_account_email: a@b, scope: s}}",
         ("http_target.oauth_token", "http_target.oidc_token")),
        ("http_target: {http_method: GET, oauth_token: {service_account_email: a@b, scope: s}}",
         "http_target: {http_method: GET}", ("http_target.oauth_token",)),
        ("app_engine_routing_override: {service: a}",
         "app_engine_routing_override: {service: a, version: v2}",
         ("app_engine_routing_override",)),
        ("stackdriver_logging_config: {sampling_ratio: 0.25}", "{}",
         ("stackdriver_logging_config.sampling_ratio",)),
        ("retry_config: {min_backoff: 1s, max_doublings: 3}",
         "retry_config: {min_backoff: 2s, max_doublings: 3}",
         ("retry_config.min_backoff",)),
    ],
)  # fmt: skip
def test_update_masks_name_exactly_the_changed_fields(
    before: str, after: str, mask: tuple[str, ...]
) -> None:
    def body(settings: str) -> str:
        return "  - name: a\n" + ("" if settings == "{}" else f"    {settings}\n")

    (action,) = compute_plan(specs(body(after)), live(body(before))).actions
    assert action.update_mask == mask


def test_floats_and_durations_compare_by_value() -> None:
    current = live("  - name: a\n    rate_limits: {max_dispatches_per_second: 0.3333333333}\n"
                   "    retry_config: {max_retry_duration: 90s}\n")  # fmt: skip
    wanted = specs("  - name: a\n"
                   "    rate_limits: {max_dispatches_per_second: 0.33333333330000004}\n"
                   "    retry_config: {max_retry_duration: 1.5m}\n")  # fmt: skip
    assert compute_plan(wanted, current).actions == ()


def test_prune_deletes_only_absent_queues_in_scope() -> None:
    current = live("  - name: keep\n  - name: stale\n")
    elsewhere = spec_to_queue(specs("  - name: other\n", location="europe-west1")[0])
    wanted = specs("  - name: keep\n")
    assert compute_plan(wanted, [*current, elsewhere]).actions == ()
    plan = compute_plan(wanted, [*current, elsewhere], prune=True)
    assert kinds(plan) == [("delete", "stale")]
    plan = compute_plan(
        wanted, [*current, elsewhere], prune=True, scope={(P, L), (P, "europe-west1")}
    )
    assert kinds(plan) == [("delete", "other"), ("delete", "stale")]
    # An empty file with prune empties its location, and nothing else.
    plan = compute_plan(
        [], {str(q.name): q for q in [*current, elsewhere]}, prune=True, scope={(P, L)}
    )
    assert kinds(plan) == [("delete", "keep"), ("delete", "stale")]


def test_export_writes_only_non_defaults_and_reloads_identically() -> None:
    body = (
        "  - name: b\n    state: paused\n    rate_limits: {max_dispatches_per_second: 2.5}\n"
        "    retry_config: {max_attempts: unlimited, max_retry_duration: 2h, min_backoff: 250ms}\n"
        "  - name: a\n    location: europe-west1\n"
        "    http_target:\n      uri_override: {scheme: https, host: h.example, path: /p, mode: "
        "if_not_exists}\n"
        "      header_overrides: {X-B: b, X-A: a}\n"
        "      oauth_token: {service_account_email: sa@x, scope: https://s}\n"
    )
    current = live(body)
    tasks_v2.Queue.pb(current[0]).state = tasks_v2.Queue.State.PAUSED
    text = export_queues(current, P, L)
    assert text == (
        "project: proj\n"
        "location: us-central1\n"
        "queues:\n"
        "  - name: a\n"
        "    location: europe-west1\n"
        "    http_target:\n"
        "      uri_override:\n"
        "        scheme: https\n"
        "        host: h.example\n"
        "        path: /p\n"
        "        mode: if_not_exists\n"
        "      header_overrides:\n"
        "        X-A: a\n"
        "        X-B: b\n"
        "      oauth_token:\n"
        "        service_account_email: sa@x\n"
        "        scope: https://s\n"
        "  - name: b\n"
        "    state: paused\n"
        "    rate_limits:\n"
        "      max_dispatches_per_second: 2.5\n"
        "    retry_config:\n"
        "      max_attempts: unlimited\n"
        "      max_retry_duration: 2h\n"
        "      min_backoff: 250ms\n"
    )
    reloaded = load_text(text, "export.yaml").queues
    assert compute_plan(reloaded, current).actions == ()
    assert queue_leaves(spec_to_queue(reloaded[1], fill_defaults=True)) == queue_leaves(current[0])


def render(plan: Plan, *, diff: bool = False, terminal: bool = False) -> str:
    out = io.StringIO()
    console = Console(
        file=out, force_terminal=terminal, color_system="standard" if terminal else None, width=200
    )
    render_plan(plan, console, diff=diff)
    return out.getvalue()


def test_plan_text_is_plain_when_piped() -> None:
    current = live("  - name: q2\n  - name: q3\n")
    wanted = specs("  - name: q1\n    state: paused\n    retry_config: {max_attempts: 3}\n"
                   "  - name: q2\n    rate_limits: {max_dispatches_per_second: 10}\n")  # fmt: skip
    plan = compute_plan(wanted, current, prune=True)
    assert render(plan) == (
        "+ create queue q1\n"
        "~ pause queue q1\n"
        "~ update queue q2: rate_limits.max_dispatches_per_second 500 → 10\n"
        "- delete queue q3\n"
        "Plan: 1 to create, 1 to update, 1 to pause, 0 to resume, 1 to delete.\n"
    )
    assert render(plan, diff=True) == (
        "+ create queue q1\n"
        "    + retry_config.max_attempts: 3\n"
        "~ pause queue q1\n"
        "    ~ state: running → paused\n"
        "~ update queue q2\n"
        "    ~ rate_limits.max_dispatches_per_second: 500 → 10\n"
        "      update_mask: rate_limits.max_dispatches_per_second\n"
        "- delete queue q3\n"
        "Plan: 1 to create, 1 to update, 1 to pause, 0 to resume, 1 to delete.\n"
    )
    assert render(Plan()) == "No changes. The queues match the file.\n"
    assert [action_message(a) for a in plan.actions] == [
        f"Created queue [projects/{P}/locations/{L}/queues/q1].",
        f"Paused queue [projects/{P}/locations/{L}/queues/q1].",
        f"Updated queue [projects/{P}/locations/{L}/queues/q2].",
        f"Deleted queue [projects/{P}/locations/{L}/queues/q3].",
    ]


def test_plan_text_is_coloured_on_a_terminal_and_names_locations_when_mixed() -> None:
    wanted = [*specs("  - name: a\n"), *specs("  - name: a\n", location="europe-west1")]
    plan = compute_plan(wanted, [])
    coloured = render(plan, terminal=True)
    assert "\x1b[32m" in coloured  # green for creates
    assert [str(line) for line in plan_lines(plan)][:2] == [
        "+ create queue europe-west1/a",
        "+ create queue us-central1/a",
    ]
    reset = compute_plan(
        specs("  - name: a\n"), live("  - name: a\n    retry_config: {max_attempts: 4}\n")
    )
    assert "    ~ retry_config.max_attempts: 4 -> 100 (default)" in [
        str(line) for line in plan_lines(reset, diff=True, arrow="->")
    ]
