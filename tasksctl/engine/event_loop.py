"""Which asyncio event loop the engine runs on: uvloop where it is installed, else asyncio's.

Every RPC costs a handful of loop turns (gRPC's poller hands each event to the loop, the
group commit runs at the next turn, the answer goes back through the loop), so the loop's own
per-turn cost is a large part of a lone caller's latency. uvloop (libuv under a Cython loop)
measured 540-650 us of engine CPU per sequential CreateTask against 780-800 us on asyncio's
selector loop, same run (bench/results/latency.md). ``TASKSCTL_ENGINE_LOOP=asyncio`` opts out,
e.g. to rule the loop out when chasing a bug.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any

ENV_ENGINE_LOOP = "TASKSCTL_ENGINE_LOOP"
LOOP_ASYNCIO = "asyncio"
LOOP_UVLOOP = "uvloop"


def wanted_loop() -> str:
    """``asyncio`` if the environment asks for it or uvloop cannot be imported, else ``uvloop``."""
    if os.environ.get(ENV_ENGINE_LOOP, "").strip().lower() == LOOP_ASYNCIO:
        return LOOP_ASYNCIO
    try:
        import uvloop  # noqa: F401
    except ImportError:  # not installed (e.g. Windows, or another interpreter)
        return LOOP_ASYNCIO
    return LOOP_UVLOOP


def run(main: Coroutine[Any, Any, None], kind: str | None = None) -> None:
    """Run ``main`` to completion on a new event loop of ``kind`` (default: :func:`wanted_loop`)."""
    if (kind or wanted_loop()) == LOOP_UVLOOP:
        import uvloop

        uvloop.run(main)
    else:
        asyncio.run(main)


def running_loop_kind() -> str:
    """The kind of the running loop, for the engine's status."""
    module = type(asyncio.get_running_loop()).__module__
    return LOOP_UVLOOP if module.startswith("uvloop") else LOOP_ASYNCIO
