"""One module owns the API's limits and defaults: the CLI, declarative and engine agree."""

from __future__ import annotations

import time

import pytest
from google.cloud import tasks_v2

from tasksctl import limits
from tasksctl.declarative.fields import DEFAULTS, NANOS
from tasksctl.engine.task_validation import prepare_new_task
from tasksctl.engine.validation import fill_queue_defaults
from tasksctl.errors import InvalidArgument, UsageError
from tasksctl.queue_flags import parse_http_method
from tasksctl.resources import QueueName
from tasksctl.task_flags import KIND_HTTP, check_body, check_method


def test_http_methods_are_the_api_enum() -> None:
    enum = [m.name for m in tasks_v2.HttpMethod if m.value != 0]
    assert sorted(limits.HTTP_METHODS) == sorted(enum)
    for method in limits.HTTP_METHODS:
        assert parse_http_method(method.lower()).name == method
        assert check_method(method.lower()) == method
    with pytest.raises(UsageError):
        parse_http_method("TRACE")
    with pytest.raises(UsageError):
        check_method("TRACE")


def test_the_cli_and_the_engine_refuse_the_same_body_size() -> None:
    queue = QueueName("p", "us-central1", "q")

    def engine_accepts(body: bytes) -> bool:
        task = tasks_v2.Task.pb()(http_request={"url": "http://h/", "body": body})
        try:
            prepare_new_task(queue, str(queue), task, time.time_ns() // 1000)
        except InvalidArgument:
            return False
        return True

    def cli_accepts(body: bytes) -> bool:
        try:
            check_body(body, "POST", KIND_HTTP)
        except UsageError:
            return False
        return True

    largest = b"x" * limits.MAX_BODY_BYTES
    assert cli_accepts(largest) and engine_accepts(largest)
    assert not cli_accepts(largest + b"x") and not engine_accepts(largest + b"x")


def test_the_engine_fills_in_the_defaults_the_declarative_layer_assumes() -> None:
    queue = tasks_v2.Queue.pb()()
    fill_queue_defaults(queue)
    duration = lambda d: d.seconds * NANOS + d.nanos  # noqa: E731
    engine = {
        "rate_limits.max_dispatches_per_second": queue.rate_limits.max_dispatches_per_second,
        "rate_limits.max_concurrent_dispatches": queue.rate_limits.max_concurrent_dispatches,
        "retry_config.max_attempts": queue.retry_config.max_attempts,
        "retry_config.min_backoff": duration(queue.retry_config.min_backoff),
        "retry_config.max_backoff": duration(queue.retry_config.max_backoff),
        "retry_config.max_doublings": queue.retry_config.max_doublings,
        "retry_config.max_retry_duration": duration(queue.retry_config.max_retry_duration),
    }
    assert engine == {path: DEFAULTS[path] for path in engine}
