"""eager.start_eagerly: a coroutine runs on the caller's stack up to its first wait."""

from __future__ import annotations

import asyncio

import pytest

from tasksctl.engine.eager import start_eagerly


async def test_code_before_the_first_await_runs_before_start_eagerly_returns() -> None:
    steps: list[str] = []
    gate = asyncio.get_running_loop().create_future()

    async def handler() -> None:
        steps.append("before")
        await gate
        steps.append("after")

    task = start_eagerly(handler())
    assert steps == ["before"], "no loop iteration was needed to start the coroutine"
    assert task is not None and not task.done()
    gate.set_result(None)
    await asyncio.wait_for(task, 5.0)
    assert steps == ["before", "after"]


async def test_a_coroutine_that_never_waits_finishes_at_once_without_a_task() -> None:
    ran: list[int] = []

    async def handler() -> None:
        ran.append(1)

    tasks = asyncio.all_tasks()
    assert start_eagerly(handler()) is None
    assert ran == [1]
    assert asyncio.all_tasks() == tasks, "no task was created"


async def test_the_task_finishes_after_the_awaited_future_is_set() -> None:
    loop = asyncio.get_running_loop()
    first, second = loop.create_future(), loop.create_future()
    seen: list[object] = []

    async def handler() -> None:
        seen.append(await first)
        await asyncio.sleep(0)  # a bare yield to the loop in between
        seen.append(await second)

    task = start_eagerly(handler())
    assert task is not None
    first.set_result("one")
    await asyncio.sleep(0)
    assert not task.done()
    second.set_result("two")
    await asyncio.wait_for(task, 5.0)
    assert task.result() is None
    assert seen == ["one", "two"]


async def test_an_exception_after_the_first_wait_ends_the_task_with_it() -> None:
    gate = asyncio.get_running_loop().create_future()

    async def handler() -> None:
        await gate
        raise KeyError("late")

    task = start_eagerly(handler())
    assert task is not None
    gate.set_result(None)
    with pytest.raises(KeyError, match="late"):
        await asyncio.wait_for(task, 5.0)


async def test_an_exception_before_the_first_wait_reaches_the_caller() -> None:
    async def handler() -> None:
        raise ValueError("early")

    with pytest.raises(ValueError, match="early"):
        start_eagerly(handler())


async def test_cancelling_the_task_throws_cancelled_error_into_the_coroutine() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def handler() -> None:
        try:
            await gate
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        finally:
            seen.append("finally")

    task = start_eagerly(handler())
    assert task is not None
    await asyncio.sleep(0)  # the task has taken over the wait
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5.0)
    assert seen == ["cancelled", "finally"]
    assert gate.cancelled(), "the future the coroutine waited on is cancelled with it"


async def test_a_cancel_before_the_task_first_runs_still_reaches_the_coroutine() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def handler() -> None:
        try:
            await gate
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    task = start_eagerly(handler())
    assert task is not None
    task.cancel()  # e.g. the loop shutting down in the same iteration
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5.0)
    assert seen == ["cancelled"]


async def test_a_coroutine_may_swallow_the_cancel_and_finish_normally() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    after = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def handler() -> None:
        try:
            await gate
        except asyncio.CancelledError:
            seen.append("cancelled")
        seen.append(await after)

    task = start_eagerly(handler())
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.sleep(0)
    after.set_result("resumed")
    await asyncio.wait_for(task, 5.0)
    assert seen == ["cancelled", "resumed"]
