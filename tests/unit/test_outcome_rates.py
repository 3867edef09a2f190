"""Issue 14.7: the stats rates are not capped by a sample count (they once topped out at 200/s:
1,000 attempts over 5 s) while a queue dispatched 500/s."""

from __future__ import annotations

import pytest

from tasksctl.engine.outcome_rates import OutcomeRates


def test_500_per_second_reads_500_per_second() -> None:
    rates = OutcomeRates()
    start = 1000.0
    for n in range(10 * 500):  # 10 s at 500/s, evenly spaced
        rates.add("done" if n % 5 else "retry", start + n / 500)
    now = start + 10.0
    assert rates.per_second(5.0, now) == pytest.approx(500, rel=0.03)
    assert rates.per_second(5.0, now, ("done",)) == pytest.approx(400, rel=0.03)
    assert rates.per_second(5.0, now, ("retry",)) == pytest.approx(100, rel=0.03)
    assert rates.per_second(5.0, now, ("gave_up",)) == 0


def test_old_outcomes_leave_the_window_and_are_dropped() -> None:
    rates = OutcomeRates(keep_s=10.0)
    for n in range(100):
        rates.add("done", 10.0 + n / 100)
    assert rates.per_second(5.0, 11.0) == pytest.approx(100 / 5, rel=0.05)
    assert rates.per_second(5.0, 30.0) == 0
    rates.add("done", 100.0)
    assert len(rates._buckets) == 1  # the old buckets were pruned
