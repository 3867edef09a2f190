"""The manual clock (issue 16), driven through the pytest plugin's ``tasks_engine`` fixture.

``advance`` is synchronous: when it returns, every attempt due by the new time has reached the
sink and its outcome is recorded, so these tests read the sink and the attempt history directly,
without waiting. Expected retry times are the documented Cloud Tasks schedule written out by
hand (RetryConfig reference: 10s, 20s, 40s, 80s, 160s, 240s, 300s, ...), not recomputed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from google.api_core import exceptions
from google.protobuf import timestamp_pb2

from tasksctl.engine.redeliver import chosen
from tasksctl.pytest_plugin import EngineError
from tests.sink import sink_fixture

sink = sink_fixture()


def _ts(when: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(when)
    return stamp


def _eta(request: Any) -> float:
    return float(request.headers["X-CloudTasks-TaskETA"])


def test_a_task_two_days_ahead_runs_after_advance_2d_and_not_before(
    tasks_engine: Any, sink: Any
) -> None:
    queue = tasks_engine.create_queue("later")
    start = tasks_engine.now()
    due = start + timedelta(days=2)
    task = tasks_engine.client().create_task(
        parent=queue,
        task={"http_request": {"url": sink.url_for("/later")}, "schedule_time": _ts(due)},
    )
    assert task.create_time.timestamp() == pytest.approx(
        int(start.timestamp()), abs=1
    )  # create time on the engine clock (truncated to the second)

    moved = tasks_engine.advance(timedelta(days=2) - timedelta(microseconds=1))
    assert moved["attempts"] == 0
    assert sink.requests == []
    assert tasks_engine.attempts(task.name) == []

    moved = tasks_engine.advance("1ms")
    [request] = sink.requests
    assert _eta(request) == pytest.approx(due.timestamp(), abs=1e-6)
    [attempt] = tasks_engine.attempts(task.name)
    assert attempt["dispatch_time"] == attempt["schedule_time"]
    assert datetime.fromisoformat(attempt["schedule_time"]) == due
    assert attempt["status"] == 200 and attempt["outcome"] == "done"
    assert moved["attempts"] == 1
    tasks_engine.wait_empty(queue, timeout=1)


# Offsets of each attempt from the first, in seconds, for min 10s / max 300s / 3 doublings and a
# one-hour max_retry_duration: the retry after 3550 s would start at 3850 s, past the hour, so the
# task is given up after 17 attempts.
HOUR_SCHEDULE = [
    0, 10, 30, 70, 150, 310, 550, 850, 1150, 1450, 1750, 2050, 2350, 2650, 2950, 3250, 3550,
]  # fmt: skip


def test_a_failing_task_walks_its_whole_retry_schedule_in_one_advance(
    tasks_engine: Any, sink: Any
) -> None:
    sink.plan("/fail", 500)
    queue = tasks_engine.create_queue(
        "flaky",
        retry_config={
            "max_attempts": -1,
            "max_retry_duration": {"seconds": 3600},
            "min_backoff": {"seconds": 10},
            "max_backoff": {"seconds": 300},
            "max_doublings": 3,
        },
    )
    # Due 1 s after the standing clock: the first attempt, too, is made by the advance (a task
    # due at once could be sent before the advance starts, and it would count 16).
    start = tasks_engine.now()
    first = start + timedelta(seconds=1)
    task = tasks_engine.client().create_task(
        parent=queue,
        task={"http_request": {"url": sink.url_for("/fail")}, "schedule_time": _ts(first)},
    )

    moved = tasks_engine.advance("2h")

    requests = sink.requests_for("/fail")
    t0 = first.timestamp()
    assert [round(_eta(r) - t0, 6) for r in requests] == HOUR_SCHEDULE
    for number, request in enumerate(requests):
        headers = request.headers
        assert headers["X-CloudTasks-TaskName"] == task.name.rsplit("/", 1)[1]
        assert headers["X-CloudTasks-TaskRetryCount"] == str(number)
        assert headers["X-CloudTasks-TaskExecutionCount"] == "0"  # 5xx answers do not count
        if number:
            assert headers["X-CloudTasks-TaskPreviousResponse"] == "500"
            assert "X-CloudTasks-TaskRetryReason" in headers
        else:
            assert "X-CloudTasks-TaskPreviousResponse" not in headers
    attempts = tasks_engine.attempts(task.name)
    assert [a["outcome"] for a in attempts] == ["retry"] * 16 + ["gave_up"]
    assert all(a["dispatch_time"] == a["schedule_time"] for a in attempts)
    assert moved["attempts"] == 17
    assert tasks_engine.now() == start + timedelta(hours=2)
    with pytest.raises(exceptions.NotFound):
        tasks_engine.client().get_task(name=task.name)


def test_a_dedup_name_is_refused_until_the_window_has_passed(tasks_engine: Any, sink: Any) -> None:
    queue = tasks_engine.create_queue("dedup")
    name = f"{queue}/tasks/welcome-1"
    body = {"name": name, "http_request": {"url": sink.url_for("/welcome")}}
    client = tasks_engine.client()
    client.create_task(parent=queue, task=body)
    tasks_engine.advance("0s")  # the task is due now: delivered and done when this returns
    assert len(sink.requests) == 1

    # The engine's dedup window is the production one, 4 hours after the task finished.
    with pytest.raises(exceptions.AlreadyExists):
        client.create_task(parent=queue, task=body)
    tasks_engine.advance("3h59m")
    with pytest.raises(exceptions.AlreadyExists):
        client.create_task(parent=queue, task=body)
    tasks_engine.advance("61s")
    client.create_task(parent=queue, task=body)


def test_a_deleted_queue_name_comes_back_after_the_tombstone(tasks_engine: Any) -> None:
    client = tasks_engine.client()
    queue = tasks_engine.create_queue("gone")
    client.delete_queue(name=queue)
    with pytest.raises(exceptions.FailedPrecondition):
        tasks_engine.create_queue("gone")
    tasks_engine.advance("4h")
    tasks_engine.create_queue("gone")


def test_a_paused_queue_keeps_its_tasks_through_an_advance(tasks_engine: Any, sink: Any) -> None:
    client = tasks_engine.client()
    queue = tasks_engine.create_queue("paused")
    client.pause_queue(name=queue)
    client.create_task(parent=queue, task={"http_request": {"url": sink.url_for("/p")}})
    assert tasks_engine.advance("1d")["attempts"] == 0
    client.resume_queue(name=queue)
    tasks_engine.advance("0s")
    assert len(sink.requests) == 1


@pytest.mark.tasksctl(redeliver=1.0)
def test_redeliver_sends_a_successful_task_once_more_with_the_same_headers(
    tasks_engine: Any, sink: Any
) -> None:
    queue = tasks_engine.create_queue("twice")
    task = tasks_engine.client().create_task(
        parent=queue, task={"http_request": {"url": sink.url_for("/twice"), "body": b"hi"}}
    )
    tasks_engine.advance("0s")
    assert len(sink.requests) == 1  # the duplicate comes a little later
    tasks_engine.advance("1s")

    first, second = sink.requests
    assert second.body == first.body == b"hi"
    for header in ("X-CloudTasks-TaskName", "X-CloudTasks-QueueName", "X-CloudTasks-TaskETA",
                   "X-CloudTasks-TaskRetryCount", "X-CloudTasks-TaskExecutionCount"):  # fmt: skip
        assert second.headers[header] == first.headers[header]
    attempts = tasks_engine.attempts(task.name)
    assert [(a["redelivery"], a["outcome"]) for a in attempts] == [
        (False, "done"),
        (True, "redelivered"),
    ]
    tasks_engine.wait_empty(queue, timeout=1)


@pytest.mark.tasksctl(redeliver=0.5)
def test_redeliver_half_duplicates_the_tasks_its_name_hash_picks(
    tasks_engine: Any, sink: Any
) -> None:
    queue = tasks_engine.create_queue("half")
    names = [f"{queue}/tasks/n{i}" for i in range(20)]
    client = tasks_engine.client()
    for name in names:
        client.create_task(parent=queue, task={"name": name, "http_request": {"url": sink.url}})
    tasks_engine.advance("1s")
    redelivered = {a["task"] for a in tasks_engine.attempts(queue) if a["redelivery"]}
    assert redelivered == {name for name in names if chosen(name, 0.5)}
    assert 0 < len(redelivered) < len(names)
    assert len(sink.requests) == len(names) + len(redelivered)


def test_redeliver_is_off_by_default(tasks_engine: Any, sink: Any) -> None:
    queue = tasks_engine.create_queue("once")
    tasks_engine.client().create_task(
        parent=queue, task={"http_request": {"url": sink.url_for("/once")}}
    )
    tasks_engine.advance("1h")
    assert len(sink.requests) == 1
    assert [a["redelivery"] for a in tasks_engine.attempts(queue)] == [False]


def test_reset_empties_the_attempt_history(tasks_engine: Any, sink: Any) -> None:
    queue = tasks_engine.create_queue("hist")
    tasks_engine.client().create_task(
        parent=queue, task={"http_request": {"url": sink.url_for("/h")}}
    )
    tasks_engine.advance("0s")
    assert len(tasks_engine.attempts(queue)) == 1
    tasks_engine.reset()
    assert tasks_engine.attempts(queue) == []


def test_the_clock_never_moves_backwards(tasks_engine: Any) -> None:
    now = tasks_engine.now()
    with pytest.raises(EngineError, match="HTTP 400"):
        tasks_engine.set_time(now - timedelta(seconds=1))
    with pytest.raises(EngineError, match="HTTP 400"):
        tasks_engine.advance("-5s")
    assert tasks_engine.set_time(now + timedelta(hours=1))["now"] == (
        (now + timedelta(hours=1)).isoformat(timespec="microseconds").replace("+00:00", "Z")
    )


def test_advance_takes_numbers_and_timedeltas_down_to_a_microsecond(tasks_engine: Any) -> None:
    start = tasks_engine.now()
    tasks_engine.advance(timedelta(microseconds=1))
    tasks_engine.advance(2e-06)
    tasks_engine.advance(90)
    assert tasks_engine.now() == start + timedelta(seconds=90, microseconds=3)


@pytest.mark.tasksctl(clock="real")
def test_the_real_clock_cannot_be_moved_and_delivers_on_its_own(
    tasks_engine: Any, sink: Any
) -> None:
    assert tasks_engine.call("GET", "/v1/clock")["mode"] == "real"
    with pytest.raises(EngineError, match="HTTP 409"):
        tasks_engine.advance("1m")
    queue = tasks_engine.create_queue("real")
    task = tasks_engine.client().create_task(
        parent=queue, task={"http_request": {"url": sink.url_for("/r")}}
    )
    tasks_engine.wait_empty(queue)
    [attempt] = tasks_engine.attempts(task.name)
    assert attempt["status"] == 200


def test_the_environment_points_client_code_at_the_engine(tasks_engine: Any) -> None:
    import os

    assert os.environ["CLOUD_TASKS_EMULATOR_HOST"] == tasks_engine.grpc_address
    assert os.environ["TASKSCTL_ENGINE_HTTP"] == tasks_engine.http_url
    assert os.environ["TASKSCTL_PROJECT"] == tasks_engine.project
