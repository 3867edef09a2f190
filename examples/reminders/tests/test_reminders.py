"""The reminder app's tests: a day of waiting and a duplicate delivery, in milliseconds.

The ``tasks_engine`` fixture comes from tasksctl's pytest plugin (installed with tasksctl): an
emptied local Cloud Tasks engine with ``CLOUD_TASKS_EMULATOR_HOST`` set for the app. It runs on a
manual clock: nothing scheduled in the future happens until the test moves time with
``tasks_engine.advance(...)``, which returns once every task due by then has been delivered.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from reminders import App, make_client, make_server


@pytest.fixture
def app(tasks_engine: Any) -> Iterator[App]:
    """The app on a free port, enqueueing into a fresh queue of the test engine."""
    queue = tasks_engine.create_queue("reminders")
    app = App(make_client(), queue, base_url="")
    server = make_server(app)
    app.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app
    server.shutdown()
    server.server_close()


def sign_up(app: App, email: str) -> str:
    request = urllib.request.Request(
        f"{app.base_url}/signup",
        data=json.dumps({"email": email}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.loads(response.read())["task"])


def test_reminder_is_sent_the_next_day(app: App, tasks_engine: Any) -> None:
    task = sign_up(app, "ada@example.com")

    tasks_engine.advance("23h")
    assert app.sent == []  # not due yet

    # The app computed "tomorrow" from its own clock a moment after the engine's: go past it.
    tasks_engine.advance("2h")
    assert app.sent == ["ada@example.com"]
    [attempt] = tasks_engine.attempts(task)
    assert attempt["status"] == 200
    assert attempt["dispatch_time"] == attempt["schedule_time"]  # delivered right on time


@pytest.mark.tasksctl(redeliver=1.0)
def test_a_duplicate_delivery_sends_one_reminder(app: App, tasks_engine: Any) -> None:
    task = sign_up(app, "grace@example.com")

    tasks_engine.advance("25h")

    attempts = tasks_engine.attempts(task)
    assert [a["redelivery"] for a in attempts] == [False, True]  # delivered twice
    assert app.sent == ["grace@example.com"]  # but handled once
