"""A real engine process reports its serving stack: uvloop wherever it is installed, gRPC served
on that loop by the engine itself (``grpc_front``)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tasksctl.engine.event_loop import ENV_ENGINE_LOOP, LOOP_UVLOOP
from tasksctl.engine.runtime import GRPC_STACK_ENV, STACK_NATIVE


def test_the_engine_runs_on_uvloop_where_installed(tasks_engine: Any) -> None:
    pytest.importorskip("uvloop", reason="uvloop is not installed on this platform")
    if os.environ.get(ENV_ENGINE_LOOP):
        pytest.skip(f"{ENV_ENGINE_LOOP} is set in this environment")
    assert tasks_engine.call("GET", "/v1/status")["event_loop"] == LOOP_UVLOOP


def test_the_engine_serves_grpc_on_its_own_loop(tasks_engine: Any) -> None:
    if os.environ.get(GRPC_STACK_ENV):
        pytest.skip(f"{GRPC_STACK_ENV} is set in this environment")
    assert tasks_engine.call("GET", "/v1/status")["grpc_server"] == STACK_NATIVE
