"""What a synchronous ``engine clock advance`` costs in wall time (issue 16).

    .venv/bin/python bench/bench_clock.py                 # 5 rounds, writes results/clock.{md,json}
    .venv/bin/python bench/bench_clock.py --rounds 2 --tasks 100

One manual-clock engine (started through tasksctl's pytest plugin machinery: ``python -m
tasksctl engine run --clock manual`` on free ports, temporary data dir) and an in-process HTTP
sink (tests/sink.py), all on 127.0.0.1. Per round, after a reset:

* ``hour_of_retries``: one task answered 500 on a queue with min/max backoff 10 s/300 s,
  3 doublings and ``max_retry_duration`` 1 h; ``advance("2h")`` makes its 17 attempts, each at
  its own virtual time (the clock steps 17 times).
* ``baseline_same_attempts``: the same number of attempts in one clock step: 17 tasks all due
  in an hour, answered 200, ``advance("2h")``. The ratio of the two is the cost of stepping.
* ``two_days_of_tasks``: ``--tasks`` tasks scheduled at distinct times spread over 2 days,
  ``advance("2d")`` (one clock step per task).

The load average is recorded before and after: the machine is shared, compare ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tasksctl.pytest_plugin import TasksEngine, _EngineProcess  # noqa: E402
from tests.sink import Sink  # noqa: E402

RESULTS = REPO / "bench" / "results"
RETRY = {
    "max_attempts": -1,
    "max_retry_duration": {"seconds": 3600},
    "min_backoff": {"seconds": 10},
    "max_backoff": {"seconds": 300},
    "max_doublings": 3,
}


def timed(engine: TasksEngine, by: str) -> tuple[float, int]:
    started = time.perf_counter()
    made = int(engine.advance(by)["attempts"])
    return time.perf_counter() - started, made


def one_round(engine: TasksEngine, sink: Sink, tasks: int) -> dict[str, Any]:
    client = engine.client()
    out: dict[str, Any] = {}

    engine.reset()
    sink.plan("/fail", 500)
    queue = engine.create_queue("hour", retry_config=RETRY)
    client.create_task(parent=queue, task={"http_request": {"url": sink.url_for("/fail")}})
    out["hour_of_retries"] = timed(engine, "2h")

    engine.reset()
    queue = engine.create_queue("baseline")
    due = engine.now() + timedelta(hours=1)
    for _ in range(out["hour_of_retries"][1]):
        task = {"http_request": {"url": sink.url_for("/ok")}, "schedule_time": due}
        client.create_task(parent=queue, task=task)
    out["baseline_same_attempts"] = timed(engine, "2h")

    engine.reset()
    queue = engine.create_queue("days")
    start = engine.now()
    step = timedelta(days=2) / tasks
    for i in range(tasks):
        when = start + step * (i + 1) - timedelta(seconds=1)
        client.create_task(
            parent=queue, task={"http_request": {"url": sink.url_for("/ok")}, "schedule_time": when}
        )
    out["two_days_of_tasks"] = timed(engine, "2d")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=200)
    args = parser.parse_args()
    load_before = os.getloadavg()
    proc = _EngineProcess("manual", None, [])
    rounds: list[dict[str, Any]] = []
    try:
        engine = TasksEngine(proc.grpc_address, proc.http_url, "manual", "bench", "us-central1")
        with Sink() as sink:
            for _ in range(args.rounds):
                rounds.append(one_round(engine, sink, args.tasks))
    finally:
        proc.stop()
    load_after = os.getloadavg()
    report: dict[str, Any] = {
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "rounds": rounds,
        "median_s": {k: statistics.median(r[k][0] for r in rounds) for k in rounds[0]},
        "attempts": {k: rounds[0][k][1] for k in rounds[0]},
    }
    med = report["median_s"]
    report["stepping_overhead_ratio"] = med["hour_of_retries"] / med["baseline_same_attempts"]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "clock.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# bench_clock: wall time of a synchronous `engine clock advance`",
        "",
        f"load average before {load_before[0]:.2f} / after {load_after[0]:.2f} (1 min), "
        f"{args.rounds} rounds, median shown (all rounds in clock.json).",
        "",
        "| scenario | attempts | wall time (median) | per attempt |",
        "|---|---|---|---|",
    ]
    for key, seconds in med.items():
        made = report["attempts"][key]
        lines.append(
            f"| {key} | {made} | {seconds * 1000:.1f} ms | {seconds / max(made, 1) * 1000:.2f} ms |"
        )
    lines += [
        "",
        f"Stepping overhead (hour_of_retries / baseline_same_attempts): "
        f"{report['stepping_overhead_ratio']:.2f}x.",
    ]
    (RESULTS / "clock.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
