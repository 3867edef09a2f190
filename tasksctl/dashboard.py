"""``engine top``'s picture: the engine's ``/v1/stats`` JSON as a rich renderable (pure).

The input is what ``GET /v1/stats`` on the engine's side port answers::

    {"time": 1700000000.0, "uptime_s": 12.5, "queues": [{"name": ..., "state": "RUNNING",
     "backlog": 7, "due": 7, "in_flight": 0, "max_concurrent": 1000, "rate_limit": 500.0,
     "effective_rate": 500.0, "dispatch_rate": 0.0, "success_rate": 0.0, "retry_rate": 0.0,
     "failure_rate": 0.0, "latency_p50_ms": None, "latency_p99_ms": None}, ...]}

:func:`render` turns it into a header line (uptime and totals) over one table row per queue,
sorted by queue name. Nothing here does I/O, so tests render recorded JSON into a recording
console and read the text back. A figure that is missing or null prints as ``—``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

MISSING = "—"
COLUMNS = (
    "QUEUE",
    "STATE",
    "BACKLOG",
    "DUE",
    "IN FLIGHT",
    "DISPATCH",
    "OK/S",
    "RETRY/S",
    "FAIL/S",
    "P50",
    "P99",
)
_STATE_STYLES = {"RUNNING": "green", "PAUSED": "yellow", "DISABLED": "red"}


def _number(value: Any) -> float | None:
    """A finite number from JSON, else None (missing, null, text, NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def fmt_count(value: Any) -> str:
    """``1234`` -> ``1234``; missing -> ``—``."""
    number = _number(value)
    return MISSING if number is None else str(int(number))


def fmt_limit(value: Any) -> str:
    """A configured figure without noise: ``500.0`` -> ``500``, ``5.5`` -> ``5.5``."""
    number = _number(value)
    return MISSING if number is None else f"{number:.6g}"


def fmt_rate(value: Any) -> str:
    """A measured rate per second: ``12.04`` -> ``12.0/s``."""
    number = _number(value)
    return MISSING if number is None else f"{number:.1f}/s"


def fmt_rate_of(rate: Any, limit: Any) -> str:
    """Dispatch rate against the queue's limit: ``12.0/s of 500/s``."""
    limit_text = fmt_limit(limit)
    return f"{fmt_rate(rate)} of {limit_text}/s" if limit_text != MISSING else fmt_rate(rate)


def fmt_in_flight(in_flight: Any, cap: Any) -> str:
    """Tasks being dispatched against the concurrency cap: ``3/1000``."""
    return f"{fmt_count(in_flight)}/{fmt_count(cap)}"


def fmt_latency(ms: Any) -> str:
    """``0.42`` -> ``0.4 ms``, ``183.2`` -> ``183 ms``, ``2350`` -> ``2.35 s``."""
    number = _number(ms)
    if number is None:
        return MISSING
    if number >= 1000:
        return f"{number / 1000:.2f} s"
    if number >= 10:
        return f"{number:.0f} ms"
    return f"{number:.1f} ms"


def fmt_uptime(seconds: Any) -> str:
    """``3725`` -> ``1h 2m 5s``; days when it runs that long."""
    number = _number(seconds)
    if number is None:
        return MISSING
    days, rest = divmod(int(number), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if days or hours:
        parts.append(f"{hours}h")
    if days or hours or minutes:
        parts.append(f"{minutes}m")
    parts.append(f"{secs}s")
    return " ".join(parts)


def _split(name: str) -> tuple[str, str]:
    """``projects/p/locations/l/queues/q`` -> (``p/l``, ``q``); anything else -> ("", name)."""
    parts = name.split("/")
    if len(parts) == 6 and parts[0] == "projects" and parts[2] == "locations":
        return f"{parts[1]}/{parts[3]}", parts[5]
    return "", name


def queues_of(stats: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The queue entries of a stats payload, sorted by full queue name."""
    queues = [q for q in stats.get("queues") or () if isinstance(q, Mapping)]
    return sorted(queues, key=lambda q: str(q.get("name") or ""))


def _total(queues: Iterable[Mapping[str, Any]], key: str) -> float:
    return sum(_number(q.get(key)) or 0.0 for q in queues)


def header(stats: Mapping[str, Any]) -> Text:
    """One line: engine uptime, the stats' clock time and totals over every queue."""
    queues = queues_of(stats)
    stamp = _number(stats.get("time"))
    clock = time.strftime("%H:%M:%S", time.localtime(stamp)) if stamp is not None else MISSING
    line = Text()
    line.append("tasksctl engine", style="bold")
    line.append(f"  up {fmt_uptime(stats.get('uptime_s'))}  at {clock}  ")
    line.append(f"queues {len(queues)}  ")
    line.append(f"backlog {int(_total(queues, 'backlog'))}  ")
    line.append(f"due {int(_total(queues, 'due'))}  ")
    line.append(f"in flight {int(_total(queues, 'in_flight'))}  ")
    line.append(f"dispatch {fmt_rate(_total(queues, 'dispatch_rate'))}  ")
    line.append(f"ok {fmt_rate(_total(queues, 'success_rate'))}  ")
    line.append(f"retry {fmt_rate(_total(queues, 'retry_rate'))}  ")
    failures = _total(queues, "failure_rate")
    line.append(f"fail {fmt_rate(failures)}", style="red" if failures > 0 else "")
    return line


def table(stats: Mapping[str, Any]) -> Table:
    """One row per queue, sorted by name.

    Queue IDs are shown alone when every queue shares one project/location (the caption names
    it), else as ``project/location/queue`` so equal IDs in different places stay apart.
    """
    queues = queues_of(stats)
    parents = {_split(str(q.get("name") or ""))[0] for q in queues}
    shared = next(iter(parents)) if len(parents) == 1 else None
    grid = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for column in COLUMNS:
        grid.add_column(column, justify="left" if column in ("QUEUE", "STATE") else "right")
    for queue in queues:
        parent, queue_id = _split(str(queue.get("name") or ""))
        label = queue_id if shared is not None or not parent else f"{parent}/{queue_id}"
        state = str(queue.get("state") or MISSING)
        in_flight, cap = _number(queue.get("in_flight")), _number(queue.get("max_concurrent"))
        at_cap = in_flight is not None and cap is not None and cap > 0 and in_flight >= cap
        failures = _number(queue.get("failure_rate")) or 0.0
        grid.add_row(
            label,
            Text(state, style=_STATE_STYLES.get(state, "")),
            fmt_count(queue.get("backlog")),
            fmt_count(queue.get("due")),
            Text(fmt_in_flight(in_flight, cap), style="bold" if at_cap else ""),
            fmt_rate_of(queue.get("dispatch_rate"), queue.get("rate_limit")),
            fmt_rate(queue.get("success_rate")),
            fmt_rate(queue.get("retry_rate")),
            Text(fmt_rate(queue.get("failure_rate")), style="red" if failures > 0 else ""),
            fmt_latency(queue.get("latency_p50_ms")),
            fmt_latency(queue.get("latency_p99_ms")),
        )
    if shared:
        grid.caption = f"queues in {shared}"
        grid.caption_justify = "left"
    if not queues:
        grid.caption = "no queues yet"
    return grid


def render(
    stats: Mapping[str, Any], *, footer: str | None = None, problem: str | None = None
) -> RenderableType:
    """Header, table and optional lines: ``problem`` (in red, e.g. the engine stopped
    answering) and ``footer`` (a key hint such as ``q: quit``)."""
    parts: list[RenderableType] = [header(stats), table(stats)]
    if problem:
        parts.append(Text(problem, style="bold red"))
    if footer:
        parts.append(Text(footer, style="dim"))
    return Group(*parts)
