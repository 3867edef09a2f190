"""In-process engine parts for unit tests: a temporary store, the servicer, the dispatcher.

All share one ManualClock. Handlers are called directly with a context whose ``abort`` raises
:class:`RpcAbort`, as grpc.aio's would.
"""

from __future__ import annotations

import asyncio
import atexit
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import grpc

from tasksctl.engine.clock import ManualClock
from tasksctl.engine.config import EngineConfig
from tasksctl.engine.dispatcher import Dispatcher
from tasksctl.engine.oidc import KEY_FILE, SigningKeys
from tasksctl.engine.server import CloudTasksService
from tasksctl.engine.store import Store

LOCATION = "projects/p/locations/us-central1"


class RpcAbort(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


class Context:
    """The part of ``grpc.aio.ServicerContext`` the handlers use."""

    async def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise RpcAbort(code, details)


CONTEXT = Context()


@dataclass
class Parts:
    clock: ManualClock
    store: Store
    service: CloudTasksService
    config: EngineConfig
    dispatcher: Dispatcher | None = None


@cache
def _signing_key_file() -> Path:
    """One OIDC signing key for the whole run: generating one costs ~0.3 s."""
    key_dir = Path(tempfile.mkdtemp(prefix="tasksctl-unit-keys-"))
    atexit.register(shutil.rmtree, key_dir, True)  # one per run, gone with it
    SigningKeys.load_or_create(key_dir)
    return key_dir / KEY_FILE


@asynccontextmanager
async def engine_parts(
    tmp_path: Path, *, dispatch: bool = False, **config: Any
) -> AsyncIterator[Parts]:
    """Store + servicer (+ a started dispatcher) on one ManualClock; closed in reverse."""
    clock = ManualClock()
    settings = EngineConfig(data_dir=tmp_path, **config)
    store = Store(None, clock=clock)
    store.open()
    service = CloudTasksService(store, settings, clock)
    parts = Parts(clock, store, service, settings)
    try:
        if dispatch:
            shutil.copy(_signing_key_file(), tmp_path / KEY_FILE)
            parts.dispatcher = Dispatcher(store, settings, clock, service.api_activity)
            service.attach_dispatcher(parts.dispatcher)
            await parts.dispatcher.start()
        yield parts
    finally:
        if parts.dispatcher is not None:
            await parts.dispatcher.stop(grace=1.0)
        await store.close()


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the loop run until ``predicate()`` holds (a poll with a deadline, no fixed sleep)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.001)
