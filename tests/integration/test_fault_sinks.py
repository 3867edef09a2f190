"""Issue 14, standing suite: targets that hang past the deadline, answer slowly, reset the
connection, send a huge or a malformed answer, or refuse the connection never stall the other
queues, and every such attempt is recorded as a failure."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import free_port, make_client
from tests.sink import Hang, HugeBody, Reset, Respond, Sink, sink_fixture

sink = sink_fixture()
PARENT = "projects/faults/locations/here"


class GarbageServer:
    """Accepts connections and answers bytes that are not HTTP, then closes."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.hits = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.hits += 1
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                    conn.sendall(b"\x00\xffNOT-HTTP garbage\r\n\r\n" * 50)
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def garbage() -> Iterator[GarbageServer]:
    server = GarbageServer()
    yield server
    server.close()


def _stats(engine: Any) -> dict[str, Any]:
    import json
    import urllib.request

    with urllib.request.urlopen(engine.http_url + "/v1/stats", timeout=10) as response:
        return dict(json.loads(response.read()))


def test_faulty_targets_never_stall_other_queues(
    engine_factory: Any, sink: Sink, garbage: GarbageServer
) -> None:
    engine = engine_factory()
    client = make_client(engine.address)
    sink.plan("/hang", Hang())
    sink.plan("/slow", Respond(200, delay=3.0))
    sink.plan("/reset", Reset())
    sink.plan("/huge", HugeBody(size=50 * 1024 * 1024, status=500))
    closed_port = free_port()  # nothing listens: connection refused
    faults = {
        "hang": sink.url_for("/hang"),
        "slow": sink.url_for("/slow"),
        "reset": sink.url_for("/reset"),
        "huge": sink.url_for("/huge"),
        "garbage": f"http://127.0.0.1:{garbage.port}/x",
        "refused": f"http://127.0.0.1:{closed_port}/x",
    }
    for kind, url in faults.items():
        queue = f"{PARENT}/queues/{kind}"
        client.create_queue(
            parent=PARENT,
            queue={"name": queue, "rate_limits": {"max_concurrent_dispatches": 5},
                   "retry_config": {"min_backoff": {"seconds": 1}, "max_attempts": 3}},
        )  # fmt: skip
        for _ in range(10):
            client.create_task(
                parent=queue,
                task={"http_request": {"url": url}, "dispatch_deadline": {"seconds": 15}},
            )
    sink.wait_for(5, timeout=10, path="/hang")  # the hanging queue is at its cap
    healthy = f"{PARENT}/queues/healthy"
    client.create_queue(parent=PARENT, queue={"name": healthy})
    started = time.monotonic()
    for _ in range(50):
        client.create_task(parent=healthy, task={"http_request": {"url": sink.url_for("/ok")}})
    sink.wait_for(50, timeout=20, path="/ok")
    elapsed = time.monotonic() - started
    assert elapsed < 15, f"the healthy queue took {elapsed:.1f}s"
    # every fault was attempted and its failures recorded (dispatch_count grows, nothing lost)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        counts = {
            kind: sum(t.dispatch_count for t in client.list_tasks(parent=f"{PARENT}/queues/{kind}"))
            for kind in ("reset", "huge", "garbage", "refused")
        }
        if all(count >= 10 for count in counts.values()):
            break
        time.sleep(0.2)
    assert all(count >= 10 for count in counts.values()), counts
    assert garbage.hits >= 10
    huge = sink.requests_for("/huge")
    assert huge and all(r.bytes_sent < 5 * 1024 * 1024 for r in huge)  # dropped, not drained
    names = {q["name"].rsplit("/", 1)[-1] for q in _stats(engine)["queues"]}
    assert {"healthy", *faults} <= names  # the side port keeps answering
    for kind in faults:
        client.purge_queue(name=f"{PARENT}/queues/{kind}")
