"""engine/event_loop.py: the engine runs on uvloop where installed, asyncio's loop on request."""

from __future__ import annotations

import pytest

from tasksctl.engine import event_loop


def _kind_inside(kind: str | None) -> str:
    seen: list[str] = []

    async def main() -> None:
        seen.append(event_loop.running_loop_kind())

    event_loop.run(main(), kind)
    return seen[0]


def test_uvloop_is_the_default_where_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("uvloop", reason="uvloop is not installed on this platform")
    monkeypatch.delenv(event_loop.ENV_ENGINE_LOOP, raising=False)
    assert event_loop.wanted_loop() == event_loop.LOOP_UVLOOP
    assert _kind_inside(None) == event_loop.LOOP_UVLOOP


@pytest.mark.parametrize("value", ["asyncio", " AsyncIO "])
def test_the_environment_can_ask_for_asyncios_loop(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(event_loop.ENV_ENGINE_LOOP, value)
    assert event_loop.wanted_loop() == event_loop.LOOP_ASYNCIO
    assert _kind_inside(None) == event_loop.LOOP_ASYNCIO


def test_without_uvloop_the_engine_falls_back_to_asyncio(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    monkeypatch.delenv(event_loop.ENV_ENGINE_LOOP, raising=False)
    monkeypatch.setitem(sys.modules, "uvloop", None)  # makes `import uvloop` fail
    assert event_loop.wanted_loop() == event_loop.LOOP_ASYNCIO
