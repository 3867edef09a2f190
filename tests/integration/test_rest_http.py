"""Raw HTTP against the shared port: Google's JSON shapes, error codes, and robustness."""

from __future__ import annotations

import base64
import http.client
import json
from typing import Any

import pytest

from tests.conftest import EngineProcess

V2 = "/v2/projects/test-project/locations/us-central1"


def call(engine: EngineProcess, method: str, path: str, body: bytes | str | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:  # fmt: skip
    """One request on a fresh connection; returns (status, decoded JSON body)."""
    conn = http.client.HTTPConnection("127.0.0.1", engine.port, timeout=30)
    try:
        data = body.encode() if isinstance(body, str) else body
        conn.request(method, path, body=data, headers={"Content-Type": "application/json",
                                                       **(headers or {})})  # fmt: skip
        response = conn.getresponse()
        raw = response.read()
        assert response.getheader("Content-Type", "").startswith("application/json")
        return response.status, json.loads(raw)
    finally:
        conn.close()


def error_of(status_and_body: tuple[int, Any]) -> tuple[int, str, str]:
    status, body = status_and_body
    error = body["error"]
    assert error["code"] == status
    return status, error["status"], error["message"]


@pytest.fixture
def queue_url(engine: EngineProcess, unique: str) -> str:
    status, body = call(engine, "POST", f"{V2}/queues", json.dumps({"name": (
        f"{V2[4:]}/queues/raw-{unique}")}))  # fmt: skip
    assert status == 200, body
    status, _ = call(engine, "POST", f"/v2/{body['name']}:pause", "{}")
    assert status == 200
    return f"/v2/{body['name']}"


def test_json_uses_camel_case_and_proto3_forms(engine: EngineProcess, queue_url: str) -> None:
    status, queue = call(engine, "GET", f"{queue_url}?alt=json")
    assert status == 200
    assert queue["rateLimits"]["maxDispatchesPerSecond"] == 500
    assert queue["retryConfig"]["minBackoff"] == "0.100s"  # Duration's JSON form
    assert queue["state"] == "PAUSED"  # enums by name unless the client asks for integers
    body = base64.b64encode(b"\x00payload").decode()
    status, task = call(engine, "POST", f"{queue_url}/tasks", json.dumps({
        "task": {"httpRequest": {"url": "http://127.0.0.1:9/x", "body": body},
                 "scheduleTime": "2030-01-01T00:00:00Z"},
        "responseView": "FULL",
    }))  # fmt: skip
    assert status == 400  # more than 30 days ahead
    status, task = call(engine, "POST", f"{queue_url}/tasks", json.dumps({
        "task": {"httpRequest": {"url": "http://127.0.0.1:9/x", "body": body}},
        "responseView": "FULL",
    }))  # fmt: skip
    assert status == 200, task
    assert task["httpRequest"]["body"] == body
    assert task["httpRequest"]["httpMethod"] == "POST"
    assert task["createTime"].endswith("Z") and task["dispatchDeadline"] == "600s"
    status, listed = call(engine, "GET", f"{queue_url}/tasks?responseView=FULL&pageSize=1")
    assert status == 200 and listed["tasks"][0]["httpRequest"]["body"] == body
    status, ints = call(engine, "GET", f"{queue_url}?%24alt=json%3Benum-encoding%3Dint")
    assert ints["state"] == 2


def test_update_mask_and_paging_from_query_parameters(engine: EngineProcess,
                                                      queue_url: str) -> None:  # fmt: skip
    patch = json.dumps({"rateLimits": {"maxDispatchesPerSecond": 5, "maxConcurrentDispatches": 3}})
    status, queue = call(
        engine, "PATCH", f"{queue_url}?updateMask=rateLimits.maxDispatchesPerSecond", patch
    )
    assert status == 200, queue
    assert queue["rateLimits"]["maxDispatchesPerSecond"] == 5
    assert queue["rateLimits"]["maxConcurrentDispatches"] == 1000
    status, page = call(engine, "GET", f"{V2}/queues?pageSize=1&filter=state%3A%20PAUSED")
    assert status == 200 and len(page["queues"]) == 1 and page["nextPageToken"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("{not json", "Invalid JSON payload received"),
        ('{"task": {"nope": 1}}', "Unknown name \"nope\" at 'task': Cannot find field."),
        ('{"task": {"httpRequest": {"url": 5}}}', "Invalid JSON payload received"),
        ('{"task": {"dispatchDeadline": "soon"}}', "Invalid JSON payload received"),
        ("[1, 2]", "Root element must be a message"),
    ],
)
def test_bad_bodies_are_400(engine: EngineProcess, queue_url: str, body: str,
                            fragment: str) -> None:  # fmt: skip
    status, code, message = error_of(call(engine, "POST", f"{queue_url}/tasks", body))
    assert (status, code) == (400, "INVALID_ARGUMENT")
    assert fragment in message


def test_bad_query_parameters_are_400(engine: EngineProcess, queue_url: str) -> None:
    status, code, message = error_of(call(engine, "GET", f"{queue_url}/tasks?pageSize=many"))
    assert (status, code) == (400, "INVALID_ARGUMENT")
    assert "page_size" in message and "TYPE_INT32" in message
    status, code, message = error_of(call(engine, "GET", f"{queue_url}/tasks?colour=red"))
    assert status == 400 and 'Unknown name "colour"' in message
    status, code, message = error_of(call(engine, "GET", f"{queue_url}/tasks?responseView=HUGE"))
    assert status == 400 and "response_view" in message


