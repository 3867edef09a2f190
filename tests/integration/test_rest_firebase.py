"""firebase-admin's task queue against the engine, as a Firebase user runs it.

With ``CLOUD_TASKS_EMULATOR_HOST`` set, ``firebase_admin.functions.task_queue(...).enqueue``
posts REST to ``http://HOST/projects/.../tasks`` (no ``/v2``); the engine's main port takes it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest
from google.auth import credentials as ga_credentials
from google.cloud import tasks_v2

from tests.conftest import LOCATION, PROJECT, EngineProcess

firebase_admin = pytest.importorskip("firebase_admin", reason="firebase-admin is not installed")


class _LocalCredentials(ga_credentials.Credentials):  # type: ignore[misc]
    """A token that never needs a refresh: firebase-admin must not reach Google here."""

    def __init__(self) -> None:
        super().__init__()
        self.token = "local"

    def refresh(self, request: Any) -> None:
        return None


class _Credential(firebase_admin.credentials.Base):  # type: ignore[misc]
    def get_credential(self) -> ga_credentials.Credentials:
        return _LocalCredentials()


@pytest.fixture
def firebase_app(engine: EngineProcess, monkeypatch: pytest.MonkeyPatch,
                 unique: str) -> Iterator[Any]:  # fmt: skip
    monkeypatch.setenv("CLOUD_TASKS_EMULATOR_HOST", engine.address)
    app = firebase_admin.initialize_app(_Credential(), {"projectId": PROJECT}, name=unique)
    yield app
    firebase_admin.delete_app(app)


def test_enqueue_and_delete_through_firebase_admin(
    firebase_app: Any, client: Any, location_path: str, unique: str
) -> None:
    from firebase_admin import functions

    queue = f"{location_path}/queues/fb-{unique}"
    client.create_queue(parent=location_path, queue={"name": queue})
    client.pause_queue(name=queue)
    task_queue = functions.task_queue(f"locations/{LOCATION}/functions/fb-{unique}",
                                      app=firebase_app)  # fmt: skip
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)
    task_id = task_queue.enqueue(
        {"order": 42},
        functions.TaskOptions(uri="http://127.0.0.1:9/fn", schedule_time=later,
                              dispatch_deadline_seconds=60, task_id=f"order-{unique}"),
    )  # fmt: skip
    assert task_id == f"order-{unique}"
    task = client.get_task(request={"name": f"{queue}/tasks/{task_id}", "response_view": "FULL"})
    assert task.http_request.url == "http://127.0.0.1:9/fn"
    assert task.http_request.body == b'{"order": 42}'
    assert task.http_request.headers["Content-Type"] == "application/json"
    assert task.http_request.oidc_token.service_account_email == "emulated-service-acct@email.com"
    assert task.dispatch_deadline.seconds == 60
    assert abs(task.schedule_time.timestamp() - later.timestamp()) < 0.001

    unnamed = task_queue.enqueue({"n": 1}, functions.TaskOptions(uri="http://127.0.0.1:9/fn"))
    assert client.get_task(name=f"{queue}/tasks/{unnamed}").view == tasks_v2.Task.View.BASIC

    task_queue.delete(task_id)
    assert [t.name.rsplit("/", 1)[1] for t in client.list_tasks(parent=queue)] == [unnamed]
