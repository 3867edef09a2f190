"""At-least-once across a crash: kill -9 during dispatch, restart on the same data dir."""

from __future__ import annotations

import time
from typing import Any

from google.api_core import exceptions

from tests.conftest import make_client
from tests.sink import Hang, Sink, sink_fixture

PARENT = "projects/crash/locations/here"
sink = sink_fixture()


def test_task_in_flight_at_kill_is_delivered_again(engine_factory: Any, sink: Sink) -> None:
    engine = engine_factory()
    client = make_client(engine.address)
    queue = f"{PARENT}/queues/q"
    client.create_queue(parent=PARENT, queue={"name": queue})
    sink.plan("/work", Hang(), 200)
    task = client.create_task(
        parent=queue, task={"http_request": {"url": sink.url_for("/work"), "body": b"job"}}
    )
    sink.wait_for(1, timeout=5)  # in flight: the sink holds it
    engine.kill()
    engine.start()  # same data dir, new ports
    client = make_client(engine.address)
    _first, second = sink.wait_for(2, timeout=5, path="/work")
    assert second.body == b"job"
    assert second.headers["X-CloudTasks-TaskName"] == task.name.rsplit("/", 1)[1]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            client.get_task(name=task.name)
        except exceptions.NotFound:
            break
        time.sleep(0.02)
    else:
        raise AssertionError("the redelivered task was not deleted after its 2xx")


def test_completed_task_is_not_delivered_again(engine_factory: Any, sink: Sink) -> None:
    engine = engine_factory()
    client = make_client(engine.address)
    queue = f"{PARENT}/queues/done"
    client.create_queue(parent=PARENT, queue={"name": queue})
    task = client.create_task(parent=queue, task={"http_request": {"url": sink.url_for("/ok")}})
    sink.wait_for(1, timeout=5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            client.get_task(name=task.name)
        except exceptions.NotFound:
            break
        time.sleep(0.02)
    engine.kill()
    engine.start()
    time.sleep(0.5)
    assert len(sink.requests) == 1