def test_unknown_paths_and_methods_are_404(engine: EngineProcess, queue_url: str) -> None:
    for method, path in [("GET", "/v2/nothing/here"), ("GET", "/"),
                         ("PUT", queue_url), ("POST", f"{queue_url}:explode")]:  # fmt: skip
        status, code, message = error_of(call(engine, method, path, "{}"))
        assert (status, code) == (404, "NOT_FOUND"), (method, path)
        assert "not found" in message


def test_servicer_errors_keep_their_grpc_code(engine: EngineProcess, queue_url: str) -> None:
    assert error_of(call(engine, "GET", f"{queue_url}x"))[:2] == (404, "NOT_FOUND")
    task = json.dumps({"task": {"name": f"{queue_url[4:]}/tasks/dup",
                                "httpRequest": {"url": "http://127.0.0.1:9/"}}})  # fmt: skip
    assert call(engine, "POST", f"{queue_url}/tasks", task)[0] == 200
    assert error_of(call(engine, "POST", f"{queue_url}/tasks", task))[:2] == (
        409, "ALREADY_EXISTS")  # fmt: skip
    bad_rate = json.dumps({"rateLimits": {"maxDispatchesPerSecond": 1000}})
    status, code, message = error_of(
        call(engine, "PATCH", f"{queue_url}?updateMask=rateLimits", bad_rate)
    )
    assert (status, code) == (400, "INVALID_ARGUMENT") and "max_dispatches_per_second" in message


def test_body_over_the_limit_is_400_and_the_engine_keeps_serving(
    engine: EngineProcess, queue_url: str
) -> None:
    from tasksctl.engine.rest.app import MAX_REQUEST_BYTES

    huge = b'{"task": {"httpRequest": {"body": "' + b"A" * MAX_REQUEST_BYTES + b'"}}}'
    status, code, message = error_of(call(engine, "POST", f"{queue_url}/tasks", huge))
    assert (status, code) == (400, "INVALID_ARGUMENT")
    assert "Request payload size exceeds the limit" in message
    # a single task body over 1 MB is the servicer's own INVALID_ARGUMENT
    big = base64.b64encode(b"x" * (1024 * 1024 + 1)).decode()
    status, code, message = error_of(call(engine, "POST", f"{queue_url}/tasks", json.dumps(
        {"task": {"httpRequest": {"url": "http://127.0.0.1:9/", "body": big}}})))  # fmt: skip
    assert (status, code) == (400, "INVALID_ARGUMENT")
    assert call(engine, "GET", queue_url)[0] == 200


def test_keep_alive_connection_serves_many_requests(engine: EngineProcess, queue_url: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", engine.port, timeout=30)
    try:
        for _ in range(3):
            conn.request("GET", queue_url)
            response = conn.getresponse()
            assert response.status == 200 and json.loads(response.read())["name"]
        conn.request("POST", f"{queue_url}/tasks", body=b"{oops")
        response = conn.getresponse()
        assert response.status == 400
        response.read()
        conn.request("GET", queue_url)
        assert conn.getresponse().status == 200
    finally:
        conn.close()


def test_firebase_emulator_form_without_v2(engine: EngineProcess, queue_url: str) -> None:
    """firebase-admin posts to ``http://HOST/projects/.../tasks`` (no ``/v2``) when
    ``CLOUD_TASKS_EMULATOR_HOST`` is set, with nulls for unset fields, and reads the answer as
    the Firebase emulator gives it: ``{"task": {"name": "/projects/..."}}``."""
    payload = base64.b64encode(json.dumps({"data": {"n": 1}}).encode()).decode()
    body = {"task": {
        "httpRequest": {
            "url": "http://127.0.0.1:9/fn", "body": payload,
            "headers": {"Content-Type": "application/json"},
            "oidcToken": {"serviceAccountEmail": "emulated-service-acct@email.com"},
        },
        "name": None, "scheduleTime": None, "dispatchDeadline": None,
    }}  # fmt: skip
    status, answer = call(engine, "POST", f"{queue_url[3:]}/tasks", json.dumps(body))
    assert status == 200, answer
    name = answer["task"]["name"]
    assert name.startswith(f"{queue_url[3:]}/tasks/")
    status, fetched = call(engine, "GET", f"/v2{name}?responseView=FULL")
    assert status == 200 and fetched["httpRequest"]["body"] == payload
    assert fetched["httpRequest"]["oidcToken"]["serviceAccountEmail"].startswith("emulated")
    status, _ = call(engine, "DELETE", name)  # delete in the same form
    assert status == 200
    assert call(engine, "GET", f"/v2{name}")[0] == 404


def test_garbage_on_the_port_is_refused_and_the_engine_keeps_serving(
    engine: EngineProcess, queue_url: str
) -> None:
    import socket

    for junk in (b"\x16\x03\x01\x00\x05hello", b"NOT HTTP AT ALL\r\n\r\n", b"PRI * garbage"):
        with socket.create_connection(("127.0.0.1", engine.port), timeout=30) as sock:
            sock.sendall(junk)
            sock.shutdown(socket.SHUT_WR)
            try:
                while sock.recv(65536):  # whatever answer, then the connection must end
                    pass
            except ConnectionResetError:
                pass
    assert call(engine, "GET", queue_url)[0] == 200
