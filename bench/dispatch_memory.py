"""Dispatch benchmark scenario on memory: a large backlog of scheduled tasks."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from dispatch_harness import (
    PARENT,
    EngineProc,
    PeerProc,
    batch_create,
    cpu_seconds,
    make_client,
    memory_mb,
    queue_path,
    queue_spec,
    task_pb,
)
from dispatch_scenarios import CALLERS, Cpu, Size, resume, setup, start_server, stopping

# -- 6. memory with a large backlog -------------------------------------------------------------


def rss(target: str, size: Size, workdir: Path) -> dict[str, Any]:
    """Create a large backlog ~29 days ahead; RSS idle, after a restart, and the DB size."""
    count = size.rss_tasks if target == "engine" else size.peer_rss_tasks
    server = start_server(target, workdir)
    try:
        name = queue_path("backlog")
        base = time.time() + 29 * 86400
        url = "http://127.0.0.1:9/never"  # never due during the run
        out: dict[str, Any] = {"tasks": count}
        out["rss_empty_mb"] = memory_mb(server.pid)
        if isinstance(server, EngineProc):
            # Spread over 12 h so the index sees distinct schedule times; generated lazily.
            gen = (task_pb(url, base + 43_200 * i / count) for i in range(count))
            created = asyncio.run(_engine_backlog(server, name, gen))
        else:
            items = [
                task_pb(url, base + 43_200 * i / count, f"{name}/tasks/t{i:07d}")
                for i in range(count)
            ]
            created = asyncio.run(
                setup(server, [queue_spec("backlog")], {name: items}, paused=True)
            )
            asyncio.run(resume(server, [name]))  # the peer's processor walks its list
        out.update(created)
        out["create_per_s"] = round(created["created"] / created["create_s"], 1)
        time.sleep(3.0)
        out["idle"] = _idle_figures(server)
        if isinstance(server, EngineProc):
            out["stored"] = int(server.side("/v1/status")["tasks"])
            out["disk_bytes"] = server.disk_bytes()
            out["restart_s"] = round(server.restart(), 2)
            time.sleep(3.0)
            out["after_restart"] = _idle_figures(server)
            again = out["after_restart"]
            again["stats_backlog"] = server.side("/v1/stats")["queues"][0]["backlog"]
            again["first_page_tasks"] = asyncio.run(_first_page(server, name))
            again["after_reads_mb"] = memory_mb(server.pid)
            server.stop()
            out["db_mb_by_table"] = db_breakdown(server.data_dir / "tasks.db")
        else:
            per_task_kb = (out["idle"]["VmRSS"] - out["rss_empty_mb"]["VmRSS"]) * 1024 / count
            out["peer_kb_per_task"] = round(per_task_kb, 2)
            out["peer_extrapolated_1m_mb"] = round(per_task_kb * 1_000_000 / 1024)
        return out
    finally:
        stopping(server)


def db_breakdown(path: Path) -> dict[str, float] | str:
    """MiB per table/index from SQLite's dbstat virtual table, when the build has it."""
    import sqlite3

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
    except sqlite3.Error as err:
        return f"dbstat unavailable: {err}"
    finally:
        conn.close()
    return {str(n): round(int(b) / 2**20, 1) for n, b in sorted(rows, key=lambda r: -r[1])}


async def _first_page(engine: EngineProc, name: str) -> int:
    """GetQueue + the first ListTasks page (100 tasks), as a user would look after a restart."""
    client = make_client(engine.address)
    try:
        await client.get_queue(name=name)
        pager = await client.list_tasks(request={"parent": name, "page_size": 100})
        return len(pager._response.tasks)  # one page only, not the whole backlog
    finally:
        await client.transport.close()


async def _engine_backlog(engine: EngineProc, name: str, tasks: Any) -> dict[str, Any]:
    client = make_client(engine.address)
    try:
        await client.create_queue(parent=PARENT, queue=queue_spec("backlog"))
        cpu = Cpu(server=engine.pid)
        sent, failed, seconds = await batch_create(client, name, tasks, CALLERS, 900)
        used = cpu.stop()
        return {
            "created": sent,
            "create_failures": failed,
            "create_s": round(seconds, 2),
            "create_callers": CALLERS,
            "engine_peak_during_create_mb": memory_mb(engine.pid),
            **used,
        }
    finally:
        await client.transport.close()


def _idle_figures(server: EngineProc | PeerProc, seconds: float = 5.0) -> dict[str, Any]:
    before = cpu_seconds(server.pid)
    time.sleep(seconds)
    used = cpu_seconds(server.pid) - before
    return {**memory_mb(server.pid), "idle_cpu_pct": round(used / seconds * 100, 1)}
