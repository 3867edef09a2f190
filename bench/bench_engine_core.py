"""In-process A/B of the engine core: servicer CreateTask and ListTasks on a temporary store.

Runs the same workload against two source trees (``--base DIR`` holding an older ``tasksctl``,
and this checkout), each in its own subprocess, alternating rounds so machine load hits both
alike. Reports per-round rates, the median ratio new/base and the load average. No network:
the servicer's handlers are called directly (no gRPC), which isolates the store, records and
servicer code that the architecture step (issue 15) touched.

    python bench/bench_engine_core.py --base /tmp/old-tree [--new DIR] [--rounds 5] [--tasks 5000]

(``git archive COMMIT tasksctl | tar -x -C /tmp/old-tree`` makes a tree.) Under heavy load the
wall-clock rates swing several-fold between rounds; the CPU-time rates are steadier.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _workload(tasks: int, source: str) -> dict[str, float]:
    import tasksctl

    loaded_from = Path(tasksctl.__file__).resolve()
    assert loaded_from.is_relative_to(Path(source).resolve()), loaded_from
    from google.cloud import tasks_v2

    from tasksctl.engine.config import EngineConfig
    from tasksctl.engine.server import CloudTasksService
    from tasksctl.engine.store import Store

    class Context:
        async def abort(self, code: Any, details: str) -> None:
            raise RuntimeError(f"{code}: {details}")

    async def run() -> dict[str, float]:
        data = Path(tempfile.mkdtemp(prefix="bench-core-", dir="/dev/shm"))
        store = Store(data / "tasks.db")
        store.open()
        service = CloudTasksService(store, EngineConfig(data_dir=data))
        ctx = Context()
        parent = "projects/p/locations/l"
        queue = f"{parent}/queues/q"
        make_queue = tasks_v2.CreateQueueRequest.pb()(parent=parent, queue={"name": queue})
        await service.CreateQueue(make_queue, ctx)
        target = {"http_request": {"url": "http://127.0.0.1:9/x", "body": b"x" * 100}}
        started, cpu = time.perf_counter(), time.process_time()
        pending = []
        for _ in range(tasks):
            request = tasks_v2.CreateTaskRequest.pb()(parent=queue, task=target)
            pending.append(service.CreateTask(request, ctx))
            if len(pending) >= 200:  # 200 concurrent callers
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        create_s = time.perf_counter() - started
        create_cpu = time.process_time() - cpu
        listing = tasks_v2.ListTasksRequest.pb()(parent=queue, page_size=1000)
        started, cpu = time.perf_counter(), time.process_time()
        listed = 0
        for _ in range(10):
            listed += len((await service.ListTasks(listing, ctx)).tasks)
        list_s = time.perf_counter() - started
        list_cpu = time.process_time() - cpu
        await store.close()
        shutil.rmtree(data, ignore_errors=True)
        return {
            "create_per_s": tasks / create_s,
            "list_tasks_per_s": listed / list_s,
            # CPU seconds of this process (both threads): less sensitive to other load.
            "create_per_cpu_s": tasks / create_cpu,
            "list_tasks_per_cpu_s": listed / list_cpu,
        }

    return asyncio.run(run())


def _child(source: Path, tasks: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(source)}
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); "
        "from bench_engine_core import _workload; "
        f"print(json.dumps(_workload({tasks}, {str(source)!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent)],
        env=env, cwd=source, capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="older source tree")
    parser.add_argument("--new", type=Path, default=REPO, help="newer tree (default: this one)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=5000)
    args = parser.parse_args()
    rows: dict[str, list[dict[str, float]]] = {"base": [], "new": []}
    load_before = os.getloadavg()
    for index in range(args.rounds):
        order = [("base", args.base), ("new", args.new)]
        for name, source in order if index % 2 == 0 else reversed(order):  # no order bias
            rows[name].append(_child(source, args.tasks))
    load_after = os.getloadavg()
    report: dict[str, Any] = {"rounds": rows, "load_before": load_before, "load_after": load_after}
    for metric in rows["base"][0]:
        ratios = [n[metric] / b[metric] for n, b in zip(rows["new"], rows["base"], strict=True)]
        report[f"{metric}_median_ratio"] = statistics.median(ratios)
        report[f"{metric}_base_median"] = statistics.median(b[metric] for b in rows["base"])
        report[f"{metric}_new_median"] = statistics.median(n[metric] for n in rows["new"])
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
