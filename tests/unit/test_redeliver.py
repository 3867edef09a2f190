"""engine/redeliver.chosen: which successful tasks an idempotency drill delivers twice."""

from __future__ import annotations

from tasksctl.engine.redeliver import chosen

QUEUE = "projects/p/locations/l/queues/q"
NAMES = [f"{QUEUE}/tasks/t{i}" for i in range(2000)]


def test_the_fraction_is_the_share_of_tasks_chosen() -> None:
    share = sum(chosen(name, 0.25) for name in NAMES) / len(NAMES)
    assert 0.21 < share < 0.29


def test_the_choice_is_the_same_every_time_for_a_name() -> None:
    first = [chosen(name, 0.5) for name in NAMES]
    assert [chosen(name, 0.5) for name in NAMES] == first
    assert any(first) and not all(first)


def test_a_larger_fraction_keeps_every_task_a_smaller_one_chose() -> None:
    small = {name for name in NAMES if chosen(name, 0.1)}
    large = {name for name in NAMES if chosen(name, 0.6)}
    assert small < large


def test_zero_is_off_and_one_is_every_task() -> None:
    assert not any(chosen(name, 0.0) for name in NAMES)
    assert all(chosen(name, 1.0) for name in NAMES)
