"""One dispatch attempt against a real HTTP sink on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from google.auth import jwt

from tasksctl.engine.delivery import (
    APP_ENGINE_USER_AGENT,
    AppEngineTarget,
    AttemptResult,
    Delivery,
    OAuthToken,
    OidcToken,
    build_headers,
    deliver,
    format_eta,
    make_session,
    parse_retry_after,
)
from tasksctl.engine.oidc import FAKE_TOKEN_PREFIX, SigningKeys
from tests.sink import AllTogether, Hang, HugeBody, Redirect, Reset, Respond, Sink, sink_fixture

sink = sink_fixture()

ETA = 1_700_000_000.25


@pytest.fixture(scope="module")
def keys() -> SigningKeys:
    return SigningKeys.generate()


def run(fn: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run ``fn(session)`` in a fresh loop with a fresh dispatch session."""

    async def main() -> Any:
        session = make_session()
        try:
            return await fn(session)
        finally:
            await session.close()

    return asyncio.run(main())


def attempt(delivery: Delivery, keys: SigningKeys | None = None) -> AttemptResult:
    result: AttemptResult = run(lambda session: deliver(session, delivery, keys=keys))
    return result


def task(sink: Sink, path: str = "/handler", **kwargs: Any) -> Delivery:
    base: dict[str, Any] = {
        "queue_id": "q-1", "task_id": "t-1", "url": sink.url_for(path), "schedule_time": ETA,
    }  # fmt: skip
    base.update(kwargs)
    return Delivery(**base)


def test_first_attempt_sends_exactly_the_stored_request_plus_cloud_tasks_headers(
    sink: Sink,
) -> None:
    result = attempt(task(sink, headers={"X-Custom": "a, b", "Accept": "text/plain"}, body=b"hi"))
    assert result.ok and result.status == 200 and result.error is None
    (got,) = sink.wait_for(1)
    assert got.method == "POST" and got.path == "/handler" and got.body == b"hi"
    assert sorted(got.header_names) == sorted([
        "Host", "Content-Length", "Content-Type", "User-Agent", "X-Custom", "Accept",
        "X-CloudTasks-QueueName", "X-CloudTasks-TaskName", "X-CloudTasks-TaskRetryCount",
        "X-CloudTasks-TaskExecutionCount", "X-CloudTasks-TaskETA",
    ])  # fmt: skip
    h = got.headers
    assert h["User-Agent"] == "Google-Cloud-Tasks"
    assert h["Content-Type"] == "application/octet-stream"
    assert h["X-Custom"] == "a, b" and h["Accept"] == "text/plain"
    assert h["X-CloudTasks-QueueName"] == "q-1"
    assert h["X-CloudTasks-TaskName"] == "t-1"
    assert h["X-CloudTasks-TaskRetryCount"] == "0"
    assert h["X-CloudTasks-TaskExecutionCount"] == "0"
    assert h["X-CloudTasks-TaskETA"] == "1700000000.25"
    assert h["Content-Length"] == "2"


def test_retry_headers_and_stored_content_type(sink: Sink) -> None:
    headers = {"content-type": "application/json", "X-CloudTasks-TaskName": "spoofed",
               "Host": "evil.example", "User-Agent": "mine", "X-Google-Thing": "1",
               "X-AppEngine-QueueName": "other", "Content-Length": "999"}  # fmt: skip
    delivery = task(
        sink, headers=headers, body=b"{}", retry_count=3, execution_count=1, previous_response=503
    )
    assert attempt(delivery).ok
    (got,) = sink.wait_for(1)
    h = got.headers
    assert h.getall("Content-Type") == ["application/json"]
    assert h["X-CloudTasks-TaskName"] == "t-1"
    assert h["Host"] == f"127.0.0.1:{sink.port}"
    assert h["User-Agent"] == "Google-Cloud-Tasks"
    assert h["Content-Length"] == "2"
    assert "X-Google-Thing" not in h and "X-AppEngine-QueueName" not in h
    assert h["X-CloudTasks-TaskRetryCount"] == "3"
    assert h["X-CloudTasks-TaskExecutionCount"] == "1"
    assert h["X-CloudTasks-TaskPreviousResponse"] == "503"
    assert h["X-CloudTasks-TaskRetryReason"] == ""


