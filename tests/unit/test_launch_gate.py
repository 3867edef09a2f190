"""launch_gate.py: the dispatcher's per-iteration launch budget, and API first."""

from __future__ import annotations

import asyncio
from typing import Any

from tasksctl.engine.launch_gate import (
    API_HOLD_S,
    LAUNCHES_PER_TURN,
    LAUNCHES_PER_TURN_API,
    ApiActivity,
    LaunchGate,
)


class StoppedClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_api_activity_lasts_for_the_call_and_a_short_hold_after_it() -> None:
    clock = StoppedClock()
    activity = ApiActivity(clock)
    assert not activity.busy()
    activity.begin()
    activity.begin()
    activity.end()
    clock.now += 10.0
    assert activity.busy(), "one call is still in progress"
    activity.end()
    assert activity.busy()
    clock.now += API_HOLD_S / 2
    assert activity.busy(), "the caller's next call is probably on its way"
    clock.now += API_HOLD_S
    assert not activity.busy()  # 1.5 holds after the call


async def _launches_per_iteration(gate: LaunchGate, iterations: int) -> list[int]:
    """Take all the room there is, once per loop iteration, ``iterations`` times."""
    counts: list[int] = []
    for _ in range(iterations):
        taken = 0
        while gate.room() > 0:
            gate.take()
            taken += 1
        counts.append(taken)
        await asyncio.sleep(0)  # next iteration
        await asyncio.sleep(0)  # the reset scheduled in the previous one has run
    return counts


async def test_the_budget_is_per_iteration_and_shrinks_while_the_api_is_busy() -> None:
    clock = StoppedClock()
    activity = ApiActivity(clock)
    gate = LaunchGate(activity)
    assert await _launches_per_iteration(gate, 3) == [LAUNCHES_PER_TURN] * 3
    activity.begin()
    assert await _launches_per_iteration(gate, 3) == [LAUNCHES_PER_TURN_API] * 3
    activity.end()
    clock.now += 2 * API_HOLD_S
    assert await _launches_per_iteration(gate, 2) == [LAUNCHES_PER_TURN] * 2


async def test_waiting_schedulers_are_woken_in_turn_a_budget_per_iteration() -> None:
    gate = LaunchGate(ApiActivity(StoppedClock()))
    while gate.room() > 0:
        gate.take()
    woken: list[tuple[int, int]] = []  # (iteration, waiter)
    iteration = 0

    async def waiter(number: int) -> None:
        await gate.wait()
        woken.append((iteration, number))
        gate.take()

    waiters = [asyncio.create_task(waiter(n)) for n in range(2 * LAUNCHES_PER_TURN + 3)]
    while not all(w.done() for w in waiters):
        iteration += 1
        await asyncio.sleep(0)
    order = [number for _, number in woken]
    assert order == sorted(order), "first come, first woken"
    per_iteration: dict[int, int] = {}
    for at, _ in woken:
        per_iteration[at] = per_iteration.get(at, 0) + 1
    assert max(per_iteration.values()) <= LAUNCHES_PER_TURN
    assert len(per_iteration) == 3


async def test_a_cancelled_waiter_does_not_use_up_a_wake() -> None:
    gate = LaunchGate(ApiActivity(StoppedClock()))
    gate.activity.begin()  # budget 1 per iteration
    gate.take()
    first = asyncio.create_task(gate.wait())
    second = asyncio.create_task(gate.wait())
    await asyncio.sleep(0)  # both are queued
    first.cancel()
    await asyncio.wait_for(second, 1.0)
    assert first.cancelled()


async def test_the_servicer_counts_its_calls_as_api_activity(tmp_path: Any) -> None:
    from google.cloud import tasks_v2

    from tests.unit.engine_parts import CONTEXT, engine_parts

    async with engine_parts(tmp_path) as parts:
        activity = parts.service.api_activity
        seen: list[int] = []
        real_write = parts.store.write

        async def spying_write(*args: Any, **kwargs: Any) -> Any:
            seen.append(activity.active)
            return await real_write(*args, **kwargs)

        parts.store.write = spying_write  # type: ignore[method-assign]
        request = tasks_v2.CreateQueueRequest.pb()(
            parent="projects/p/locations/l", queue={"name": "projects/p/locations/l/queues/q"}
        )
        await parts.service.CreateQueue(request, CONTEXT)
        assert seen == [1], "the call was in progress while it wrote"
        assert activity.active == 0 and activity.busy()
