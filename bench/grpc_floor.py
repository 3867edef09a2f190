"""The floor of the serving stack: a CreateTask server that does no work at all.

It answers every Cloud Tasks call with canned bytes (no validation, no store, no dispatcher) on
uvloop when installed, through one of two gRPC stacks:

- ``--stack native`` (what ``bench_latency.py`` runs as ``floor``): the engine's own front,
  ``tasksctl.engine.grpc_front``, which the engine serves gRPC with;
- ``--stack grpcio`` (the default here): grpc.aio with raw-bytes generic handlers, the stack the
  engine used before (and still does with ``TASKSCTL_ENGINE_GRPC=grpcio``).

No server built on a stack can be faster than its floor, so ``bench_latency.py`` measures it
beside the engine and the peer to show how much of the peer's rate is left to win.

    python bench/grpc_floor.py --port 9091 --stack native   # prints "ready" when listening
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import grpc

SERVICE = "google.cloud.tasks.v2.CloudTasks"


def canned_task() -> bytes:
    from google.cloud import tasks_v2

    task = tasks_v2.Task.pb()(
        name="projects/bench/locations/us-central1/queues/latency/tasks/0123456789",
        http_request={"url": "http://127.0.0.1:9/latency", "body": b"x" * 100},
    )
    return bytes(task.SerializeToString())


class Floor(grpc.GenericRpcHandler):
    """Every unary call of the service: CreateTask gets a Task, the rest an empty message."""

    def __init__(self) -> None:
        task = canned_task()

        async def create_task(request: bytes, context: Any) -> bytes:
            return task

        async def empty(request: bytes, context: Any) -> bytes:
            return b""

        def same(data: bytes) -> bytes:
            return data

        self._create = grpc.unary_unary_rpc_method_handler(create_task, same, same)
        self._empty = grpc.unary_unary_rpc_method_handler(empty, same, same)

    def service(self, details: Any) -> Any:
        method = details.method
        if not method.startswith(f"/{SERVICE}/"):
            return None
        return self._create if method.endswith("/CreateTask") else self._empty


async def serve_native(port: int) -> None:
    """The same canned answers through the engine's own HTTP/2 front (``grpc_front``)."""
    from tasksctl.engine.grpc_front import GrpcConnection
    from tasksctl.engine.public_port import method_lookup

    lookup = method_lookup([Floor()])

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: GrpcConnection(lookup, lambda _: None), "127.0.0.1", port
    )
    print("ready", flush=True)
    await server.serve_forever()


async def serve(port: int) -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((Floor(),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print("ready", flush=True)
    await server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stack", choices=("grpcio", "native"), default="grpcio")
    args = parser.parse_args()
    port = args.port
    serve_fn = serve_native if args.stack == "native" else serve
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve_fn(port))
    else:
        uvloop.run(serve_fn(port))


if __name__ == "__main__":
    sys.exit(main())
