"""`tasksctl engine top`: the dashboard rendered from the engine's `/v1/stats`.

The pure renderer is checked on a recorded stats payload; then on a real engine under load
(a paused queue holding 7 tasks, a capped queue aimed at a slow sink) the rendered text is read
back from a recording rich console and its figures compared with what the engine was given. The
command itself runs as a real process: one table on a pipe, a live screen on a pseudo-terminal
that quits on `q` or Ctrl-C and gives the terminal back as it found it.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import time
import urllib.request
from typing import Any

import pytest
from rich.console import Console

from tasksctl import dashboard
from tasksctl.cli.engine_top import parse_interval
from tasksctl.engine.dispatch_http import STATS_CACHE_S
from tasksctl.errors import UsageError
from tests.conftest import LOCATION, PROJECT, free_port
from tests.sink import Respond, Sink

PARENT = f"projects/{PROJECT}/locations/{LOCATION}"

RECORDED: dict[str, Any] = {
    "time": 1_700_000_000.0,
    "uptime_s": 3725.4,
    "queues": [
        {
            "name": f"{PARENT}/queues/zeta",
            "state": "RUNNING",
            "backlog": 120,
            "due": 40,
            "in_flight": 3,
            "max_concurrent": 1000,
            "rate_limit": 500.0,
            "effective_rate": 500.0,
            "dispatch_rate": 12.04,
            "success_rate": 10.0,
            "retry_rate": 1.5,
            "failure_rate": 0.5,
            "latency_p50_ms": 4.25,
            "latency_p99_ms": 2350.0,
        },
        {
            "name": f"{PARENT}/queues/alpha",
            "state": "PAUSED",
            "backlog": 7,
            "due": 7,
            "in_flight": 0,
            "max_concurrent": 2,
            "rate_limit": 5.5,
            "effective_rate": 0.0,
            "dispatch_rate": 0.0,
            "success_rate": 0.0,
            "retry_rate": 0.0,
            "failure_rate": 0.0,
            "latency_p50_ms": None,
            "latency_p99_ms": None,
        },
        {"name": f"{PARENT}/queues/mid", "state": "RUNNING", "in_flight": 2, "max_concurrent": 2},
    ],
}


def text_of(renderable: Any) -> str:
    console = Console(record=True, width=160, color_system=None)
    console.print(renderable)
    return console.export_text()


def row(text: str, queue_id: str) -> list[str]:
    """The cells of the table row for ``queue_id`` (split on whitespace).

    The first cell is the queue ID, or ``project/location/ID`` once the engine holds queues in
    several locations (as the shared session engine does after other test files); it is
    normalised to the bare ID.
    """
    for line in text.splitlines():
        cells = line.split()
        if cells and (cells[0] == queue_id or cells[0].endswith(f"/{queue_id}")):
            return [queue_id, *cells[1:]]
    raise AssertionError(f"no row for {queue_id} in:\n{text}")


# -- the pure renderer -----------------------------------------------------------------------


def test_recorded_stats_render_sorted_rows_with_every_figure() -> None:
    text = text_of(dashboard.render(RECORDED, footer="q: quit"))
    lines = text.splitlines()
    header = lines[0]
    assert "up 1h 2m 5s" in header
    assert "queues 3  backlog 127  due 47  in flight 5  dispatch 12.0/s" in header
    assert "ok 10.0/s  retry 1.5/s  fail 0.5/s" in header
    order = [
        line.split()[0] for line in lines if line.split()[:1] in (["alpha"], ["mid"], ["zeta"])
    ]
    assert order == ["alpha", "mid", "zeta"]
    assert row(text, "zeta") == [
        "zeta", "RUNNING", "120", "40", "3/1000", "12.0/s", "of", "500/s",
        "10.0/s", "1.5/s", "0.5/s", "4.2", "ms", "2.35", "s",
    ]  # fmt: skip
    assert row(text, "alpha") == [
        "alpha", "PAUSED", "7", "7", "0/2", "0.0/s", "of", "5.5/s",
        "0.0/s", "0.0/s", "0.0/s", "—", "—",
    ]  # fmt: skip
    # Figures the engine left out are dashes, not zeros.
    assert row(text, "mid") == ["mid", "RUNNING", "—", "—", "2/2", "—", "—", "—", "—", "—", "—"]
    assert f"queues in {PROJECT}/{LOCATION}" in text
    assert lines[-1].strip() == "q: quit"


def test_queues_in_several_locations_keep_their_location() -> None:
    stats = {
        "uptime_s": 1,
        "queues": [
            {"name": "projects/p/locations/europe-west1/queues/q", "state": "RUNNING"},
            {"name": "projects/p/locations/us-central1/queues/q", "state": "DISABLED"},
        ],
    }
    text = text_of(dashboard.table(stats))
    assert row(text, "p/europe-west1/q")[1] == "RUNNING"
    assert row(text, "p/us-central1/q")[1] == "DISABLED"


def test_an_engine_without_queues_and_a_problem_line() -> None:
    text = text_of(dashboard.render({"uptime_s": 0.4, "queues": []}, problem="engine gone"))
    assert "up 0s" in text and "queues 0  backlog 0" in text
    assert "no queues yet" in text and "engine gone" in text


@pytest.mark.parametrize(
    ("func", "args", "expected"),
    [
        (dashboard.fmt_rate_of, (12.04, 500.0), "12.0/s of 500/s"),
        (dashboard.fmt_rate_of, (0, 0.1), "0.0/s of 0.1/s"),
        (dashboard.fmt_rate_of, (None, None), "—"),
        (dashboard.fmt_in_flight, (3, 1000), "3/1000"),
        (dashboard.fmt_in_flight, (None, 1000), "—/1000"),
        (dashboard.fmt_latency, (0.42,), "0.4 ms"),
        (dashboard.fmt_latency, (183.2,), "183 ms"),
        (dashboard.fmt_latency, (float("nan"),), "—"),
        (dashboard.fmt_count, ("7",), "—"),
        (dashboard.fmt_count, (True,), "—"),
        (dashboard.fmt_uptime, (90061,), "1d 1h 1m 1s"),
    ],
)
def test_formatting(func: Any, args: tuple[Any, ...], expected: str) -> None:
    assert func(*args) == expected


@pytest.mark.parametrize(("text", "seconds"), [("1s", 1.0), ("250ms", 0.25), ("2", 2.0)])
def test_interval(text: str, seconds: float) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["fast", "50ms", "0"])
def test_bad_interval(text: str) -> None:
    with pytest.raises(UsageError, match="--interval"):
        parse_interval(text)


# -- errors before any figure ------------------------------------------------------------------


def test_cloud_backend_and_an_engine_that_does_not_answer(run_cli: Any) -> None:
    cloud = run_cli("engine", "top", env={"TASKSCTL_BACKEND": "cloud", "TASKSCTL_ENDPOINT": ""})
    assert cloud.returncode == 1, cloud.stderr
    assert cloud.stdout == ""
    assert cloud.stderr.strip().splitlines() == [
        "ERROR: (tasksctl.engine.top) `engine top` exists only on the local engine "
        "(the backend is cloud)."
    ]
    dead = f"http://127.0.0.1:{free_port()}"
    down = run_cli("engine", "top", env={"TASKSCTL_ENGINE_HTTP": dead})
    assert down.returncode == 1, down.stderr
    lines = down.stderr.strip().splitlines()
    assert len(lines) == 1 and dead in lines[0] and "`tasksctl engine start`" in lines[0]
    bad = run_cli("engine", "top", "--interval", "soon")
    assert bad.returncode == 2 and "--interval" in bad.stderr


# -- a real engine under load ------------------------------------------------------------------


def stats_of(engine: Any) -> dict[str, Any]:
    with urllib.request.urlopen(f"{engine.http_url}/v1/stats", timeout=10) as response:
        data: dict[str, Any] = json.loads(response.read())
    return data


def fresh_stats(engine: Any) -> dict[str, Any]:
    """The first /v1/stats computed after this call: it sees everything done before it.

    The side port caches its answer for STATS_CACHE_S; each answer carries the wall time it
    was computed at, so poll until that is newer than now.
    """
    since = time.time()
    deadline = time.monotonic() + 10 * STATS_CACHE_S + 5
    while (data := stats_of(engine))["time"] < since:
        assert time.monotonic() < deadline, "the stats cache never refreshed"
        time.sleep(0.05)
    return data


def create_queue(client: Any, queue_id: str, **settings: Any) -> str:
    name = f"{PARENT}/queues/{queue_id}"
    client.create_queue(parent=PARENT, queue={"name": name, **settings})
    return name


def add_tasks(client: Any, queue: str, url: str, count: int) -> None:
    for _ in range(count):
        client.create_task(parent=queue, task={"http_request": {"url": url}})


@pytest.fixture
def paused_seven(engine: Any, client: Any, unique: str) -> str:
    """A paused queue holding exactly 7 tasks, rate limit 5/s; returns its ID."""
    queue_id = f"top-paused-{unique}"
    name = create_queue(client, queue_id, rate_limits={"max_dispatches_per_second": 5})
    client.pause_queue(name=name)
    add_tasks(client, name, "http://127.0.0.1:9/never", 7)
    fresh_stats(engine)  # the CLI's next /v1/stats sees the 7 tasks
    return queue_id


def test_dashboard_of_a_real_engine_under_load(
    engine: Any, client: Any, unique: str, paused_seven: str
) -> None:
    busy_id, fast_id, bad_id = (f"top-{kind}-{unique}" for kind in ("busy", "fast", "bad"))
    limits = {"max_dispatches_per_second": 37, "max_concurrent_dispatches": 2}
    busy = create_queue(client, busy_id, rate_limits=limits)
    fast = create_queue(client, fast_id)
    bad = create_queue(client, bad_id, retry_config={"max_attempts": 1})
    with Sink() as sink:
        sink.plan("/slow", Respond(200, delay=4.0))
        sink.plan("/fast", 200)
        sink.plan("/bad", 500)
        add_tasks(client, fast, sink.url_for("/fast"), 10)
        add_tasks(client, bad, sink.url_for("/bad"), 5)
        add_tasks(client, busy, sink.url_for("/slow"), 5)
        sink.wait_for(10, timeout=10, path="/fast")
        sink.wait_for(5, timeout=10, path="/bad")
        sink.wait_until(lambda: sink.in_flight == 2, timeout=10)
        text = text_of(dashboard.render(fresh_stats(engine)))
        assert sink.in_flight == 2 and sink.peak_in_flight == 2, "the slow answers outlast this"

    # Capped queue at a slow sink: 2 of its 5 tasks in flight, at the cap it was given.
    busy_row = row(text, busy_id)
    assert busy_row[:5] == [busy_id, "RUNNING", "5", "3", "2/2"]
    assert busy_row[6:8] == ["of", "37/s"]  # the configured rate limit
    # 10 answered 200 within the engine's 5 s rate window: 2.0/s, all successes.
    fast_row = row(text, fast_id)
    assert fast_row[:11] == [
        fast_id, "RUNNING", "0", "0", "0/1000", "2.0/s", "of", "500/s", "2.0/s", "0.0/s", "0.0/s",
    ]  # fmt: skip
    assert fast_row[11] != "—" and fast_row[12] in ("ms", "s")  # p50 measured
    # 5 answered 500 with max_attempts 1: each one attempt, then given up.
    bad_row = row(text, bad_id)
    assert bad_row[5:11] == ["1.0/s", "of", "500/s", "0.0/s", "0.0/s", "1.0/s"]
    # Paused with exactly 7 tasks: all due, none in flight.
    assert row(text, paused_seven)[:8] == [
        paused_seven, "PAUSED", "7", "7", "0/1000", "0.0/s", "of", "5/s",
    ]  # fmt: skip
    header = text.splitlines()[0]
    assert header.startswith("tasksctl engine  up ") and "in flight " in header


def test_one_shot_table_when_stdout_is_a_pipe(run_cli: Any, paused_seven: str) -> None:
    for args in (("engine", "top"), ("engine", "top", "--once")):
        started = time.monotonic()
        result = run_cli(*args)
        assert result.returncode == 0, result.stderr
        assert time.monotonic() - started < 30
        assert result.stdout.count("QUEUE") == 1  # one table, then exit
        assert row(result.stdout, paused_seven)[1:5] == ["PAUSED", "7", "7", "0/1000"]
        assert "\x1b[" not in result.stdout and "q: quit" not in result.stdout
    values = run_cli("engine", "top", "--format", "value(name,state,backlog,due,in_flight)")
    assert values.returncode == 0, values.stderr
    assert f"{PARENT}/queues/{paused_seven}\tPAUSED\t7\t7\t0" in values.stdout.splitlines()


def read_until(
    master: int, needle: bytes, chunks: list[bytes], timeout: float, count: int = 1
) -> None:
    """Read the terminal into ``chunks`` until ``needle`` was written ``count`` times."""
    deadline = time.monotonic() + timeout
    while b"".join(chunks).count(needle) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{needle!r} not seen in: {b''.join(chunks)[-2000:]!r}")
        ready, _, _ = select.select([master], [], [], left)
        if ready:
            try:
                chunks.append(os.read(master, 65536))
            except OSError:  # the child closed its side
                raise AssertionError(f"{needle!r} not seen before the terminal closed") from None


def wait_draining(proc: subprocess.Popen[bytes], master: int, timeout: float) -> int:
    """Wait for ``proc`` while reading its terminal: a big redraw must not block on a full pty."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                os.read(master, 65536)
            except OSError:
                break
    return proc.wait(max(0.1, deadline - time.monotonic()))


