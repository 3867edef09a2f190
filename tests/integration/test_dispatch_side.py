"""Dispatch features seen from outside: OIDC tokens, queue overrides, App Engine, side port."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from google.auth import exceptions as auth_exceptions
from google.auth.transport.requests import Request
from google.oauth2 import id_token
from google.protobuf import duration_pb2

from tests.conftest import make_client
from tests.sink import Hang, Respond, Sink, sink_fixture

sink = sink_fixture()
PARENT = "projects/side/locations/here"


def test_oidc_token_verifies_with_google_auth(
    client: Any, engine: Any, queue_path: str, sink: Sink
) -> None:
    audience = "https://handler.example.com/run"
    client.create_task(
        parent=queue_path,
        task={
            "http_request": {
                "url": sink.url_for("/oidc"),
                "oidc_token": {
                    "service_account_email": "runner@test-project.iam.gserviceaccount.com",
                    "audience": audience,
                },
            }
        },
    )
    (got,) = sink.wait_for(1)
    scheme, _, token = got.headers["Authorization"].partition(" ")
    assert scheme == "Bearer"
    certs = engine.http_url + "/oauth2/v1/certs"
    claims = id_token.verify_token(token, Request(), audience, certs_url=certs)
    assert claims["email"] == "runner@test-project.iam.gserviceaccount.com"
    with pytest.raises((ValueError, auth_exceptions.GoogleAuthError)):
        id_token.verify_token(token, Request(), "https://other.example.com", certs_url=certs)


def test_queue_http_target_overrides(
    client: Any, location_path: str, unique: str, sink: Sink
) -> None:
    port = int(sink.url.rsplit(":", 1)[1])
    queue = f"{location_path}/queues/ovr-{unique}"
    client.create_queue(
        parent=location_path,
        queue={
            "name": queue,
            "http_target": {
                "uri_override": {
                    "host": "127.0.0.1",
                    "port": port,
                    "path_override": {"path": "/forced"},
                    "uri_override_enforce_mode": "ALWAYS",
                },
                "http_method": "PUT",
                "header_overrides": [{"header": {"key": "X-Env", "value": "queue"}}],
                "oauth_token": {
                    "service_account_email": "q@test-project.iam.gserviceaccount.com",
                    "scope": "https://www.googleapis.com/auth/cloud-platform",
                },
            },
        },
    )
    client.create_task(
        parent=queue,
        task={
            "http_request": {
                "url": "http://127.0.0.1:9/original?keep=1",
                "headers": {"x-env": "task", "X-Other": "1"},
            }
        },
    )
    (got,) = sink.wait_for(1, timeout=5)
    assert (got.method, got.path, got.query) == ("PUT", "/forced", "keep=1")
    assert got.headers["X-Env"] == "queue" and got.headers["X-Other"] == "1"
    assert got.headers["Authorization"].startswith("Bearer ")


def test_app_engine_task_without_host_fails_with_clear_error(
    client: Any, engine: Any, location_path: str, unique: str
) -> None:
    queue = f"{location_path}/queues/ae-{unique}"
    client.create_queue(
        parent=location_path,
        queue={
            "name": queue,
            "retry_config": {"max_attempts": 1, "min_backoff": duration_pb2.Duration(nanos=10**8)},
        },
    )
    client.create_task(parent=queue, task={"app_engine_http_request": {"relative_uri": "/ae"}})
    failed = wait_failed(engine.http_url, queue, 1)
    (attempt,) = failed[0]["attempts"]
    assert attempt["status"] is None and "--app-engine-host" in attempt["error"]


def test_app_engine_task_goes_to_the_configured_host(engine_factory: Any, sink: Sink) -> None:
    host = sink.url.removeprefix("http://")
    engine = engine_factory("--app-engine-host", host)
    client = make_client(engine.address)
    queue = f"{PARENT}/queues/ae"
    client.create_queue(
        parent=PARENT, queue={"name": queue, "app_engine_routing_override": {"service": "worker"}}
    )
    client.create_task(
        parent=queue,
        task={
            "app_engine_http_request": {
                "relative_uri": "/handle?a=b",
                "app_engine_routing": {"service": "ignored", "version": "v1"},
                "body": b"ae",
            }
        },
    )
    (got,) = sink.wait_for(1, timeout=5)
    assert (got.path, got.query, got.body) == ("/handle", "a=b", b"ae")
    assert got.headers["X-AppEngine-QueueName"] == "ae"
    assert got.headers["Host"] == f"worker.{host}"  # the queue's override wins


def wait_failed(http_url: str, queue: str, count: int, timeout: float = 5.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        tasks = requests.get(f"{http_url}/v1/failed", params={"queue": queue}, timeout=5).json()[
            "tasks"
        ]
        if len(tasks) >= count or time.monotonic() > deadline:
            assert len(tasks) == count, tasks
            return list(tasks)
        time.sleep(0.05)


def test_failed_shows_the_attempts_of_a_given_up_task(
    client: Any, engine: Any, location_path: str, unique: str, sink: Sink
) -> None:
    queue = f"{location_path}/queues/fail-{unique}"
    client.create_queue(
        parent=location_path,
        queue={
            "name": queue,
            "retry_config": {
                "max_attempts": 3,
                "min_backoff": duration_pb2.Duration(nanos=50_000_000),
                "max_backoff": duration_pb2.Duration(nanos=100_000_000),
            },
        },
    )
    sink.plan("/boom", Respond(500, delay=0.02))
    task = client.create_task(parent=queue, task={"http_request": {"url": sink.url_for("/boom")}})
    (record,) = wait_failed(engine.http_url, queue, 1)
    assert record["name"] == task.name
    assert record["url"] == sink.url_for("/boom") and record["method"] == "POST"
    assert record["dispatch_count"] == 3 and record["gave_up_at"].endswith("Z")
    assert [a["status"] for a in record["attempts"]] == [500, 500, 500]
    # Each latency covers the handler's 20 ms answer.
    assert all(20 <= a["latency_ms"] < 10_000 for a in record["attempts"]), record["attempts"]
    assert all(a["error"] is None for a in record["attempts"])
    assert record["attempts"][0]["time"] < record["attempts"][2]["time"]


def test_stats_match_what_the_engine_was_given(
    client: Any, engine: Any, location_path: str, unique: str, sink: Sink
) -> None:
    queue = f"{location_path}/queues/stats-{unique}"
    client.create_queue(
        parent=location_path,
        queue={"name": queue, "rate_limits": {"max_dispatches_per_second": 7}},
    )
    client.pause_queue(name=queue)
    for _ in range(5):
        client.create_task(parent=queue, task={"http_request": {"url": sink.url_for("/st")}})
    since = time.time()  # the side port caches stats for 0.5 s: wait for an answer made after
    deadline = time.monotonic() + 10
    while (stats := requests.get(engine.http_url + "/v1/stats", timeout=5).json())["time"] < since:
        assert time.monotonic() < deadline, "the stats cache never refreshed"
        time.sleep(0.05)
    (mine,) = [q for q in stats["queues"] if q["name"] == queue]
    assert mine["state"] == "PAUSED"
    assert (mine["backlog"], mine["due"], mine["in_flight"]) == (5, 5, 0)
    assert mine["rate_limit"] == 7 and mine["max_concurrent"] == 1000
    assert stats["uptime_s"] > 0


def test_reset_empties_the_engine(tasks_engine: Any) -> None:
    client = tasks_engine.client()  # the pytest plugin's engine, emptied for this test
    for name in ("a", "b"):
        client.create_queue(parent=PARENT, queue={"name": f"{PARENT}/queues/{name}"})
    client.pause_queue(name=f"{PARENT}/queues/a")
    for _ in range(3):
        client.create_task(
            parent=f"{PARENT}/queues/a", task={"http_request": {"url": "http://127.0.0.1:9/"}}
        )
    answer = requests.post(tasks_engine.http_url + "/v1/reset", json={}, timeout=5).json()
    assert answer == {"queues_deleted": 2, "tasks_deleted": 3}
    assert list(client.list_queues(parent=PARENT)) == []
    # the engine keeps working, and a deleted queue's name is usable at once
    client.create_queue(parent=PARENT, queue={"name": f"{PARENT}/queues/a"})


def test_hanging_target_on_one_queue_does_not_slow_another(
    client: Any, location_path: str, unique: str, sink: Sink
) -> None:
    stuck = f"{location_path}/queues/stuck-{unique}"
    fine = f"{location_path}/queues/fine-{unique}"
    for name in (stuck, fine):
        client.create_queue(
            parent=location_path,
            queue={"name": name, "rate_limits": {"max_concurrent_dispatches": 5}},
        )
    sink.plan("/hang", Hang())
    for _ in range(10):
        client.create_task(parent=stuck, task={"http_request": {"url": sink.url_for("/hang")}})
    sink.wait_for(5, timeout=5, path="/hang")
    started = time.monotonic()
    for _ in range(20):
        client.create_task(parent=fine, task={"http_request": {"url": sink.url_for("/fine")}})
    sink.wait_for(20, timeout=5, path="/fine")
    assert time.monotonic() - started < 2.0
    assert len(sink.requests_for("/hang")) == 5  # its own cap, untouched by the other queue
    client.purge_queue(name=stuck)
