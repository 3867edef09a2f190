"""Dispatch benchmark scenarios on timing: retry intervals and schedule lateness."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from dispatch_harness import EngineProc, SinkProc, percentile, queue_path, queue_spec, wait_for
from dispatch_scenarios import (
    RETRY,
    Cpu,
    Size,
    make_tasks,
    resume,
    rnd,
    setup,
    start_server,
    stopping,
)

from tasksctl.engine.backoff import retry_delay


def retry(target: str, size: Size, workdir: Path) -> dict[str, Any]:
    """A sink answering 500; min_backoff 0.1 s, max_backoff 1 s, max_doublings 2, 6 attempts."""
    attempts = int(RETRY["max_attempts"])
    expected = [
        retry_delay(k, RETRY["min_backoff"], RETRY["max_backoff"], int(RETRY["max_doublings"]))
        for k in range(attempts - 1)
    ]
    server, sink = start_server(target, workdir), SinkProc(status=500)
    try:
        count = size.retry_tasks
        name = queue_path("retry")
        tasks = {name: make_tasks(target, name, sink.url(), count)}
        spec = queue_spec("retry", retry=RETRY)
        created = asyncio.run(setup(server, [spec], tasks, paused=True))
        asyncio.run(resume(server, [name]))
        want = count * attempts
        limit = sum(expected) + 20 if target == "engine" else 10.0
        _got, _waited, ended = wait_for(lambda: int(sink.stats()["total"]), want, limit, stall=5)
        if target == "engine":
            time.sleep(1.5)  # nothing more may arrive: the tasks are given up
        records = sink.requests()
        by_task: dict[str, list[float]] = defaultdict(list)
        for record in records:
            by_task[record["task"]].append(float(record["received"]))
        errors: list[float] = []
        per_step: dict[int, list[float]] = defaultdict(list)
        for times in by_task.values():
            times.sort()
            for k in range(min(len(times), attempts) - 1):
                interval = times[k + 1] - times[k]
                errors.append((interval - expected[k]) * 1000)
                per_step[k].append(interval * 1000)
        out = {
            "tasks": count,
            "expected_waits_s": expected,
            "arrivals": len(records),
            "expected_arrivals": want,
            "ended": ended,
            **created,
            **_error_figures(errors),
            "mean_interval_ms_per_step": {
                str(k): round(statistics.fmean(v), 2) for k, v in sorted(per_step.items())
            },
        }
        if isinstance(server, EngineProc):
            out["extra_arrivals_after_give_up"] = len(records) - want
            out["engine_view"] = _engine_retry_view(server, name, expected)
        return out
    finally:
        stopping(server, sink)


def _error_figures(errors_ms: list[float]) -> dict[str, Any]:
    absolute = sorted(abs(e) for e in errors_ms)
    return {
        "intervals": len(errors_ms),
        "mean_signed_error_ms": round(statistics.fmean(errors_ms), 2) if errors_ms else None,
        "mean_abs_error_ms": round(statistics.fmean(absolute), 2) if absolute else None,
        "p50_abs_error_ms": rnd(percentile(absolute, 0.5)),
        "p99_abs_error_ms": rnd(percentile(absolute, 0.99)),
        "max_abs_error_ms": rnd(absolute[-1] if absolute else None),
    }


def _engine_retry_view(engine: EngineProc, queue: str, expected: list[float]) -> dict[str, Any]:
    """From /v1/failed: next attempt start - (previous start + its latency) - expected wait."""
    from datetime import datetime

    failed = engine.side(f"/v1/failed?queue={queue}")["tasks"]
    errors: list[float] = []
    for task in failed:
        starts = [
            datetime.fromisoformat(a["time"].replace("Z", "+00:00")).timestamp()
            for a in task["attempts"]
        ]
        latencies = [a["latency_ms"] / 1000 for a in task["attempts"]]
        for k in range(len(starts) - 1):
            errors.append((starts[k + 1] - (starts[k] + latencies[k]) - expected[k]) * 1000)
    return {"failed_records": len(failed), **_error_figures(errors)}


# -- 5. schedule lateness -----------------------------------------------------------------------


def lateness(target: str, size: Size, workdir: Path) -> dict[str, Any]:
    """Tasks with schedule_time spread over the next ``lateness_spread_s`` seconds."""
    server, sink = start_server(target, workdir), SinkProc()
    try:
        count, spread = size.lateness_tasks, size.lateness_spread_s
        lead = 2.0 if target == "engine" else 3.0
        name = queue_path("late")
        first = time.time() + lead
        schedule = [first + spread * i / count for i in range(count)]
        tasks = {name: make_tasks(target, name, sink.url(), count, schedule=schedule)}
        created = asyncio.run(setup(server, [queue_spec("late")], tasks, paused=False))
        created["created_before_first_due"] = time.time() < first
        cpu = Cpu(server=server.pid, sink=sink.pid)
        limit = lead + spread + 20
        got, _waited, ended = wait_for(lambda: int(sink.stats()["total"]), count, limit, stall=8)
        used = cpu.stop()
        late = sorted(
            (float(r["received"]) - float(r["eta"])) * 1000
            for r in sink.requests()
            if r["retry"] == "0" and r["eta"]
        )
        return {
            "tasks": count,
            "spread_s": spread,
            "delivered": got,
            "ended": ended,
            **created,
            "lateness_ms": {
                "n": len(late),
                "min": rnd(late[0] if late else None),
                "p50": rnd(percentile(late, 0.5)),
                "p90": rnd(percentile(late, 0.9)),
                "p99": rnd(percentile(late, 0.99)),
                "max": rnd(late[-1] if late else None),
                "mean": rnd(statistics.fmean(late) if late else None),
            },
            **used,
        }
    finally:
        stopping(server, sink)