@pytest.mark.parametrize("how", ["q", "ctrl-c"])
def test_live_on_a_terminal_quits_and_restores_it(
    cli_env: dict[str, str], paused_seven: str, how: str
) -> None:
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    env = {**cli_env, "TERM": "xterm", "COLUMNS": "160", "LINES": "5000"}
    # As at a user's terminal, Ctrl-C raises KeyboardInterrupt even when this test runs as a
    # background job (which starts with SIGINT ignored, and children inherit that).
    as_at_a_terminal = (
        "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "sys.argv = ['tasksctl', *sys.argv[1:]]; runpy.run_module('tasksctl', run_name='__main__')"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", as_at_a_terminal, "engine", "top", "--interval", "200ms"],
        stdin=slave,
        stdout=slave,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        chunks: list[bytes] = []
        read_until(master, paused_seven.encode(), chunks, timeout=30)
        read_until(master, b"q: quit", chunks, timeout=10)
        # cbreak while running: no canonical line editing, no echo
        assert not termios.tcgetattr(slave)[3] & (termios.ICANON | termios.ECHO)
        redraws = b"".join(chunks).count(b"q: quit")
        read_until(master, b"q: quit", chunks, timeout=5, count=redraws + 2)  # it refreshes
        if how == "q":
            os.write(master, b"x")  # another key does nothing
            time.sleep(0.3)
            assert proc.poll() is None
            os.write(master, b"q")
        else:
            proc.send_signal(signal.SIGINT)
        code = wait_draining(proc, master, timeout=10)
        assert code == 0, proc.stderr.read() if proc.stderr else ""
        assert termios.tcgetattr(slave) == before  # the terminal as it was
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()
        os.close(master)
        os.close(slave)