def test_retry_after_connection_error_has_no_previous_response(sink: Sink) -> None:
    assert attempt(task(sink, method="GET", retry_count=1)).ok
    (got,) = sink.wait_for(1)
    assert "X-CloudTasks-TaskPreviousResponse" not in got.headers
    assert got.headers["X-CloudTasks-TaskRetryReason"] == ""
    assert "Content-Type" not in got.headers and got.body == b""


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_methods(sink: Sink, method: str) -> None:
    assert attempt(task(sink, method=method)).ok
    assert sink.wait_for(1)[0].method == method


def test_oidc_token_defaults_audience_to_the_url(sink: Sink, keys: SigningKeys) -> None:
    email = "invoker@test-project.iam.gserviceaccount.com"
    assert attempt(task(sink, oidc=OidcToken(email)), keys).ok
    assert attempt(task(sink, "/other", oidc=OidcToken(email, "https://aud.example/")), keys).ok
    first, second = sink.wait_for(2)
    for got, audience in ((first, sink.url_for("/handler")), (second, "https://aud.example/")):
        scheme, token = got.headers["Authorization"].split(" ")
        assert scheme == "Bearer"
        claims = jwt.decode(token, certs=keys.pem_certs(), audience=audience)
        assert claims["email"] == email


def test_oidc_without_keys_is_an_engine_bug(sink: Sink) -> None:
    with pytest.raises(ValueError, match="SigningKeys"):
        build_headers(task(sink, oidc=OidcToken("a@b.c")))


def test_oauth_token_is_the_fake_local_token(sink: Sink) -> None:
    scope = "https://www.googleapis.com/auth/cloud-platform"
    assert attempt(task(sink, oauth=OAuthToken("a@b.c", scope))).ok
    auth = sink.wait_for(1)[0].headers["Authorization"]
    assert auth.startswith("Bearer " + FAKE_TOKEN_PREFIX)


@pytest.mark.parametrize(
    ("status", "ok"),
    [(200, True), (201, True), (204, True), (299, True), (300, False), (304, False),
     (400, False), (404, False), (429, False), (500, False), (503, False)],
)  # fmt: skip
def test_only_2xx_is_success(sink: Sink, status: int, ok: bool) -> None:
    sink.plan("/handler", status)
    result = attempt(task(sink))
    assert (result.status, result.ok, result.error) == (status, ok, None)


def test_redirects_are_not_followed(sink: Sink) -> None:
    sink.plan("/handler", Redirect(sink.url_for("/elsewhere")))
    result = attempt(task(sink))
    assert result.status == 302 and not result.ok
    time.sleep(0.1)
    assert [r.path for r in sink.requests] == ["/handler"]


def test_response_head_and_retry_after_are_kept(sink: Sink) -> None:
    answer = Respond(503, body=b"busy, come back later", headers={"Retry-After": "7"}, delay=0.05)
    sink.plan("/handler", answer)
    result = attempt(task(sink))
    assert result.response_head == b"busy, come back later"
    assert result.retry_after == 7.0
    # The latency covers the handler's 50 ms, and the two clocks tell the same story.
    assert 0.05 <= result.latency < 5
    assert abs((result.finished_at - result.started_at) - result.latency) < 0.001


def test_deadline_drops_the_connection_and_fails_in_time(sink: Sink) -> None:
    sink.plan("/handler", Hang())
    result = attempt(task(sink, dispatch_deadline=0.3))
    assert not result.ok and result.status is None
    assert result.error is not None and "DEADLINE_EXCEEDED" in result.error
    assert 0.29 <= result.latency < 0.6
    (got,) = sink.wait_for(1)
    sink.wait_until(lambda: got.disconnected_monotonic is not None, timeout=2)
    assert got.disconnected_monotonic is not None
    assert got.disconnected_monotonic - got.received_monotonic < 0.6


def test_slow_answer_past_the_deadline_is_a_failure(sink: Sink) -> None:
    sink.plan("/handler", Respond(200, delay=0.5))
    result = attempt(task(sink, dispatch_deadline=0.2))
    assert not result.ok and result.status is None and "DEADLINE_EXCEEDED" in str(result.error)
    assert result.latency < 0.45


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_reset_is_a_connection_error_and_sent_once(sink: Sink, method: str) -> None:
    sink.plan("/handler", Reset())
    result = attempt(task(sink, method=method))
    assert not result.ok and result.status is None
    assert result.error is not None and result.error.startswith("connection error")
    time.sleep(0.1)
    assert len(sink.requests) == 1  # aiohttp's silent retry of idempotent requests is off


