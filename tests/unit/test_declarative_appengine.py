"""App Engine queue.yaml → Cloud Tasks specs: the documented mapping, warnings and errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tasksctl.declarative.convert import specs_to_yaml
from tasksctl.declarative.fields import NANOS
from tasksctl.declarative.spec import load_file, load_text
from tasksctl.declarative.yamlsrc import SpecError

QUEUE_YAML = """\
total_storage_limit: 120M
queue:
- name: default
  rate: 5/s
  bucket_size: 40
- name: fooqueue
  rate: 10/m
  max_concurrent_requests: 20
  target: v2.worker
  retry_parameters:
    task_retry_limit: 7
    task_age_limit: 2d
- name: barqueue
  rate: 100/h
  target: worker
  retry_parameters:
    min_backoff_seconds: 10
    max_backoff_seconds: 200
    max_doublings: 0
- name: bazqueue
  rate: 1/d
  retry_parameters:
    min_backoff_seconds: 10
    max_backoff_seconds: 300
    max_doublings: 3
    task_retry_limit: 0
- name: stopped
  rate: 0
  mode: push
"""


def write(tmp_path: Path, text: str, name: str = "queue.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_queue_yaml_is_detected_and_mapped(tmp_path: Path) -> None:
    loaded = load_file(write(tmp_path, QUEUE_YAML), "my-app", "us-central1")
    assert loaded.format == "appengine"
    assert loaded.scope == {("my-app", "us-central1")}
    by_id = {spec.queue_id: spec for spec in loaded.queues}
    assert list(by_id) == ["default", "fooqueue", "barqueue", "bazqueue", "stopped"]

    # No retry_parameters: App Engine retries forever, so max_attempts is unlimited (-1).
    assert dict(by_id["default"].values) == {
        "rate_limits.max_dispatches_per_second": 5.0,
        "retry_config.max_attempts": -1,
    }
    # task_retry_limit counts retries; max_attempts counts the first attempt too: 7 + 1.
    assert dict(by_id["fooqueue"].values) == {
        "rate_limits.max_dispatches_per_second": 0.166666667,
        "rate_limits.max_concurrent_dispatches": 20,
        "app_engine_routing_override.service": "worker",
        "app_engine_routing_override.version": "v2",
        "retry_config.max_attempts": 8,
        "retry_config.max_retry_duration": 2 * 86400 * NANOS,
    }
    assert dict(by_id["barqueue"].values) == {
        "rate_limits.max_dispatches_per_second": round(100 / 3600, 9),
        "app_engine_routing_override.service": "worker",
        "retry_config.max_attempts": -1,
        "retry_config.min_backoff": 10 * NANOS,
        "retry_config.max_backoff": 200 * NANOS,
    }
    assert by_id["bazqueue"].values["retry_config.max_attempts"] == 1
    assert by_id["bazqueue"].values["retry_config.max_doublings"] == 3
    assert by_id["bazqueue"].values["rate_limits.max_dispatches_per_second"] == round(1 / 86400, 9)
    # rate: 0 stops a queue in App Engine; in Cloud Tasks the queue is paused.
    assert by_id["stopped"].state == "paused"
    assert "rate_limits.max_dispatches_per_second" not in by_id["stopped"].values
    assert by_id["default"].state == "running"


def test_unsupported_settings_are_reported_as_warnings(tmp_path: Path) -> None:
    path = write(tmp_path, QUEUE_YAML)
    loaded = load_file(path, "my-app", "us-central1")
    assert loaded.warnings == (
        f"{path}:1: total_storage_limit: ignored: Cloud Tasks has no per-app storage limit",
        f"{path}:5: queue[0].bucket_size: ignored: max_burst_size is output-only in Cloud Tasks v2 "
        "(the service derives it from the rate), so bucket_size 40 is not applied",
        f"{path}:19: queue[2].retry_parameters.max_doublings: defaulted: 0 means the Cloud Tasks "
        "default (16)",
    )


def test_converted_file_exports_to_the_tasksctl_format_and_back(tmp_path: Path) -> None:
    loaded = load_file(write(tmp_path, QUEUE_YAML), "my-app", "us-central1")
    text = specs_to_yaml(loaded.queues, "my-app", "us-central1")
    assert text.startswith("project: my-app\nlocation: us-central1\nqueues:\n  - name: barqueue\n")
    assert (
        "  - name: stopped\n    state: paused\n    retry_config:\n      max_attempts: unlimited\n"
        in text
    )
    again = load_text(text, "converted.yaml")
    assert sorted((s.name, s.state, dict(s.values)) for s in again.queues) == sorted(
        (s.name, s.state, dict(s.values)) for s in loaded.queues
    )


def test_one_sided_backoff_follows_app_engine_rule(tmp_path: Path) -> None:
    text = """\
    queue:
    - name: slow
      rate: 1/s
      retry_parameters: {min_backoff_seconds: 7200}
    - name: fast
      rate: 1/s
      retry_parameters: {max_backoff_seconds: 0.05}
    """
    slow, fast = load_file(write(tmp_path, text), "p", "l").queues
    assert (
        slow.values["retry_config.min_backoff"]
        == slow.values["retry_config.max_backoff"]
        == 7200 * NANOS
    )
    assert (
        fast.values["retry_config.min_backoff"]
        == fast.values["retry_config.max_backoff"]
        == NANOS // 20
    )


def test_concurrency_outside_cloud_tasks_limits_is_clamped(tmp_path: Path) -> None:
    text = "queue:\n- name: wide\n  rate: 500/s\n  max_concurrent_requests: 10000\n"
    path = write(tmp_path, text)
    loaded = load_file(path, "p", "l")
    assert loaded.queues[0].values["rate_limits.max_concurrent_dispatches"] == 5000
    assert loaded.warnings == (
        f"{path}:4: queue[0].max_concurrent_requests: clamped: 10000 is outside Cloud Tasks' "
        "1-5000, using 5000",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("queue:\n- name: pulled\n  mode: pull\n",
         "queue.yaml:3: queue[0].mode: pull queues are not supported by Cloud Tasks v2 (queue "
         "'pulled'); only push queues can be converted: remove it, or move pull consumers to "
         "Pub/Sub"),
        ("queue:\n- name: a\n", "queue.yaml:2: queue[0]: missing required key 'rate' (push queues "
         "need a rate, e.g. 5/s)"),
        ("queue:\n- name: a\n  rate: 600/s\n",
         "queue.yaml:3: queue[0].rate: 600/s is out of range (Cloud Tasks allows at most 500/s; "
         "this is 600/s)"),
        ("queue:\n- name: a\n  rate: 5 per second\n",
         "queue.yaml:3: queue[0].rate: expected a rate like 5/s, 10/m, 100/h or 1/d, "
         "got '5 per second'"),
        ("queue:\n- name: a\n  rate: 1/s\n  retry_parameters:\n    task_retry_limt: 3\n",
         "queue.yaml:5: queue[0].retry_parameters.task_retry_limt: unknown key; did you mean "
         "'task_retry_limit'?"),
        ("queue:\n- name: a\n  rate: 1/s\n  retry_parameters: {task_retry_limit: -1}\n",
         "queue.yaml:4: queue[0].retry_parameters.task_retry_limit: -1 is out of range (must be "
         "between 0 and 2147483646)"),
        ("queue:\n- name: a\n  rate: 1/s\n  retry_parameters: {task_age_limit: 0s}\n",
         "queue.yaml:4: queue[0].retry_parameters.task_age_limit: 0s is out of range (must be at "
         "least 1s)"),
        ("queue:\n- name: a\n  rate: 1/s\n  retry_parameters: {task_age_limit: 2 days}\n",
         "queue.yaml:4: queue[0].retry_parameters.task_age_limit: expected an age like 2d, 1h, 30m "
         "or 10s, got '2 days'"),
        ("queue:\n- name: a\n  rate: 1/s\n  retry_parameters:\n    min_backoff_seconds: 20\n"
         "    max_backoff_seconds: 10\n",
         "queue.yaml:5: queue[0].retry_parameters.min_backoff_seconds: min_backoff_seconds (20s) "
         "must not exceed max_backoff_seconds (10s)"),
        ("queue:\n- name: a\n  rate: 1/s\n  target: Not_A_Service\n",
         "queue.yaml:4: queue[0].target: expected SERVICE or VERSION.SERVICE, got 'Not_A_Service'"),
        ("queue:\n- name: a\n  rate: 1/s\n  bucket_size: 501\n",
         "queue.yaml:4: queue[0].bucket_size: 501 is out of range (must be between 0 and 500)"),
        ("queue:\n- name: a\n  rate: 1/s\n  colour: red\n",
         "queue.yaml:4: queue[0].colour: unknown key (expected one of: acl, bucket_size, "
         "max_concurrent_requests, mode, name, rate, retry_parameters, target)"),
        ("queue:\n- name: a\n  rate: 1/s\n- name: a\n  rate: 2/s\n",
         "queue.yaml:4: queue[1]: duplicate queue projects/p/locations/l/queues/a (also at line 2, "
         "queue[0])"),
        ("queues_yaml: 1\nqueue: []\n",
         "queue.yaml:1: queues_yaml: unknown key; did you mean 'queue'?"),
    ],
)  # fmt: skip
def test_bad_queue_yaml_fails_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: str
) -> None:
    write(tmp_path, text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as info:
        load_file("queue.yaml", "p", "l")
    assert str(info.value) == expected
    assert info.value.exit_code == 2
