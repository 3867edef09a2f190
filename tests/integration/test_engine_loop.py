"""A real engine process reports the event loop it runs on (uvloop wherever it is installed)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tasksctl.engine.event_loop import ENV_ENGINE_LOOP, LOOP_UVLOOP


def test_the_engine_runs_on_uvloop_where_installed(tasks_engine: Any) -> None:
    pytest.importorskip("uvloop", reason="uvloop is not installed on this platform")
    if os.environ.get(ENV_ENGINE_LOOP):
        pytest.skip(f"{ENV_ENGINE_LOOP} is set in this environment")
    assert tasks_engine.call("GET", "/v1/status")["event_loop"] == LOOP_UVLOOP
