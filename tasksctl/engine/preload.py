"""The start-up hook: work done through the engine's own gRPC port before it is ready.

``EngineConfig.preload`` is a callable that gets the loopback address of the engine's gRPC port.
It runs in a worker thread (so a synchronous client can call back into the event loop) after
the gRPC server and the side port listen and before the state files and the ready line, so a
client that saw the engine ready sees what it did. An exception from it stops the start-up.

``tasksctl engine run --queues FILE`` passes a hook that applies the parsed queues file with the
declarative layer and an official client (``tasksctl.cli.engine_queues``); the engine itself
knows nothing about queue files.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tasksctl.engine.config import EngineConfig

Preload = Callable[[str], object]

_WILDCARDS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "[::1]", "[::]": "[::1]"}


async def preload_queues(config: EngineConfig) -> None:
    """Run ``config.preload`` (if any) with the address of the engine's own gRPC port."""
    if config.preload is None:
        return
    await asyncio.to_thread(config.preload, loopback_address(config.host, config.port))


def loopback_address(host: str, port: int) -> str:
    """Where the engine itself can reach its gRPC port (a wildcard bind means loopback)."""
    host = _WILDCARDS.get(host, host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"