def test_refused_connection_is_a_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = attempt(Delivery(queue_id="q", task_id="t", url=f"http://127.0.0.1:{port}/x"))
    assert not result.ok and result.status is None
    assert result.error is not None and result.error.startswith("connection error")


def test_invalid_url_is_reported_not_raised() -> None:
    result = attempt(Delivery(queue_id="q", task_id="t", url="not a url"))
    assert not result.ok and result.error


def test_huge_body_only_head_is_read_and_fast(sink: Sink) -> None:
    sink.plan("/handler", HugeBody(size=50 * 1024 * 1024))
    started = time.monotonic()
    result = attempt(task(sink))
    elapsed = time.monotonic() - started
    assert result.ok and result.status == 200
    assert result.response_head == b"x" * 1024
    assert elapsed < 2.0
    (got,) = sink.wait_for(1)
    time.sleep(0.2)
    assert got.bytes_sent < 10 * 1024 * 1024  # the connection was closed, not drained


def test_app_engine_task(sink: Sink) -> None:
    target = AppEngineTarget(
        host=f"127.0.0.1:{sink.port}", relative_uri="/work?x=1", service="worker", version="v2"
    )
    delivery = Delivery(
        queue_id="gae-q", task_id="t-9", app_engine=target, headers={"User-Agent": "mine/1.0"},
        body=b"payload", schedule_time=ETA, retry_count=2, execution_count=2,
        previous_response=500, retry_reason="",
    )  # fmt: skip
    assert attempt(delivery).ok
    (got,) = sink.wait_for(1)
    h = got.headers
    assert (got.path, got.query) == ("/work", "x=1")
    assert h["Host"] == f"v2.worker.127.0.0.1:{sink.port}"
    assert h["User-Agent"] == f"mine/1.0 {APP_ENGINE_USER_AGENT}"
    assert h["X-AppEngine-QueueName"] == "gae-q"
    assert h["X-AppEngine-TaskName"] == "t-9"
    assert h["X-AppEngine-TaskRetryCount"] == "2"
    assert h["X-AppEngine-TaskExecutionCount"] == "2"
    assert h["X-AppEngine-TaskETA"] == "1700000000.25"
    assert h["X-AppEngine-TaskPreviousResponse"] == "500"
    assert "X-AppEngine-TaskRetryReason" in h
    assert h["Content-Type"] == "application/octet-stream"
    assert not any(name.lower().startswith("x-cloudtasks-") for name in h)


def test_app_engine_host_with_scheme_and_no_routing() -> None:
    target = AppEngineTarget(host="http://localhost:8080/", relative_uri="")
    assert target.url() == "http://localhost:8080/"
    assert target.routing_host() == "localhost:8080"


def test_many_concurrent_attempts_share_one_session(sink: Sink) -> None:
    # Each answer waits until all 60 requests are at the sink at once: a session that queued
    # requests behind a connection limit would leave the peak short of 60.
    sink.plan("/handler", AllTogether(60))

    async def burst(session: Any) -> list[AttemptResult]:
        jobs = [deliver(session, task(sink, task_id=f"t-{i}")) for i in range(60)]
        return list(await asyncio.gather(*jobs))

    results = run(burst)
    assert all(r.ok for r in results)
    assert sink.peak_in_flight == 60
    assert len({r.headers["X-CloudTasks-TaskName"] for r in sink.wait_for(60)}) == 60


def test_parse_retry_after() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", now=now) == pytest.approx(30.0)
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_eta_format_matches_production() -> None:
    # A handler behind production Cloud Tasks logged X-Cloudtasks-Tasketa: 1666670855.3296249
    # for a schedule time of ...855.329625 s: a double printed with 17 significant digits.
    assert format_eta(1666670855.329625) == "1666670855.3296249"
    assert format_eta(1700000000.0) == "1700000000"
    assert float(format_eta(1700000000.123456)) == 1700000000.123456
