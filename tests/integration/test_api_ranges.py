"""Issue 14.3: the API refuses every value outside what Cloud Tasks accepts, naming the field,
and nothing is half-created; a retry schedule computed from the largest accepted backoff never
overflows (it once raised OverflowError on every attempt and resent the task forever)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import tasks_v2
from google.protobuf import field_mask_pb2

from tests.conftest import make_client

QueuePb = tasks_v2.Queue.pb()
MAX_DURATION_S = 315_576_000_000


def _queue(name: str, **fields: Any) -> Any:
    return tasks_v2.Queue.wrap(QueuePb(name=name, **fields))


BAD_QUEUES = [
    ({"retry_config": {"max_retry_duration": {"seconds": 10**17}}}, "max_retry_duration"),
    ({"retry_config": {"min_backoff": {"seconds": 10**15}}}, "min_backoff"),
    ({"retry_config": {"max_backoff": {"seconds": 10**15}}}, "max_backoff"),
    ({"retry_config": {"max_backoff": {"seconds": MAX_DURATION_S + 1}}}, "max_backoff"),
    ({"http_target": {"uri_override": {"port": 10**12}}}, "uri_override.port"),
    ({"http_target": {"uri_override": {"port": 65536}}}, "uri_override.port"),
    ({"http_target": {"uri_override": {"host": "a\nb"}}}, "uri_override.host"),
    (
        {"http_target": {"uri_override": {"path_override": {"path": "/a\x00"}}}},
        "uri_override.path_override.path",
    ),
    (
        {"http_target": {"header_overrides": [{"header": {"key": "X", "value": "a\r\nB: c"}}]}},
        "header_overrides",
    ),
    (
        {
            "http_target": {
                "oidc_token": {"service_account_email": "not an email", "audience": "https://a"}
            }
        },
        "oidc_token.service_account_email",
    ),
]


@pytest.mark.parametrize(("fields", "field"), BAD_QUEUES)
def test_out_of_range_queue_values_are_refused_and_nothing_is_created(
    client: Any, location_path: str, unique: str, fields: dict[str, Any], field: str
) -> None:
    name = f"{location_path}/queues/range-{unique}"
    with pytest.raises(gexc.InvalidArgument, match=field.replace(".", r"\.")):
        client.create_queue(parent=location_path, queue=_queue(name, **fields))
    with pytest.raises(gexc.NotFound):
        client.get_queue(name=name)
    # and an update with the same value leaves the stored queue as it was
    client.create_queue(parent=location_path, queue={"name": name})
    before = client.get_queue(name=name)
    with pytest.raises(gexc.InvalidArgument, match=field.replace(".", r"\.")):
        client.update_queue(queue=_queue(name, **fields))
    assert client.get_queue(name=name) == before
    listed = [q.name for q in client.list_queues(parent=location_path)]
    assert name in listed  # listing still works


@pytest.mark.parametrize(
    "paths", [[""], ["rate_limits.max_dispatches_per_second", ""], ["rateLimits,,retryConfig"]]
)
def test_empty_update_mask_paths_are_refused(
    client: Any, queue_path: str, paths: list[str]
) -> None:
    with pytest.raises(gexc.InvalidArgument, match="update_mask"):
        client.update_queue(
            queue={"name": queue_path, "rate_limits": {"max_dispatches_per_second": 3}},
            update_mask=field_mask_pb2.FieldMask(paths=paths),
        )
    assert client.get_queue(name=queue_path).rate_limits.max_dispatches_per_second == 500


BAD_URLS = [
    "http://127.0.0.1:99999/x",
    "http://127.0.0.1:65536/",
    "http://exa\x00mple.com/",
    "http://example.com/a\x01b",
    "http://example.com/a\tb",
    "http://example.com/\x7f",
    "http://:80/",
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_bad_task_urls_are_refused(client: Any, queue_path: str, url: str) -> None:
    with pytest.raises(gexc.InvalidArgument, match=r"task\.http_request\.url"):
        client.create_task(parent=queue_path, task={"http_request": {"url": url}})
    assert list(client.list_tasks(parent=queue_path)) == []


def test_task_oidc_email_must_be_an_email(client: Any, queue_path: str) -> None:
    task = {"http_request": {"url": "http://127.0.0.1:9/",
                             "oidc_token": {"service_account_email": "not an email"}}}  # fmt: skip
    with pytest.raises(gexc.InvalidArgument, match=r"oidc_token\.service_account_email"):
        client.create_task(parent=queue_path, task=task)


def test_task_retry_config_in_range(client: Any, queue_path: str) -> None:
    task = tasks_v2.Task.pb()(http_request={"url": "http://127.0.0.1:9/"})
    task.retry_config.min_backoff.seconds = 10**15
    with pytest.raises(gexc.InvalidArgument, match=r"task\.retry_config\.min_backoff"):
        client.create_task(parent=queue_path, task=tasks_v2.Task.wrap(task))


def test_largest_backoff_schedules_one_retry_and_records_it(
    engine_factory: Any, location_path: str
) -> None:
    engine = engine_factory()
    client = make_client(engine.address)
    queue = f"{location_path}/queues/far"
    client.create_queue(
        parent=location_path,
        queue=_queue(queue, retry_config={
            "max_attempts": -1, "min_backoff": {"seconds": MAX_DURATION_S},
            "max_backoff": {"seconds": MAX_DURATION_S},
        }),
    )  # fmt: skip
    task = client.create_task(parent=queue, task={"http_request": {"url": "http://127.0.0.1:9/"}})
    deadline = time.monotonic() + 15
    got = client.get_task(name=task.name)
    while got.dispatch_count == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
        got = client.get_task(name=task.name)
    assert got.dispatch_count == 1
    assert got.schedule_time.year == 9999  # clamped to the last representable time
    time.sleep(1.5)  # an unrecorded outcome was resent about once a second
    assert client.get_task(name=task.name).dispatch_count == 1
    log = (engine.data_dir.parent / f"{engine.data_dir.name}-{engine.port}.log").read_text()
    assert "Traceback" not in log and "OverflowError" not in log
