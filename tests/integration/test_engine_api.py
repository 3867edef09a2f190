"""The engine's Cloud Tasks v2 API, driven by the official client over insecure gRPC.

One shared engine; every test uses its own queue names. The name-reservation windows are
waited out on the pytest plugin's manual-clock engine (``tasks_engine``) by moving its clock.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import time
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import tasks_v2
from google.iam.v1 import iam_policy_pb2, policy_pb2
from google.protobuf import duration_pb2, field_mask_pb2, timestamp_pb2

from tests.conftest import LOCATION, PROJECT

NOT_FOUND = re.escape("Requested entity was not found.")
TASK_TOMBSTONED = "The task cannot be created because a task with this name existed too recently."
FULL = tasks_v2.Task.View.FULL


def http_task(url: str = "http://127.0.0.1:9/work", **fields: Any) -> dict[str, Any]:
    return {"http_request": {"url": url, **fields}}


def reserved_for(tasks_engine: Any, key: str) -> dt.timedelta:
    """How long the engine keeps a freed name reserved: ``dedup_window_seconds`` (task names)
    or ``queue_tombstone_seconds`` (queue names), as its ``/v1/status`` reports it."""
    return dt.timedelta(seconds=float(tasks_engine.call("GET", "/v1/status")[key]))


JUST_BEFORE = dt.timedelta(microseconds=1)


def seconds(value: Any) -> float:
    """A proto-plus Duration (timedelta) in seconds."""
    return float(value.total_seconds())


# ---------------------------------------------------------------------------------------------
# Queues


def test_create_queue_fills_the_service_defaults(
    client: Any, location_path: str, unique: str
) -> None:
    name = f"{location_path}/queues/defaults-{unique}"
    queue = client.create_queue(parent=location_path, queue={"name": name})
    assert queue.name == name
    assert queue.state == tasks_v2.Queue.State.RUNNING
    assert queue.rate_limits.max_dispatches_per_second == 500
    assert queue.rate_limits.max_burst_size == 100
    assert queue.rate_limits.max_concurrent_dispatches == 1000
    retry = queue.retry_config
    assert retry.max_attempts == 100
    assert seconds(retry.min_backoff) == pytest.approx(0.1)
    assert seconds(retry.max_backoff) == 3600
    assert retry.max_doublings == 16
    assert seconds(retry.max_retry_duration) == 0
    assert client.get_queue(name=name) == queue


def test_burst_size_follows_the_rate(client: Any, location_path: str, unique: str) -> None:
    queue = client.create_queue(
        parent=location_path,
        queue={
            "name": f"{location_path}/queues/slow-{unique}",
            "rate_limits": {"max_dispatches_per_second": 1},
        },
    )
    # Production reports 10 for 1/s and 100 for 500/s (see tasksctl/engine/flow.py).
    assert queue.rate_limits.max_burst_size == 10
    slower = client.update_queue(
        queue={"name": queue.name, "rate_limits": {"max_dispatches_per_second": 0.25}},
        update_mask=field_mask_pb2.FieldMask(paths=["rate_limits.max_dispatches_per_second"]),
    )
    assert slower.rate_limits.max_burst_size == 3


def test_create_existing_queue_is_already_exists(
    client: Any, queue_path: str, location_path: str
) -> None:
    with pytest.raises(gexc.AlreadyExists, match="Requested entity already exists"):
        client.create_queue(parent=location_path, queue={"name": queue_path})


@pytest.mark.parametrize(
    ("queue", "field"),
    [
        ({"rate_limits": {"max_dispatches_per_second": 600}}, "max_dispatches_per_second"),
        ({"rate_limits": {"max_dispatches_per_second": -1}}, "max_dispatches_per_second"),
        ({"rate_limits": {"max_concurrent_dispatches": 5001}}, "max_concurrent_dispatches"),
        ({"rate_limits": {"max_burst_size": 10}}, "max_burst_size"),
        ({"retry_config": {"max_attempts": -2}}, "max_attempts"),
        (
            {"retry_config": {"min_backoff": {"seconds": 10}, "max_backoff": {"seconds": 5}}},
            "min_backoff",
        ),
        ({"retry_config": {"max_doublings": -1}}, "max_doublings"),
        ({"stackdriver_logging_config": {"sampling_ratio": 1.5}}, "sampling_ratio"),
        ({"state": tasks_v2.Queue.State.PAUSED}, "state"),
        ({"purge_time": {"seconds": 100}}, "purge_time"),
    ],
)
def test_invalid_queue_fields_name_the_field(
    client: Any, location_path: str, unique: str, queue: dict[str, Any], field: str
) -> None:
    with pytest.raises(gexc.InvalidArgument, match=field):
        client.create_queue(
            parent=location_path, queue={"name": f"{location_path}/queues/bad-{unique}", **queue}
        )


@pytest.mark.parametrize(
    "name",
    ["projects/test-project/locations/us-central1/queues/bad_id", "queues/x", ""],
)
def test_invalid_queue_names(client: Any, location_path: str, name: str) -> None:
    with pytest.raises(gexc.InvalidArgument, match=r"queue\.name"):
        client.create_queue(parent=location_path, queue={"name": name})


def test_queue_outside_the_parent_location(client: Any, location_path: str, unique: str) -> None:
    with pytest.raises(gexc.InvalidArgument, match=r"queue\.name"):
        client.create_queue(
            parent=location_path,
            queue={"name": f"projects/{PROJECT}/locations/europe-west1/queues/q-{unique}"},
        )


def test_missing_queue_is_not_found(client: Any, location_path: str, unique: str) -> None:
    name = f"{location_path}/queues/missing-{unique}"
    for call in (client.get_queue, client.delete_queue, client.pause_queue, client.purge_queue):
        with pytest.raises(gexc.NotFound, match=NOT_FOUND):
            call(name=name)


def test_list_queues_pages_and_filters(client: Any, unique: str) -> None:
    parent = f"projects/list-{unique}/locations/{LOCATION}"
    names = [f"{parent}/queues/q{i:02d}" for i in range(7)]
    for name in reversed(names):
        client.create_queue(parent=parent, queue={"name": name})
    for name in names[:3]:
        client.pause_queue(name=name)

    first = client.list_queues(request={"parent": parent, "page_size": 3})
    assert [q.name for q in first.queues] == names[:3]  # lexicographic order
    assert first.next_page_token
    pages = list(client.list_queues(request={"parent": parent, "page_size": 3}).pages)
    assert [len(page.queues) for page in pages] == [3, 3, 1]
    assert [q.name for page in pages for q in page.queues] == names
    assert pages[-1].next_page_token == ""

    for text in ("state: PAUSED", "state=PAUSED", "  state :  PAUSED "):
        listed = client.list_queues(request={"parent": parent, "filter": text})
        assert [q.name for q in listed] == names[:3]
    running = client.list_queues(
        request={"parent": parent, "filter": "state:RUNNING", "page_size": 2}
    )
    assert [q.name for q in running] == names[3:]
    with pytest.raises(gexc.InvalidArgument, match="filter"):
        list(client.list_queues(request={"parent": parent, "filter": "name: x"}))
    with pytest.raises(gexc.InvalidArgument, match="page_token"):
        list(client.list_queues(request={"parent": parent, "page_token": "%%%"}))


def test_update_queue_honours_the_mask(client: Any, queue_path: str) -> None:
    updated = client.update_queue(
        queue={
            "name": queue_path,
            "rate_limits": {"max_dispatches_per_second": 10, "max_concurrent_dispatches": 7},
        },
        update_mask=field_mask_pb2.FieldMask(paths=["rate_limits.max_dispatches_per_second"]),
    )
    assert updated.rate_limits.max_dispatches_per_second == 10
    assert updated.rate_limits.max_burst_size == 100
    assert updated.rate_limits.max_concurrent_dispatches == 1000  # not in the mask
    assert updated.retry_config.max_attempts == 100

    # camelCase paths (as REST / gcloud send them) work too
    updated = client.update_queue(
        queue={"name": queue_path, "retry_config": {"max_attempts": 5, "max_doublings": 3}},
        update_mask=field_mask_pb2.FieldMask(
            paths=["retryConfig.maxAttempts", "retryConfig.maxDoublings"]
        ),
    )
    assert (updated.retry_config.max_attempts, updated.retry_config.max_doublings) == (5, 3)
    assert updated.rate_limits.max_dispatches_per_second == 10

    # a path in the mask but unset in the body goes back to its default
    cleared = client.update_queue(
        queue={"name": queue_path},
        update_mask=field_mask_pb2.FieldMask(
            paths=["retry_config.max_attempts", "rate_limits.max_dispatches_per_second"]
        ),
    )
    assert cleared.retry_config.max_attempts == 100
    assert cleared.retry_config.max_doublings == 3
    assert cleared.rate_limits.max_dispatches_per_second == 500
    assert cleared.rate_limits.max_burst_size == 100
    assert client.get_queue(name=queue_path) == cleared


def test_update_queue_without_mask_replaces_given_fields(client: Any, queue_path: str) -> None:
    updated = client.update_queue(
        queue={
            "name": queue_path,
            "retry_config": {"max_attempts": -1},
            "stackdriver_logging_config": {"sampling_ratio": 0.5},
        }
    )
    assert updated.retry_config.max_attempts == -1
    assert updated.stackdriver_logging_config.sampling_ratio == 0.5
    assert updated.rate_limits.max_dispatches_per_second == 500
    # read-modify-write: output-only fields sent back unchanged are fine
    current = client.get_queue(name=queue_path)
    current.rate_limits.max_concurrent_dispatches = 20
    assert client.update_queue(queue=current).rate_limits.max_concurrent_dispatches == 20


@pytest.mark.parametrize(
    ("paths", "match"),
    [
        (["state"], "update_mask"),
        (["rate_limits.max_burst_size"], "update_mask"),
        (["nope"], "update_mask"),
    ],
)
def test_update_queue_rejects_bad_masks(
    client: Any, queue_path: str, paths: list[str], match: str
) -> None:
    with pytest.raises(gexc.InvalidArgument, match=match):
        client.update_queue(
            queue={"name": queue_path}, update_mask=field_mask_pb2.FieldMask(paths=paths)
        )


def test_update_queue_creates_a_missing_queue(client: Any, location_path: str, unique: str) -> None:
    name = f"{location_path}/queues/upsert-{unique}"
    created = client.update_queue(
        queue={"name": name, "rate_limits": {"max_concurrent_dispatches": 3}},
        update_mask=field_mask_pb2.FieldMask(paths=["rate_limits.max_concurrent_dispatches"]),
    )
    assert created.rate_limits.max_concurrent_dispatches == 3
    assert created.retry_config.max_attempts == 100
    assert client.get_queue(name=name).name == name


def test_pause_resume_and_purge(client: Any, queue_path: str) -> None:
    assert client.pause_queue(name=queue_path).state == tasks_v2.Queue.State.PAUSED
    # a paused queue still accepts tasks
    client.create_task(parent=queue_path, task=http_task())
    client.create_task(
        parent=queue_path, task={"name": f"{queue_path}/tasks/keep-me", **http_task()}
    )
    assert client.resume_queue(name=queue_path).state == tasks_v2.Queue.State.RUNNING
    before = dt.datetime.now(dt.UTC)
    purged = client.purge_queue(name=queue_path)
    assert purged.purge_time >= before - dt.timedelta(seconds=1)
    assert list(client.list_tasks(parent=queue_path)) == []
    # purged names are tombstoned like deleted ones
    with pytest.raises(gexc.AlreadyExists, match="existed too recently"):
        client.create_task(
            parent=queue_path, task={"name": f"{queue_path}/tasks/keep-me", **http_task()}
        )
    # tasks created after the purge stay
    client.create_task(parent=queue_path, task=http_task())
    assert len(list(client.list_tasks(parent=queue_path))) == 1


def test_deleted_queue_name_is_tombstoned(tasks_engine: Any) -> None:
    client = tasks_engine.client()
    location_path = tasks_engine.location_path
    name = tasks_engine.create_queue("gone")
    client.create_task(parent=name, task=http_task())
    client.delete_queue(name=name)  # the manual clock stands still: deleted at its "now"
    with pytest.raises(gexc.NotFound):
        client.get_queue(name=name)
    with pytest.raises(
        gexc.FailedPrecondition, match="a queue with this name existed too recently"
    ):
        client.create_queue(parent=location_path, queue={"name": name})
    # The tombstone lasts its whole window: still refused just before its end, free at it.
    tasks_engine.advance(reserved_for(tasks_engine, "queue_tombstone_seconds") - JUST_BEFORE)
    with pytest.raises(
        gexc.FailedPrecondition, match="a queue with this name existed too recently"
    ):
        client.create_queue(parent=location_path, queue={"name": name})
    tasks_engine.advance(JUST_BEFORE)
    assert client.create_queue(parent=location_path, queue={"name": name}).name == name
    assert list(client.list_tasks(parent=name)) == []  # the old tasks went with the queue


# ---------------------------------------------------------------------------------------------
# Tasks


def test_create_task_generates_random_numeric_ids(client: Any, queue_path: str) -> None:
    tasks = [client.create_task(parent=queue_path, task=http_task()) for _ in range(5)]
    ids = [t.name.rsplit("/", 1)[1] for t in tasks]
    assert all(t.name.startswith(f"{queue_path}/tasks/") for t in tasks)
    assert all(i.isdigit() and len(i) == 19 for i in ids)
    assert len(set(ids)) == 5
    numbers = sorted(int(i) for i in ids)
    assert max(b - a for a, b in itertools.pairwise(numbers)) > 1000  # not a counter


def test_a_generated_id_cannot_be_taken_as_a_name(client: Any, queue_path: str) -> None:
    generated = client.create_task(parent=queue_path, task=http_task())
    with pytest.raises(gexc.AlreadyExists, match=r"^409 Requested entity already exists$"):
        client.create_task(parent=queue_path, task={"name": generated.name, **http_task()})
    # a 19-digit name that no generated task holds is just a name
    other = f"{queue_path}/tasks/1000000000000000000"
    assert client.create_task(parent=queue_path, task={"name": other, **http_task()}).name == other
    assert client.get_task(name=other).name == other
    client.delete_task(name=generated.name)
    with pytest.raises(gexc.NotFound):
        client.get_task(name=generated.name)


def test_create_task_fills_defaults_and_views(client: Any, queue_path: str) -> None:
    before = time.time()
    task = client.create_task(
        parent=queue_path, task=http_task(body=b"payload", headers={"X-Kind": "demo"})
    )
    assert task.view == tasks_v2.Task.View.BASIC
    assert task.http_request.http_method == tasks_v2.HttpMethod.POST
    assert task.http_request.body == b"" and dict(task.http_request.headers) == {}
    assert seconds(task.dispatch_deadline) == 600
    assert before - 1 <= task.schedule_time.timestamp() <= time.time() + 1
    assert task.create_time.timestamp() == int(task.create_time.timestamp())  # whole seconds
    assert task.dispatch_count == 0 and task.response_count == 0

    full = client.get_task(request={"name": task.name, "response_view": FULL})
    assert full.view == FULL
    assert full.http_request.body == b"payload"
    assert dict(full.http_request.headers) == {"X-Kind": "demo"}
    basic = client.get_task(name=task.name)
    assert basic.http_request.body == b"" and basic.view == tasks_v2.Task.View.BASIC
    created_full = client.create_task(
        request={"parent": queue_path, "task": http_task(body=b"x"), "response_view": FULL}
    )
    assert created_full.http_request.body == b"x"
    listed = {
        t.name: t for t in client.list_tasks(request={"parent": queue_path, "response_view": FULL})
    }
    assert listed[task.name].http_request.body == b"payload"
    listed_basic = {t.name: t for t in client.list_tasks(parent=queue_path)}
    assert listed_basic[task.name].http_request.body == b""


def test_schedule_time_in_the_future_is_kept(client: Any, queue_path: str) -> None:
    when = timestamp_pb2.Timestamp(seconds=int(time.time()) + 3600, nanos=123456789)
    task = client.create_task(parent=queue_path, task={**http_task(), "schedule_time": when})
    assert task.schedule_time.timestamp() == pytest.approx(when.seconds + 0.123456, abs=1e-6)
    past = timestamp_pb2.Timestamp(seconds=int(time.time()) - 3600)
    task = client.create_task(parent=queue_path, task={**http_task(), "schedule_time": past})
    assert task.schedule_time.timestamp() >= time.time() - 5  # the past becomes now


@pytest.mark.parametrize(
    ("task", "field"),
    [
        (http_task("ftp://example.com/x"), "task.http_request.url"),
        (http_task("/relative"), "task.http_request.url"),
        (http_task(""), "task.http_request.url"),
        (http_task(body=b"x", http_method=tasks_v2.HttpMethod.GET), "task.http_request.body"),
        (http_task(body=b"x", http_method=tasks_v2.HttpMethod.DELETE), "task.http_request.body"),
        (http_task(body=b"x" * (1024 * 1024 + 1)), "task.http_request.body"),
        (
            {**http_task(), "dispatch_deadline": duration_pb2.Duration(seconds=10)},
            "task.dispatch_deadline",
        ),
        (
            {**http_task(), "dispatch_deadline": duration_pb2.Duration(seconds=1801)},
            "task.dispatch_deadline",
        ),
        (
            {
                **http_task(),
                "schedule_time": timestamp_pb2.Timestamp(seconds=int(time.time()) + 31 * 86400),
            },
            "task.schedule_time",
        ),
        ({**http_task(), "dispatch_count": 3}, "task.dispatch_count"),
        ({**http_task(), "create_time": timestamp_pb2.Timestamp(seconds=5)}, "task.create_time"),
        ({}, "task.http_request"),
        ({"app_engine_http_request": {"relative_uri": "no-slash"}}, "relative_uri"),
        (
            {"app_engine_http_request": {"http_method": "GET", "body": b"x"}},
            "app_engine_http_request.body",
        ),
    ],
)
def test_invalid_tasks_name_the_field(
    client: Any, queue_path: str, task: dict[str, Any], field: str
) -> None:
    with pytest.raises(gexc.InvalidArgument, match=field):
        client.create_task(parent=queue_path, task=task)


def test_task_name_must_match_the_parent(client: Any, queue_path: str, location_path: str) -> None:
    with pytest.raises(gexc.InvalidArgument, match=r"task\.name"):
        client.create_task(
            parent=queue_path,
            task={"name": f"{location_path}/queues/other/tasks/t1", **http_task()},
        )
    with pytest.raises(gexc.InvalidArgument, match=r"task\.name"):
        client.create_task(
            parent=queue_path, task={"name": f"{queue_path}/tasks/bad.id", **http_task()}
        )


def test_task_in_a_missing_queue_is_not_found(client: Any, location_path: str, unique: str) -> None:
    with pytest.raises(gexc.NotFound, match=NOT_FOUND):
        client.create_task(parent=f"{location_path}/queues/nope-{unique}", task=http_task())


def test_app_engine_tasks_are_accepted(client: Any, queue_path: str) -> None:
    task = client.create_task(
        request={
            "parent": queue_path,
            "task": {
                "app_engine_http_request": {
                    "relative_uri": "/work?x=1",
                    "body": b"ae",
                    "headers": {"A": "b"},
                }
            },
            "response_view": FULL,
        }
    )
    assert task.app_engine_http_request.relative_uri == "/work?x=1"
    assert task.app_engine_http_request.http_method == tasks_v2.HttpMethod.POST
    assert task.app_engine_http_request.body == b"ae"
    assert client.get_task(name=task.name).app_engine_http_request.body == b""


def test_named_tasks_are_deduplicated_for_the_window(tasks_engine: Any) -> None:
    client = tasks_engine.client()
    queue_path = tasks_engine.create_queue("dedup-window")
    name = f"{queue_path}/tasks/order-42"
    created = client.create_task(parent=queue_path, task={"name": name, **http_task()})
    assert created.name == name
    with pytest.raises(gexc.AlreadyExists, match=r"^409 Requested entity already exists$"):
        client.create_task(parent=queue_path, task={"name": name, **http_task()})
    client.delete_task(name=name)  # the manual clock stands still: deleted at its "now"
    with pytest.raises(gexc.NotFound, match=NOT_FOUND):
        client.get_task(name=name)
    with pytest.raises(gexc.NotFound, match=NOT_FOUND):
        client.delete_task(name=name)
    with pytest.raises(
        gexc.AlreadyExists,
        match=re.escape(TASK_TOMBSTONED),
    ):
        client.create_task(parent=queue_path, task={"name": name, **http_task()})
    # The name stays reserved for the whole window: still refused just before its end.
    tasks_engine.advance(reserved_for(tasks_engine, "dedup_window_seconds") - JUST_BEFORE)
    with pytest.raises(gexc.AlreadyExists, match=re.escape(TASK_TOMBSTONED)):
        client.create_task(parent=queue_path, task={"name": name, **http_task()})
    tasks_engine.advance(JUST_BEFORE)
    client.create_task(parent=queue_path, task={"name": name, **http_task()})
    assert client.get_task(name=name).name == name


def test_list_tasks_pages_in_schedule_order(client: Any, queue_path: str) -> None:
    now = int(time.time())
    for offset in (50, 10, 40, 20, 30, 70, 60):
        client.create_task(
            parent=queue_path,
            task={
                "name": f"{queue_path}/tasks/t{offset}",
                **http_task(),
                "schedule_time": {"seconds": now + offset},
            },
        )
    pages = list(client.list_tasks(request={"parent": queue_path, "page_size": 3}).pages)
    assert [len(p.tasks) for p in pages] == [3, 3, 1]
    names = [t.name.rsplit("/", 1)[1] for p in pages for t in p.tasks]
    assert names == ["t10", "t20", "t30", "t40", "t50", "t60", "t70"]
    with pytest.raises(gexc.InvalidArgument, match="page_size"):
        list(client.list_tasks(request={"parent": queue_path, "page_size": -1}))


def test_run_task_returns_the_task(client: Any, queue_path: str) -> None:
    task = client.create_task(parent=queue_path, task=http_task(body=b"z"))
    ran = client.run_task(request={"name": task.name, "response_view": FULL})
    assert ran.name == task.name and ran.http_request.body == b"z"
    with pytest.raises(gexc.NotFound):
        client.run_task(name=f"{queue_path}/tasks/unknown")


# ---------------------------------------------------------------------------------------------
# Batches and operations


def test_batch_create_reports_partial_failure(client: Any, queue_path: str) -> None:
    taken = f"{queue_path}/tasks/taken"
    client.create_task(parent=queue_path, task={"name": taken, **http_task()})
    operation = client.batch_create_tasks(
        parent=queue_path,
        requests=[
            {"parent": queue_path, "task": http_task()},
            {"parent": queue_path, "task": {"name": taken, **http_task()}},
            {"parent": queue_path, "task": http_task("not a url")},
            {"parent": queue_path, "task": {"name": f"{queue_path}/tasks/fresh", **http_task()}},
        ],
    )
    assert operation.done()
    result = operation.result()
    assert len(result.tasks) == 2
    assert result.tasks[1].name == f"{queue_path}/tasks/fresh"
    metadata = operation.metadata
    assert metadata.state == tasks_v2.BatchCreateTasksMetadata.State.PARTIALLY_SUCCEEDED
    assert sorted(metadata.failed_requests) == [1, 2]
    assert metadata.failed_requests[1].code == 6  # ALREADY_EXISTS
    assert metadata.failed_requests[2].code == 3  # INVALID_ARGUMENT

    fetched = client.get_operation(request={"name": operation.operation.name})
    assert fetched.done and fetched.name == operation.operation.name
    response = tasks_v2.BatchCreateTasksResponse.deserialize(fetched.response.value)
    assert [t.name for t in response.tasks] == [t.name for t in result.tasks]


def test_batch_create_with_every_request_failing_is_aborted(client: Any, queue_path: str) -> None:
    operation = client.batch_create_tasks(
        parent=queue_path, requests=[{"parent": queue_path, "task": http_task("bad")}]
    )
    assert operation.operation.error.code == 10  # ABORTED
    assert "None of the requests succeeded" in operation.operation.error.message
    assert "BatchCreateTasksMetadata.failed_requests" in operation.operation.error.message
    with pytest.raises(gexc.GoogleAPICallError):
        operation.result()


def test_batch_create_is_idempotent_per_request_id(client: Any, queue_path: str) -> None:
    request = {
        "parent": queue_path,
        "requests": [{"parent": queue_path, "task": http_task()}],
        "request_id": "r-1",
    }
    first = client.batch_create_tasks(request=request)
    again = client.batch_create_tasks(request=request)
    assert again.operation.name == first.operation.name
    assert len(list(client.list_tasks(parent=queue_path))) == 1


def test_batch_create_needs_an_existing_queue(client: Any, location_path: str, unique: str) -> None:
    parent = f"{location_path}/queues/nobatch-{unique}"
    with pytest.raises(gexc.NotFound):
        client.batch_create_tasks(parent=parent, requests=[{"parent": parent, "task": http_task()}])


def test_batch_delete_reports_partial_failure(client: Any, queue_path: str) -> None:
    tasks = [client.create_task(parent=queue_path, task=http_task()) for _ in range(2)]
    operation = client.batch_delete_tasks(
        parent=queue_path, names=[tasks[0].name, f"{queue_path}/tasks/missing", tasks[1].name]
    )
    operation.result()
    metadata = operation.metadata
    assert metadata.state == tasks_v2.BatchDeleteTasksMetadata.State.PARTIALLY_SUCCEEDED
    assert list(metadata.failed_requests) == [1]
    assert metadata.failed_requests[1].code == 5  # NOT_FOUND
    assert list(client.list_tasks(parent=queue_path)) == []
    fetched = client.get_operation(request={"name": operation.operation.name})
    assert fetched.done
    everything_failed = client.batch_delete_tasks(parent=queue_path, names=[tasks[0].name])
    assert everything_failed.operation.error.code == 10
    assert "BatchDeleteTasksMetadata.failed_requests" in everything_failed.operation.error.message


def test_unknown_operation_is_not_found(client: Any, location_path: str) -> None:
    with pytest.raises(gexc.NotFound):
        client.get_operation(request={"name": f"{location_path}/operations/123"})


# ---------------------------------------------------------------------------------------------
# IAM, CMEK, locations


def test_iam_policies_are_stored_with_etags(client: Any, queue_path: str) -> None:
    empty = client.get_iam_policy(request={"resource": queue_path})
    assert list(empty.bindings) == [] and empty.etag == b"\x00\x20\x01"
    binding = policy_pb2.Binding(role="roles/cloudtasks.enqueuer", members=["user:dev@example.com"])
    stored = client.set_iam_policy(
        request={
            "resource": queue_path,
            "policy": policy_pb2.Policy(bindings=[binding], etag=empty.etag),
        }
    )
    assert stored.etag != empty.etag
    assert client.get_iam_policy(request={"resource": queue_path}) == stored
    with pytest.raises(gexc.Aborted):
        client.set_iam_policy(
            request={"resource": queue_path, "policy": policy_pb2.Policy(etag=empty.etag)}
        )
    permissions = client.test_iam_permissions(
        request=iam_policy_pb2.TestIamPermissionsRequest(
            resource=queue_path, permissions=["cloudtasks.tasks.create", "storage.objects.get"]
        )
    )
    assert list(permissions.permissions) == ["cloudtasks.tasks.create"]
    with pytest.raises(gexc.NotFound):
        client.get_iam_policy(request={"resource": f"{queue_path}-missing"})


def test_cmek_config_is_stored_per_location(client: Any, unique: str) -> None:
    name = f"projects/cmek-{unique}/locations/{LOCATION}/cmekConfig"
    assert client.get_cmek_config(name=name).kms_key == ""
    key = f"projects/cmek-{unique}/locations/{LOCATION}/keyRings/r/cryptoKeys/k"
    updated = client.update_cmek_config(cmek_config={"name": name, "kms_key": key})
    assert (updated.name, updated.kms_key) == (name, key)
    assert client.get_cmek_config(name=name).kms_key == key
    with pytest.raises(gexc.InvalidArgument, match="kms_key"):
        client.update_cmek_config(cmek_config={"name": name, "kms_key": "not-a-key"})
    with pytest.raises(gexc.InvalidArgument, match="name"):
        client.get_cmek_config(name=f"projects/cmek-{unique}/locations/{LOCATION}")


def test_locations(client: Any) -> None:
    listed = list(client.list_locations(request={"name": f"projects/{PROJECT}"}).locations)
    by_id = {loc.location_id: loc for loc in listed}
    assert {"us-central1", "europe-west1", "asia-northeast1"} <= set(by_id)
    central = client.get_location(request={"name": f"projects/{PROJECT}/locations/us-central1"})
    assert central.labels["cloud.googleapis.com/region"] == "us-central1"
    assert central == by_id["us-central1"]
    with pytest.raises(gexc.NotFound):
        client.get_location(request={"name": f"projects/{PROJECT}/locations/mars-north1"})
