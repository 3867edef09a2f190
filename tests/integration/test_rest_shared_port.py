"""One address for gRPC and REST: the shared main port under concurrency, restarts and stops."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tasksctl.engine.runtime import GRPC_STACK_ENV, STACK_GRPCIO
from tests.conftest import LOCATION, PROJECT, EngineProcess, make_client

PARENT = f"projects/{PROJECT}/locations/{LOCATION}"


def rest_get(engine: EngineProcess, path: str) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", engine.port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def wait_gone(pid: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return
        if "State:\tZ" in status:
            return  # exited; only the reaping is left to its (dead) parent's reaper
        assert time.monotonic() < deadline, f"process {pid} is still running"
        time.sleep(0.02)


def test_a_second_engine_cannot_take_the_port(engine_factory: Any, tmp_path: Path) -> None:
    first: EngineProcess = engine_factory()
    second = subprocess.run(
        [sys.executable, "-m", "tasksctl", "engine", "run", "--host", "127.0.0.1",
         "--port", str(first.port), "--http-port", "0", "--data-dir", str(tmp_path / "other")],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert second.returncode != 0
    assert f"Cannot listen on 127.0.0.1:{first.port}" in second.stderr
    assert rest_get(first, f"/v2/{PARENT}/queues")[0] == 200  # the first keeps serving


def test_grpc_and_rest_in_flight_together(engine: EngineProcess, unique: str) -> None:
    import aiohttp
    import grpc
    from google.cloud import tasks_v2
    from google.cloud.tasks_v2.services.cloud_tasks.transports import (
        CloudTasksGrpcAsyncIOTransport,
    )

    queue = f"{PARENT}/queues/mixed-{unique}"
    make_client(engine.address).create_queue(parent=PARENT, queue={"name": queue})
    make_client(engine.address).pause_queue(name=queue)
    per_worker, workers = 25, 16

    async def over_grpc(index: int) -> None:
        channel = grpc.aio.insecure_channel(engine.address)
        client = tasks_v2.CloudTasksAsyncClient(
            transport=CloudTasksGrpcAsyncIOTransport(channel=channel)
        )
        for n in range(per_worker):
            await client.create_task(parent=queue, task={
                "name": f"{queue}/tasks/g{index}-{n}",
                "http_request": {"url": "http://127.0.0.1:9/"}})  # fmt: skip
        await channel.close()

    async def over_rest(session: Any, index: int) -> None:
        for n in range(per_worker):
            body = {"task": {"name": f"{queue}/tasks/r{index}-{n}",
                             "httpRequest": {"url": "http://127.0.0.1:9/"}}}  # fmt: skip
            async with session.post(f"http://{engine.address}/v2/{queue}/tasks", json=body) as r:
                assert r.status == 200, await r.text()

    async def main() -> None:
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(
                *(over_grpc(i) for i in range(workers)),
                *(over_rest(session, i) for i in range(workers)),
            )

    asyncio.run(main())
    names = {t.name.rsplit("/", 1)[1] for t in make_client(engine.address).list_tasks(parent=queue)}
    expected = {
        f"{kind}{i}-{n}" for kind in "gr" for i in range(workers) for n in range(per_worker)
    }
    assert names == expected


def test_stop_with_open_connections_and_restart_after_kill(engine_factory: Any) -> None:
    engine: EngineProcess = engine_factory()
    client = make_client(engine.address)
    client.create_queue(parent=PARENT, queue={"name": f"{PARENT}/queues/keep"})
    keep_alive = http.client.HTTPConnection("127.0.0.1", engine.port, timeout=30)
    keep_alive.request("GET", f"/v2/{PARENT}/queues/keep")
    assert keep_alive.getresponse().read()
    assert engine.stop(timeout=30) == 0  # an idle REST keep-alive and gRPC channel don't block
    keep_alive.close()

    engine.start()
    assert rest_get(engine, f"/v2/{PARENT}/queues/keep")[0] == 200
    assert engine.proc is not None
    assert children(engine.proc.pid) == []  # gRPC is served in the engine: no relay process
    engine.kill()  # kill -9: the port is free again at once
    engine.start()
    assert rest_get(engine, f"/v2/{PARENT}/queues/keep")[0] == 200
    assert make_client(engine.address).get_queue(name=f"{PARENT}/queues/keep").name


def test_the_grpcio_fallback_serves_both_protocols_on_one_port(
    engine_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(GRPC_STACK_ENV, STACK_GRPCIO)
    engine: EngineProcess = engine_factory()
    assert engine.proc is not None
    status = json.loads(urllib.request.urlopen(f"{engine.http_url}/v1/status", timeout=30).read())
    assert status["grpc_server"] == STACK_GRPCIO
    (relay,) = children(engine.proc.pid)  # grpc.aio behind the shared-port relay process
    make_client(engine.address).create_queue(parent=PARENT, queue={"name": f"{PARENT}/queues/f"})
    assert rest_get(engine, f"/v2/{PARENT}/queues/f")[0] == 200
    engine.kill()  # kill -9: the relay notices and exits, so the port is free again
    wait_gone(relay)
    engine.start()
    assert make_client(engine.address).get_queue(name=f"{PARENT}/queues/f").name


def test_a_dead_relay_is_replaced_and_waiting_clients_are_served(
    engine_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(GRPC_STACK_ENV, STACK_GRPCIO)
    engine: EngineProcess = engine_factory()
    assert engine.proc is not None
    (relay,) = children(engine.proc.pid)
    os.kill(relay, signal.SIGKILL)
    wait_gone(relay)
    # the engine still holds the listener: these connect, wait in the backlog, and are served
    # by the replacement relay
    assert rest_get(engine, f"/v2/{PARENT}/queues")[0] == 200
    make_client(engine.address).create_queue(parent=PARENT, queue={"name": f"{PARENT}/queues/r"})
    (replacement,) = children(engine.proc.pid)
    assert replacement != relay
    assert engine.stop(timeout=30) == 0
    wait_gone(replacement)
