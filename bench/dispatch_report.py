"""Markdown + JSON report of bench_dispatch.py: a target/measured/peer table, then details."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

PEER_NOTES = {
    "throughput": "The peer sends one request at a time per queue (one thread per queue, "
    "urllib, a new connection per request), so its throughput is its sequential loop speed.",
    "rate": "The peer stores rate_limits but never applies them (its UpdateQueue says so: "
    "'no effect currently'); it sends as fast as its loop goes, whatever the setting. Its "
    "figure is what it delivered under that setting, not an accuracy.",
    "concurrency": "The peer ignores max_concurrent_dispatches: it sends one request at a time "
    "per queue, so its peak is 1 whatever the cap (50 tasks were enough to show it).",
    "retry": "The peer has no retry schedule (RetryConfig is ignored): a failed task goes to the "
    "back of its list and is re-sent on the next pass of a 100 ms polling loop, forever "
    "(--max-retries is global). Its error is measured against the same documented schedule.",
    "lateness": "The peer polls every 100 ms and re-walks its task list, so lateness is bounded "
    "below by its polling.",
    "rss": "The peer keeps tasks in memory (proto-plus objects in a list) and has no "
    "BatchCreateTasks; it was loaded with fewer tasks by concurrent CreateTask calls and its "
    "per-task memory extrapolated to 1,000,000.",
}


def _get(
    chosen: dict[tuple[str, str], dict[str, Any]], scenario: str, target: str
) -> dict[str, Any]:
    run = chosen.get((scenario, target))
    figures: dict[str, Any] = run["figures"] if run and run["figures"] else {}
    return figures


def _fmt(value: Any, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    return f"{value}{unit}"


def summary_rows(chosen: dict[tuple[str, str], dict[str, Any]]) -> list[list[str]]:
    """[what, target, engine, peer, verdict] rows."""
    rows: list[list[str]] = []
    e = _get(chosen, "throughput", "engine")
    p = _get(chosen, "throughput", "peer")
    if e or p:
        value = e.get("overall_per_s")
        rows.append(
            [
                f"dispatch throughput, {e.get('queues', 8)} queues x 500/s "
                f"({_fmt(e.get('tasks'))} tasks preloaded, then resumed)",
                ">= 2,000/s",
                _throughput_cell(e),
                f"{_fmt(p.get('overall_per_s'), '/s')} (no rate limits)" if p else "not run",
                _verdict(value is not None and value >= 2000, bool(e)),
            ]
        )
    for (label, target), run in chosen.items():
        e = run["figures"] or {}
        if not label.startswith("throughput ") or target != "engine" or not e:
            continue
        rows.append(
            [
                f"dispatch capacity, {e.get('queues')} queues x 500/s "
                f"({_fmt(e.get('tasks'))} tasks)",
                "(what the engine can do)",
                _throughput_cell(e),
                "see the 8-queue row",
                "",
            ]
        )
    e = _get(chosen, "rate 500/s", "engine")
    if e:
        rows.append(
            [
                f"one queue at 500/s ({_fmt(e.get('tasks'))} tasks), steady rate",
                "500/s (+-2 %)",
                _rate_cell(e, 2),
                _peer_rate(chosen, "rate 500/s"),
                _verdict(_within(e.get("steady_error_pct"), 2.0), True),
            ]
        )
    for label in ("rate 1/s", "rate 10/s", "rate 100/s", "rate 500/s"):
        e = _get(chosen, label, "engine")
        if not e:
            continue
        rows.append(
            [
                f"{label}: burst-excluded (raw)",
                "+-2 %",
                f"{_rate_cell(e, 3)}; raw {_fmt(e.get('raw_per_s'), '/s', 2)}",
                _peer_rate(chosen, label),
                _verdict(_within(e.get("steady_error_pct"), 2.0), True),
            ]
        )
    e, p = _get(chosen, "concurrency", "engine"), _get(chosen, "concurrency", "peer")
    if e:
        peak, used = e.get("sink_peak_in_flight"), e.get("sink_mean_utilization_pct")
        engine_median = e.get("engine_in_flight_median_steady")
        cap = e.get("cap", 50)
        rows.append(
            [
                f"peak in flight, cap {cap}, sink delay {e.get('sink_delay_s')} s",
                "peak <= cap, >= 95 % used",
                f"peak {_fmt(peak)}; mean at sink {_fmt(used, ' %')}; engine in_flight median "
                f"{_fmt(engine_median)}",
                f"peak {_fmt(p.get('sink_peak_in_flight'))} (cap ignored)" if p else "not run",
                _cap_verdict(peak, cap, used, engine_median),
            ]
        )
    e, p = _get(chosen, "retry", "engine"), _get(chosen, "retry", "peer")
    if e:
        rows.append(
            [
                "retry interval error (0.1 s..1 s, 2 doublings, 6 attempts)",
                "<= 20 ms",
                f"mean {_fmt(e.get('mean_abs_error_ms'), ' ms', 2)}, "
                f"p99 {_fmt(e.get('p99_abs_error_ms'), ' ms', 2)}",
                f"mean {_fmt(p.get('mean_abs_error_ms'), ' ms')}, "
                f"p99 {_fmt(p.get('p99_abs_error_ms'), ' ms')} (no schedule)"
                if p
                else "not run",
                _verdict((e.get("p99_abs_error_ms") or 1e9) <= 20, True),
            ]
        )
    e, p = _get(chosen, "lateness", "engine"), _get(chosen, "lateness", "peer")
    if e:
        el, pl = e.get("lateness_ms", {}), p.get("lateness_ms", {}) if p else {}
        rows.append(
            [
                f"schedule lateness, {_fmt(e.get('tasks'))} tasks over {e.get('spread_s')} s",
                "p99 <= 20 ms",
                f"p50 {_fmt(el.get('p50'), ' ms', 2)}, p99 {_fmt(el.get('p99'), ' ms', 2)}",
                f"p50 {_fmt(pl.get('p50'), ' ms')}, p99 {_fmt(pl.get('p99'), ' ms')}"
                if p
                else "not run",
                _verdict((el.get("p99") or 1e9) <= 20, True),
            ]
        )
    e, p = _get(chosen, "rss", "engine"), _get(chosen, "rss", "peer")
    if e:
        idle, again = e.get("idle", {}), e.get("after_restart", {})
        rows.append(
            [
                f"engine RSS with {_fmt(e.get('tasks'))} scheduled tasks",
                "< 200 MB",
                f"idle {_fmt(idle.get('VmRSS'), ' MiB')} (peak {_fmt(idle.get('VmHWM'), ' MiB')}); "
                f"after restart {_fmt(again.get('VmRSS'), ' MiB')}",
                f"{_fmt(p.get('idle', {}).get('VmRSS'), ' MiB')} with {_fmt(p.get('tasks'))} tasks "
                f"(~{_fmt(p.get('peer_extrapolated_1m_mb'), ' MiB')} per 1M)"
                if p
                else "not run",
                _verdict(max(idle.get("VmHWM", 1e9), again.get("VmRSS", 1e9)) < 200, True),
            ]
        )
    return rows


def _throughput_cell(e: dict[str, Any]) -> str:
    """First-to-last rate, the full seconds in between, and the configured ceiling."""
    overall, ceiling = _fmt(e.get("overall_per_s"), "/s"), _fmt(e.get("ceiling_per_s"), "/s")
    seconds = (e.get("per_second_counts") or [])[1:-1]  # the first and last are partial
    each = ", ".join(f"{x:,}" for x in seconds)
    return f"{overall} first-to-last (whole seconds: {each}); rate ceiling {ceiling}"


def _rate_cell(e: dict[str, Any], digits: int) -> str:
    error = _fmt(e.get("steady_error_pct"), " %", 2)
    return f"{_fmt(e.get('steady_per_s'), '/s', digits)} ({error})"


def _within(error_pct: float | None, limit: float) -> bool:
    return error_pct is not None and abs(error_pct) <= limit


def _cap_verdict(peak: Any, cap: int, used: Any, engine_median: Any) -> str:
    """Peak at the sink must not pass the cap; "used" is judged both ways (see findings)."""
    if peak is None or used is None:
        return "not measured"
    if peak > cap:
        return "**missed** (peak above cap)"
    engine_ok = engine_median is not None and engine_median >= 0.95 * cap
    if used >= 95:
        return "met"
    in_engine = "met" if engine_ok else "**missed**"
    return f"peak met; used: {in_engine} in the engine, **missed** at the sink"


def _verdict(ok: bool, measured: bool) -> str:
    return "not measured" if not measured else ("met" if ok else "**missed**")


def _peer_rate(chosen: dict[tuple[str, str], dict[str, Any]], label: str) -> str:
    p = _get(chosen, label, "peer")
    if not p:
        return "not run"
    return f"{_fmt(p.get('raw_per_s'), '/s')} (setting ignored)"


def findings(chosen: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    """Data-driven notes on what limits each figure (see the final report for the analysis)."""
    notes: list[str] = []
    for (label, target), run in chosen.items():
        e = run["figures"] or {}
        if not label.startswith("throughput") or target != "engine" or not e.get("delivered"):
            continue
        n = e["delivered"]
        firsts = e.get("first_arrival_after_resume_ms") or [0]
        api = e.get("side_port_latency_ms") or {}
        notes.append(
            f"{label} ({e['queues']} queues): the engine spent "
            f"{e['server_cpu_s'] / n * 1e6:,.0f} µs of CPU per dispatch, the sink "
            f"{e['sink_cpu_s'] / n * 1e6:,.0f} µs per request ({e['server_cpu_s']:.1f} s and "
            f"{e['sink_cpu_s']:.1f} s over {e['wall_s']:.1f} s of wall time, on 2 cores). "
            f"Deliveries per whole second: {', '.join(f'{x:,}' for x in e['per_second_counts'])}. "
            f"API under this load (the side port, the gRPC API and the dispatcher share one "
            f"event loop): GET /v1/status p50 {api.get('p50')} ms, max {api.get('max')} ms "
            f"(idle ~2 ms); the slowest of the {e['queues']} concurrent ResumeQueue calls took "
            f"{e.get('resume_rpc_s_max')} s, and the queues' first arrivals came "
            f"{min(firsts):,}-{max(firsts):,} ms after the resumes were sent. Up to "
            f"{_fmt(e.get('max_delivered_not_recorded'))} delivered attempts were waiting for "
            "their outcome to be committed: the dispatcher launches as fast as tokens and slots "
            "allow, with no backpressure from the store, and API writes queue behind those "
            "outcome writes."
            + (
                " Seconds above the rate ceiling are catch-up: a token is taken when an attempt "
                "is launched, and launches held up in the busy loop reach the sink late."
                if max(e["per_second_counts"], default=0) > e.get("ceiling_per_s", 1e9)
                else ""
            )
        )
    e = _get(chosen, "rate 1/s", "engine")
    if e.get("steady_per_s") and e.get("max_burst_size") == 1:
        stretch = (1 / e["steady_per_s"] - 1) * 1000
        notes.append(
            f"rate 1/s: max_burst_size is 1, so the bucket cannot bank the time by which each "
            f"wake-up overshoots; every interval is ~{stretch:.1f} ms long "
            f"({e['steady_error_pct']:+.2f} %). With a burst of 2 or more the surplus is kept."
        )
    e = _get(chosen, "concurrency", "engine")
    if e.get("slot_cycle_ms"):
        notes.append(
            f"concurrency: each of the {e['cap']} slots is reused every {e['slot_cycle_ms']} ms "
            f"(cap / {e['steady_per_s']}/s); the request itself takes "
            f"{e['engine_request_latency_p50_ms']} ms as the engine times it (sink delay "
            f"{e['sink_delay_s'] * 1000:.0f} ms + the sink's timer overshoot + HTTP on loopback); "
            f"the remaining {e['slot_time_outside_request_ms']} ms the slot stays held in the "
            "engine, partly for the commit of the outcome, which comes before the slot is "
            "released. The "
            "engine's own in_flight (what the cap counts) sat at the cap "
            f"(median {e['engine_in_flight_median_steady']}, max {e['engine_in_flight_max']})."
        )
    e = _get(chosen, "retry", "engine")
    if e.get("engine_view"):
        v = e["engine_view"]
        notes.append(
            f"retry: at the sink, arrival-to-arrival minus the expected wait: mean "
            f"{e['mean_signed_error_ms']} ms (signed); that includes the failed attempt's own "
            f"answer time. In the engine's attempt history (start of next attempt minus end of "
            f"the failed one): mean {v['mean_signed_error_ms']} ms, p99 {v['p99_abs_error_ms']} "
            f"ms. Extra arrivals after the 6th attempt: {e.get('extra_arrivals_after_give_up')}."
        )
    e = _get(chosen, "rss", "engine")
    if e.get("disk_bytes"):
        total = sum(e["disk_bytes"].values()) / 2**20
        tables = e.get("db_mb_by_table")
        top = (
            ", ".join(f"{k} {v:,.0f} MiB" for k, v in list(tables.items())[:4])
            if isinstance(tables, dict)
            else str(tables)
        )
        notes.append(
            f"rss: {e['created']:,} tasks created in {e['create_s']} s "
            f"({e['create_per_s']:,.0f}/s, {e.get('create_callers')} concurrent "
            f"BatchCreateTasks callers of 100); database on disk {total:,.0f} MiB "
            f"(after the restart, by table: {top}). Engine RSS empty "
            f"{e['rss_empty_mb']['VmRSS']} MiB; idle CPU with the backlog "
            f"{e['idle']['idle_cpu_pct']} %; restart to ready {e.get('restart_s')} s."
        )
    p = _get(chosen, "rss", "peer")
    if p.get("idle"):
        notes.append(
            f"rss (peer): {p['peer_kb_per_task']} KiB per task in memory; with its queue running "
            f"its processor thread used {p['idle']['idle_cpu_pct']} % CPU walking "
            f"{p['tasks']:,} not-yet-due tasks."
        )
    return notes


def write_report(
    out: Path,
    meta: dict[str, Any],
    size: Any,
    chosen: dict[tuple[str, str], dict[str, Any]],
    runs: list[dict[str, Any]],
) -> None:
    """Write ``out`` (.md) and its .json sibling; print the markdown."""
    out.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "meta": meta,
        "size": asdict(size),
        "findings": findings(chosen),
        "summary": [
            dict(zip(("what", "target", "engine", "peer", "verdict"), row, strict=True))
            for row in summary_rows(chosen)
        ],
        "reported_runs": [chosen[k] for k in chosen],
        "all_runs": runs,
    }
    out.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n")
    lines = ["# Dispatcher benchmark: tasksctl engine vs gcloud-tasks-emulator", ""]
    lines += [f"- {k}: {v}" for k, v in meta.items()]
    lines += ["", "| what | target | tasksctl engine | peer | verdict |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in summary_rows(chosen)]
    lines += ["", "## What limits the figures", ""]
    lines += [f"- {note}" for note in findings(chosen)]
    lines += ["", "## Runs reported (load average before each; all runs are in the JSON)", ""]
    lines += [
        "| scenario | target | load before (1/5/15 min) | attempt | seconds | error |",
        "|---|---|---|---:|---:|---|",
    ]
    for run in chosen.values():
        load = " ".join(run["loadavg_before"].split()[:3])
        lines.append(
            f"| {run['scenario']} | {run['target']} | {load} | {run['attempt']} | "
            f"{run['seconds']} | {run['error'] or ''} |"
        )
    lines += ["", "## Where the peer comparison does not apply", ""]
    scenarios = {k[0].split(" ")[0] for k in chosen}
    lines += [f"- **{k}**: {v}" for k, v in PEER_NOTES.items() if k in scenarios]
    lines += ["", "## Details (reported runs)", ""]
    for run in chosen.values():
        lines.append(f"### {run['scenario']} / {run['target']}")
        lines.append("")
        lines.append("```json")
        lines.append(json.dumps(run["figures"], indent=1, default=str)[:6000])
        lines.append("```")
        lines.append("")
    out.write_text("\n".join(lines))
    print("\n".join(lines[: 6 + len(meta) + len(summary_rows(chosen))]))
