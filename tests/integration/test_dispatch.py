"""The dispatcher against a real engine and a real HTTP sink on 127.0.0.1 (official client)."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from google.api_core import exceptions
from google.cloud import tasks_v2
from google.protobuf import duration_pb2, field_mask_pb2, timestamp_pb2

from tests.sink import Respond, Sink, sink_fixture

sink = sink_fixture()


def make_queue(
    client: Any, location_path: str, unique: str, suffix: str = "", **fields: Any
) -> str:
    name = f"{location_path}/queues/d{suffix}-{unique}"
    client.create_queue(parent=location_path, queue={"name": name, **fields})
    return name


def fast_retry(**extra: Any) -> dict[str, Any]:
    return {
        "retry_config": {
            "min_backoff": duration_pb2.Duration(nanos=200_000_000),
            "max_backoff": duration_pb2.Duration(seconds=1),
            "max_doublings": 2,
            **extra,
        }
    }


def http_task(url: str, **request: Any) -> dict[str, Any]:
    return {"http_request": {"url": url, **request}}


def wait_gone(client: Any, name: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            client.get_task(name=name)
        except exceptions.NotFound:
            return
        time.sleep(0.02)
    raise AssertionError(f"{name} still exists after {timeout}s")


def test_request_as_stored_with_cloud_tasks_headers(
    client: Any, queue_path: str, sink: Sink
) -> None:
    task = client.create_task(
        parent=queue_path,
        task=http_task(
            sink.url_for("/hook?x=1"),
            http_method=tasks_v2.HttpMethod.PUT,
            headers={"X-Custom": "yes", "User-Agent": "mine"},
            body=b"payload",
        ),
    )
    (got,) = sink.wait_for(1)
    assert (got.method, got.path, got.query, got.body) == ("PUT", "/hook", "x=1", b"payload")
    assert got.headers["X-Custom"] == "yes"
    assert got.headers["User-Agent"] == "Google-Cloud-Tasks"
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert got.headers["X-CloudTasks-QueueName"] == queue_path.rsplit("/", 1)[1]
    assert got.headers["X-CloudTasks-TaskName"] == task.name.rsplit("/", 1)[1]
    assert got.headers["X-CloudTasks-TaskRetryCount"] == "0"
    assert got.headers["X-CloudTasks-TaskExecutionCount"] == "0"
    eta = float(got.headers["X-CloudTasks-TaskETA"])
    assert abs(eta - task.schedule_time.timestamp()) < 0.001
    wait_gone(client, task.name)  # 2xx: deleted


def test_counters_after_a_failed_attempt(
    client: Any, location_path: str, unique: str, sink: Sink
) -> None:
    queue = make_queue(
        client, location_path, unique,
        retry_config={"min_backoff": duration_pb2.Duration(seconds=3)},
    )  # fmt: skip
    sink.plan("/c", Respond(503, body=b"busy"), 200)
    task = client.create_task(parent=queue, task=http_task(sink.url_for("/c")))
    sink.wait_for(1)
    deadline = time.monotonic() + 5
    while True:
        got = client.get_task(name=task.name)
        if got.dispatch_count == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert got.dispatch_count == 1 and got.response_count == 1
    assert got.first_attempt.dispatch_time.timestamp() > 0
    assert got.last_attempt.dispatch_time == got.first_attempt.dispatch_time
    assert got.last_attempt.response_time.timestamp() >= got.last_attempt.dispatch_time.timestamp()
    assert got.last_attempt.response_status.code == 14  # UNAVAILABLE for HTTP 503
    # The retry is scheduled min_backoff after the attempt ended.
    delay = got.schedule_time.timestamp() - got.last_attempt.response_time.timestamp()
    assert 2.9 < delay < 3.2
    listed = list(client.list_tasks(parent=queue))
    assert [t.dispatch_count for t in listed] == [1]


def test_retry_intervals_follow_the_schedule(
    client: Any, location_path: str, unique: str, sink: Sink
) -> None:
    queue = make_queue(client, location_path, unique, **fast_retry(max_attempts=6))
    sink.plan("/r", 500)
    task = client.create_task(parent=queue, task=http_task(sink.url_for("/r")))
    got = sink.wait_for(6, timeout=8)
    gaps = [b.received_monotonic - a.received_monotonic for a, b in itertools.pairwise(got)]
    for gap, expected in zip(gaps, [0.2, 0.4, 0.8, 1.0, 1.0], strict=True):
        assert expected - 0.02 <= gap <= expected + 0.1, gaps
    assert [r.headers["X-CloudTasks-TaskRetryCount"] for r in got] == ["0", "1", "2", "3", "4", "5"]
    assert got[1].headers["X-CloudTasks-TaskPreviousResponse"] == "500"
    wait_gone(client, task.name)  # max_attempts reached: given up and deleted, nothing pending
    assert len(sink.requests_for("/r")) == 6


def test_max_retry_duration_stops_too(
    client: Any, location_path: str, unique: str, sink: Sink
) -> None:
    queue = make_queue(
        client, location_path, unique,
        **fast_retry(max_attempts=-1, max_retry_duration=duration_pb2.Duration(seconds=1)),
    )  # fmt: skip
    sink.plan("/d", 500)
    task = client.create_task(parent=queue, task=http_task(sink.url_for("/d")))
    wait_gone(client, task.name, timeout=5)
    got = sink.requests_for("/d")
    # attempts at 0, 0.2, 0.6 (then 1.4 would pass the 1 s limit)
    assert len(got) == 3
    assert got[-1].received_monotonic - got[0].received_monotonic < 1.0


def test_pause_and_resume(client: Any, queue_path: str, sink: Sink) -> None:
    client.pause_queue(name=queue_path)
    for _ in range(3):
        client.create_task(parent=queue_path, task=http_task(sink.url_for("/p")))
    time.sleep(0.4)
    assert sink.requests == []
    client.resume_queue(name=queue_path)
    sink.wait_for(3, timeout=3)


def test_run_task_on_paused_queue_delivers_once(client: Any, queue_path: str, sink: Sink) -> None:
    client.pause_queue(name=queue_path)
    task = client.create_task(parent=queue_path, task=http_task(sink.url_for("/run")))
    ran = client.run_task(name=task.name)
    assert ran.name == task.name
    assert ran.dispatch_count == 1
    sink.wait_for(1, timeout=3)
    wait_gone(client, task.name)
    client.resume_queue(name=queue_path)
    time.sleep(0.3)
    assert len(sink.requests) == 1


def test_run_task_failure_reschedules_without_double_delivery(
    client: Any, location_path: str, unique: str, sink: Sink
) -> None:
    queue = make_queue(
        client, location_path, unique,
        retry_config={"min_backoff": duration_pb2.Duration(seconds=5)},
    )  # fmt: skip
    sink.plan("/rf", Respond(500, delay=0.3))
    future = timestamp_pb2.Timestamp(seconds=int(time.time()) + 3600)
    task = client.create_task(
        parent=queue, task={**http_task(sink.url_for("/rf")), "schedule_time": future}
    )
    called = time.time()
    client.run_task(name=task.name)
    sink.wait_for(1)
    deadline = time.monotonic() + 5
    while (got := client.get_task(name=task.name)).response_count == 0:  # the 500 came back
        assert time.monotonic() < deadline, got
        time.sleep(0.02)
    assert got.dispatch_count == 1
    assert abs(got.schedule_time.timestamp() - (called + 5)) < 0.5
    assert len(sink.requests) == 1


def test_run_task_unknown_is_not_found(client: Any, queue_path: str) -> None:
    with pytest.raises(exceptions.NotFound):
        client.run_task(name=f"{queue_path}/tasks/nope")


def test_purge_and_delete_stop_pending_dispatches(
    client: Any, location_path: str, unique: str, sink: Sink
) -> None:
    queue = make_queue(client, location_path, unique)
    soon = timestamp_pb2.Timestamp()
    soon.FromNanoseconds(time.time_ns() + 600_000_000)
    tasks = [
        client.create_task(
            parent=queue, task={**http_task(sink.url_for(f"/x{i}")), "schedule_time": soon}
        )
        for i in range(4)
    ]
    client.delete_task(name=tasks[0].name)
    client.purge_queue(name=queue)
    # A task created after the purge, due just after the others: once it has arrived, any
    # purged or deleted task would have arrived too.
    later = timestamp_pb2.Timestamp()
    later.FromNanoseconds(soon.ToNanoseconds() + 50_000_000)
    client.create_task(
        parent=queue, task={**http_task(sink.url_for("/after")), "schedule_time": later}
    )
    sink.wait_for(1, timeout=5)
    assert [r.path for r in sink.requests] == ["/after"]


def test_future_schedule_time_is_honoured(client: Any, queue_path: str, sink: Sink) -> None:
    when_ns = time.time_ns() + 500_000_000
    at = timestamp_pb2.Timestamp()
    at.FromNanoseconds(when_ns)
    client.create_task(
        parent=queue_path, task={**http_task(sink.url_for("/s")), "schedule_time": at}
    )
    (got,) = sink.wait_for(1, timeout=3)
    late = got.received_wall - when_ns / 1e9
    assert -0.002 <= late < 0.1, late


def test_rate_limit_roughly_honoured(
    client: Any, location_path: str, unique: str, sink: Sink
) -> None:
    queue = make_queue(client, location_path, unique, rate_limits={"max_dispatches_per_second": 5})
    burst = client.get_queue(name=queue).rate_limits.max_burst_size
    client.pause_queue(name=queue)
    for _ in range(burst + 30):  # the burst, then more than 2 s worth at 5/s
        client.create_task(parent=queue, task=http_task(sink.url_for("/rate")))
    client.resume_queue(name=queue)
    sink.wait_for(burst, timeout=3)  # the full bucket (GetQueue's max_burst_size) goes at once
    got = sink.wait_for(burst + 10, timeout=6)  # then the refill at 5/s: 10 more in about 2 s
    first = got[0].received_monotonic
    times = [r.received_monotonic - first for r in got]
    assert sum(1 for t in times if t < 0.1) == burst
    assert 1.6 <= times[burst + 9] <= 2.5, times  # 8-12 per 2 s, as the old window check


def test_concurrency_cap_never_exceeded(
    client: Any, location_path: str, unique: str, sink: Sink
) -> None:
    queue = make_queue(client, location_path, unique, rate_limits={"max_concurrent_dispatches": 3})
    sink.plan("/slow", Respond(200, delay=0.2))
    for _ in range(9):
        client.create_task(parent=queue, task=http_task(sink.url_for("/slow")))
    sink.wait_for(9, timeout=5)
    assert sink.peak_in_flight == 3


def test_update_queue_rate_applies_at_once(
    client: Any, location_path: str, unique: str, sink: Sink
) -> None:
    """Raising a slow queue's rate mid-run speeds up the rest of its backlog at once."""
    queue = make_queue(
        client, location_path, unique, "upd", rate_limits={"max_dispatches_per_second": 0.2}
    )
    burst = client.get_queue(name=queue).rate_limits.max_burst_size  # 2 at 0.2/s
    client.pause_queue(name=queue)
    for _ in range(burst + 20):
        client.create_task(parent=queue, task=http_task(sink.url_for("/upd")))
    client.resume_queue(name=queue)
    sink.wait_for(burst, timeout=3)
    time.sleep(0.5)
    assert len(sink.requests) <= burst + 1  # at 0.2/s the rest would take 100 s
    client.update_queue(
        queue={"name": queue, "rate_limits": {"max_dispatches_per_second": 100}},
        update_mask=field_mask_pb2.FieldMask(paths=["rate_limits.max_dispatches_per_second"]),
    )
    sink.wait_for(burst + 20, timeout=5)
