"""The servicer behind a real grpc.aio server on 127.0.0.1, in-process, with the official client.

The handler tests call methods directly; this checks the part between: registration of every
method, (de)serialisation of raw protobufs, and the error mapping as a client sees it.
"""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from google.api_core import exceptions
from google.cloud import tasks_v2
from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcAsyncIOTransport

from tests.unit.engine_parts import LOCATION, engine_parts


async def test_the_official_async_client_talks_to_the_in_process_servicer(tmp_path: Path) -> None:
    async with engine_parts(tmp_path) as parts:
        server = grpc.aio.server()
        server.add_generic_rpc_handlers(parts.service.handlers())
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        client = tasks_v2.CloudTasksAsyncClient(
            transport=CloudTasksGrpcAsyncIOTransport(channel=channel)
        )
        try:
            queue = await client.create_queue(
                parent=LOCATION, queue={"name": f"{LOCATION}/queues/wired"}
            )
            assert queue.state == tasks_v2.Queue.State.RUNNING
            task = await client.create_task(
                parent=queue.name, task={"http_request": {"url": "http://127.0.0.1:9/"}}
            )
            assert task.create_time.timestamp() == parts.clock.now_us() // 1_000_000
            listed = [q.name async for q in await client.list_queues(parent=LOCATION)]
            assert listed == [queue.name]
            with pytest.raises(exceptions.NotFound):
                await client.get_task(name=f"{queue.name}/tasks/missing")
            with pytest.raises(exceptions.InvalidArgument):
                await client.get_queue(name="projects/p/queues/q")
            with pytest.raises(exceptions.AlreadyExists):
                await client.create_queue(parent=LOCATION, queue={"name": queue.name})
        finally:
            await channel.close()
            await server.stop(None)
