"""Issue 14.1: nobody but a local, non-browser client changes the engine through its side port.

Attacks replayed: a cross-origin ``POST /v1/reset`` (any web page in the user's browser), a
DNS-rebinding read (``Host: evil.example``), and tasks aimed at the engine's own ports.
"""

from __future__ import annotations

import http.client
import json
import time
from typing import Any

import pytest

from tests.conftest import make_client

PARENT = "projects/guard/locations/here"


def _request(
    engine: Any, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", engine.http_port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for key, value in headers.items():
            conn.putheader(key, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


@pytest.fixture
def guarded(engine_factory: Any) -> Any:
    """A private engine (a broken guard must not wipe the shared one) with one queue."""
    engine = engine_factory()
    make_client(engine.address).create_queue(parent=PARENT, queue={"name": f"{PARENT}/queues/keep"})
    return engine


def _queue_count(engine: Any) -> int:
    return len(list(make_client(engine.address).list_queues(parent=PARENT)))


@pytest.mark.parametrize(
    "headers, status",
    [
        ({"Origin": "http://evil.example", "Content-Type": "text/plain"}, 403),
        ({"Origin": "http://evil.example", "Content-Type": "application/json"}, 403),
        ({"Origin": "null", "Content-Type": "application/json"}, 403),
        ({"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}, 403),
        ({"Content-Type": "text/plain"}, 415),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
        ({}, 415),
    ],
)
def test_reset_refuses_browser_shaped_requests(
    guarded: Any, headers: dict[str, str], status: int
) -> None:
    sent = {"Host": f"127.0.0.1:{guarded.http_port}", **headers}
    code, answer = _request(guarded, "POST", "/v1/reset", sent, b"{}")
    assert code == status
    assert "error" in answer
    assert _queue_count(guarded) == 1


@pytest.mark.parametrize(
    "host",
    ["evil.example:{port}", "evil.example", "127.0.0.1.nip.io:{port}", "127.0.0.1:1", ""],
)
def test_side_port_refuses_foreign_host_names(guarded: Any, host: str) -> None:
    code, answer = _request(
        guarded, "GET", "/v1/status", {"Host": host.format(port=guarded.http_port)}
    )
    assert code == 403, answer
    code, _ = _request(
        guarded, "POST", "/v1/reset",
        {"Host": host.format(port=guarded.http_port), "Content-Type": "application/json"}, b"{}",
    )  # fmt: skip
    assert code == 403
    assert _queue_count(guarded) == 1


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "[::1]", "127.1.2.3"])
def test_side_port_answers_loopback_names(guarded: Any, name: str) -> None:
    code, answer = _request(guarded, "GET", "/v1/status", {"Host": f"{name}:{guarded.http_port}"})
    assert code == 200
    assert answer["queues"] == 1


def test_same_origin_json_reset_still_works(guarded: Any) -> None:
    origin = f"http://127.0.0.1:{guarded.http_port}"
    code, answer = _request(
        guarded, "POST", "/v1/reset",
        {"Host": origin[7:], "Origin": origin, "Content-Type": "application/json"}, b"{}",
    )  # fmt: skip
    assert code == 200
    assert answer["queues_deleted"] == 1


def test_engine_never_dispatches_to_its_own_ports(guarded: Any) -> None:
    client = make_client(guarded.address)
    queue = f"{PARENT}/queues/self"
    client.create_queue(parent=PARENT, queue={"name": queue, "retry_config": {"max_attempts": 1}})
    targets = [
        f"http://127.0.0.1:{guarded.http_port}/v1/reset",
        f"http://localhost:{guarded.http_port}/v1/reset",
        f"http://[::1]:{guarded.http_port}/v1/reset",
        f"http://0.0.0.0:{guarded.http_port}/v1/reset",
        f"http://127.0.0.1:{guarded.port}/google.cloud.tasks.v2.CloudTasks/PurgeQueue",
    ]
    for url in targets:
        client.create_task(
            parent=queue,
            task={"http_request": {"url": url, "headers": {"Content-Type": "application/json"},
                                   "body": b"{}"}},
        )  # fmt: skip
    failed: list[dict[str, Any]] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(failed) < len(targets):
        _, answer = _request(
            guarded, "GET", f"/v1/failed?queue={queue}", {"Host": f"127.0.0.1:{guarded.http_port}"}
        )
        failed = answer["tasks"]
        time.sleep(0.1)
    assert len(failed) == len(targets)
    for task in failed:
        (attempt,) = task["attempts"]
        assert attempt["status"] is None
        assert "own" in attempt["error"] and "never dispatches to itself" in attempt["error"]
    assert _queue_count(guarded) == 2  # nothing was reset


@pytest.mark.parametrize(
    "headers, status",
    [
        ({"Origin": "http://evil.example", "Content-Type": "application/json"}, 403),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Content-Type": "text/plain"}, 400),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 400),
    ],
)
def test_rest_on_the_grpc_port_refuses_browser_writes(
    guarded: Any, headers: dict[str, str], status: int
) -> None:
    """The REST surface shares the gRPC port: a page must not purge or delete through it."""
    queue = f"{PARENT}/queues/keep"
    sent = {"Host": f"127.0.0.1:{guarded.port}", **headers}
    conn = http.client.HTTPConnection("127.0.0.1", guarded.port, timeout=10)
    try:
        conn.request("POST", f"/v2/{queue}:pause", body=b"{}", headers=sent)
        response = conn.getresponse()
        answer = json.loads(response.read())
    finally:
        conn.close()
    assert response.status == status, answer
    client = make_client(guarded.address)
    assert client.get_queue(name=queue).state.name == "RUNNING"


def test_rest_refuses_foreign_host_and_serves_loopback(guarded: Any) -> None:
    queue = f"{PARENT}/queues/keep"
    for host, status in (("evil.example", 403), (f"localhost:{guarded.port}", 200)):
        conn = http.client.HTTPConnection("127.0.0.1", guarded.port, timeout=10)
        try:
            conn.request("GET", f"/v2/{queue}", headers={"Host": host})
            response = conn.getresponse()
            response.read()
        finally:
            conn.close()
        assert response.status == status, host
