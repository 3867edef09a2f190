"""Unit tier: in-process, no subprocess, no real-time waits.

``async def`` tests run on a fresh event loop (``asyncio.run``) under a hard timeout, so a
missed wake-up fails the test instead of hanging the suite (pytest-asyncio is not needed).
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

ASYNC_TEST_TIMEOUT_S = 30.0


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs: dict[str, Any] = {name: pyfuncitem.funcargs[name] for name in names}

    async def bounded() -> None:
        await asyncio.wait_for(pyfuncitem.obj(**kwargs), ASYNC_TEST_TIMEOUT_S)

    asyncio.run(bounded())
    return True
