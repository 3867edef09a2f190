"""``tasksctl engine``: run and manage the bundled local Cloud Tasks engine.

Heavy modules (grpc, aiohttp, the engine itself) are imported inside the commands so that
``tasksctl --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from tasksctl.cli import engine_clock, engine_reset, engine_top
from tasksctl.constants import (
    DEFAULT_ENGINE_HOST,
    DEFAULT_GRPC_PORT,
    DEFAULT_HTTP_PORT,
    ENV_DATA_DIR,
    ENV_EMULATOR_HOST,
    ENV_ENDPOINT,
    ENV_ENGINE_HOST,
    ENV_ENGINE_HTTP_PORT,
    ENV_ENGINE_PORT,
    ENV_LOCATION,
    ENV_PROJECT,
    LOCAL_DEFAULT_LOCATION,
    LOCAL_DEFAULT_PROJECT,
    default_data_dir,
)
from tasksctl.errors import EngineUnavailable, UsageError

app = typer.Typer(help="Run and manage the local Cloud Tasks engine.", no_args_is_help=True)

HostOpt = Annotated[
    str, typer.Option("--host", envvar=ENV_ENGINE_HOST, help="Address to listen on.")
]
PortOpt = Annotated[
    int, typer.Option("--port", envvar=ENV_ENGINE_PORT, help="gRPC port (Cloud Tasks API).")
]
HttpPortOpt = Annotated[
    int,
    typer.Option("--http-port", envvar=ENV_ENGINE_HTTP_PORT, help="HTTP side port (status)."),
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar=ENV_DATA_DIR,
        help="Directory for the database, log and pidfile [default: $XDG_DATA_HOME/tasksctl].",
        show_default=False,
    ),
]
DedupOpt = Annotated[
    str,
    typer.Option(
        "--dedup-window", help="How long a deleted or finished task's name stays reserved."
    ),
]
TombstoneOpt = Annotated[
    str | None,
    typer.Option(
        "--queue-tombstone",
        help="How long a deleted queue's name stays reserved [default: the dedup window; 0 = off].",
        show_default=False,
    ),
]
LogLevelOpt = Annotated[
    str, typer.Option("--log-level", help="debug, info, warning or error (logs go to stderr).")
]
AppEngineHostOpt = Annotated[
    str | None,
    typer.Option(
        "--app-engine-host",
        metavar="HOST:PORT",
        help="Where App Engine tasks are delivered (e.g. a local dev server); without it their "
        "attempts fail with an error recorded in the attempt.",
        show_default=False,
    ),
]
QueuesOpt = Annotated[
    Path | None,
    typer.Option(
        "--queues",
        metavar="FILE",
        help="Apply this queues.yaml (or App Engine queue.yaml) at start-up, before the engine "
        "is ready; a bad file stops the start. Queues without a project/location get "
        f"${ENV_PROJECT}/${ENV_LOCATION}, else {LOCAL_DEFAULT_PROJECT}/{LOCAL_DEFAULT_LOCATION}.",
        show_default=False,
    ),
]

ClockOpt = Annotated[
    str,
    typer.Option(
        "--clock",
        metavar="real|manual",
        help="manual: time stands still until `tasksctl engine clock advance|set` moves it "
        "(tests); real: the system clock.",
    ),
]
ClockStartOpt = Annotated[
    str | None,
    typer.Option(
        "--clock-start",
        metavar="TIME",
        help="Where a manual clock starts (RFC 3339) [default: now].",
        show_default=False,
    ),
]
RedeliverOpt = Annotated[
    float,
    typer.Option(
        "--redeliver",
        metavar="FRACTION",
        help="Idempotency drill: deliver this share (0 to 1) of successful tasks once more, a "
        "little later, with the same name and headers.",
    ),
]


def _clock(clock: str, clock_start: str | None, redeliver: float) -> int | None:
    """Check the time-control flags; the manual clock's start in epoch microseconds."""
    if clock not in ("real", "manual"):
        raise UsageError(f"Invalid value for --clock: {clock!r} (use real or manual)")
    if not 0 <= redeliver <= 1:
        raise UsageError(f"Invalid value for --redeliver: {redeliver:g} (use 0 to 1)")
    if clock_start is None:
        return None
    if clock != "manual":
        raise UsageError("--clock-start needs --clock manual.")
    from tasksctl.resources import parse_timestamp

    when = parse_timestamp(clock_start, "--clock-start")
    return int(when.timestamp()) * 1_000_000 + when.microsecond


def _data_dir(value: Path | None) -> Path:
    return (value or default_data_dir()).expanduser().resolve()


def _durations(dedup_window: str, queue_tombstone: str | None) -> tuple[float, float | None]:
    from tasksctl.resources import parse_duration

    dedup = parse_duration(dedup_window, "--dedup-window")
    tombstone = (
        parse_duration(queue_tombstone, "--queue-tombstone")
        if queue_tombstone is not None
        else None
    )
    return dedup, tombstone


@app.command()
def run(
    host: HostOpt = DEFAULT_ENGINE_HOST,
    port: PortOpt = DEFAULT_GRPC_PORT,
    http_port: HttpPortOpt = DEFAULT_HTTP_PORT,
    data_dir: DataDirOpt = None,
    dedup_window: DedupOpt = "4h",
    queue_tombstone: TombstoneOpt = None,
    log_level: LogLevelOpt = "info",
    app_engine_host: AppEngineHostOpt = None,
    queues: QueuesOpt = None,
    clock: ClockOpt = "real",
    clock_start: ClockStartOpt = None,
    redeliver: RedeliverOpt = 0.0,
) -> None:
    """Run the engine in the foreground until Ctrl-C or SIGTERM."""
    import logging

    level = logging.getLevelName(log_level.upper())
    if not isinstance(level, int):
        raise UsageError(f"Invalid value for --log-level: {log_level!r}")
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    dedup, tombstone = _durations(dedup_window, queue_tombstone)
    clock_start_us = _clock(clock, clock_start, redeliver)
    from tasksctl.engine.config import EngineConfig
    from tasksctl.engine.runtime import run_engine

    config = EngineConfig(
        host=host,
        port=port,
        http_port=http_port,
        data_dir=_data_dir(data_dir),
        dedup_window=dedup,
        queue_tombstone=tombstone,
        app_engine_host=app_engine_host,
        queues_file=queues,
        clock=clock,
        clock_start_us=clock_start_us,
        redeliver=redeliver,
    )
    code = run_engine(config)
    raise typer.Exit(code)


@app.command()
def start(
    host: HostOpt = DEFAULT_ENGINE_HOST,
    port: PortOpt = DEFAULT_GRPC_PORT,
    http_port: HttpPortOpt = DEFAULT_HTTP_PORT,
    data_dir: DataDirOpt = None,
    dedup_window: DedupOpt = "4h",
    queue_tombstone: TombstoneOpt = None,
    log_level: LogLevelOpt = "info",
    app_engine_host: AppEngineHostOpt = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the engine.")] = 30.0,
    queues: QueuesOpt = None,
    clock: ClockOpt = "real",
    clock_start: ClockStartOpt = None,
    redeliver: RedeliverOpt = 0.0,
) -> None:
    """Start the engine in the background; returns once it answers."""
    from tasksctl.engine.daemon import DaemonOptions, read_info, start_daemon

    _durations(dedup_window, queue_tombstone)  # fail fast on a bad duration
    _clock(clock, clock_start, redeliver)
    extra = ["--dedup-window", dedup_window, "--log-level", log_level]
    if clock != "real":
        extra += ["--clock", clock]
    if clock_start is not None:
        extra += ["--clock-start", clock_start]
    if redeliver:
        extra += ["--redeliver", repr(redeliver)]
    if queue_tombstone is not None:
        extra += ["--queue-tombstone", queue_tombstone]
    if app_engine_host:
        extra += ["--app-engine-host", app_engine_host]
    if queues is not None:  # absolute: the engine's log and errors name the exact file
        extra += ["--queues", str(queues.expanduser().resolve())]
    directory = _data_dir(data_dir)
    already = read_info(directory)
    opts = DaemonOptions(host, port, http_port, directory, extra)
    from tasksctl.output import Output

    with Output().spinner(f"Starting the local engine on {host}:{port}"):
        info = start_daemon(opts, timeout=timeout)
    verb = "is already running" if already and already.pid == info.pid else "started"
    print(
        f"The local engine {verb} at {info.address} (pid {info.pid}, data dir {directory}).",
        file=sys.stderr,
    )
    if queues is not None and verb != "started":  # a running engine gets the file now
        from tasksctl.engine.preload import apply_queues_file

        apply_queues_file(queues, info.address, info=_say, warn=_warn)


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _warn(message: str) -> None:
    print(f"WARNING: {message}", file=sys.stderr)


@app.command()
def stop(data_dir: DataDirOpt = None) -> None:
    """Stop the background engine."""
    from tasksctl.engine.daemon import read_info, stop_daemon

    directory = _data_dir(data_dir)
    info = read_info(directory)
    if info is None or not stop_daemon(directory):
        print(f"The local engine is not running (data dir {directory}).", file=sys.stderr)
        return
    print(f"Stopped the local engine (pid {info.pid}).", file=sys.stderr)


@app.command()
def status(
    data_dir: DataDirOpt = None,
    output: Annotated[
        str, typer.Option("--format", help="text or json.", metavar="FORMAT")
    ] = "text",
) -> None:
    """Show the engine's address, data dir, pid, uptime, and queue and task counts."""
    if output not in ("text", "json"):
        raise UsageError(f"Invalid value for --format: {output!r} (use text or json)")
    from tasksctl.engine.daemon import read_info

    directory = _data_dir(data_dir)
    info = read_info(directory)
    if info is None:
        raise EngineUnavailable(
            f"The local engine is not running (data dir {directory}). "
            "Start it with `tasksctl engine start`."
        )
    payload = _fetch_status(info.http_url)
    payload.setdefault("pid", info.pid)
    payload.setdefault("grpc_address", info.address)
    payload.setdefault("data_dir", str(info.data_dir))
    if output == "json":
        print(json.dumps(payload, indent=2, sort_keys=True))
        return
    from tasksctl.dashboard import fmt_uptime

    rows = [
        ("address", payload["grpc_address"]),
        ("http", payload.get("http_url", info.http_url)),
        ("data_dir", payload["data_dir"]),
        ("pid", payload["pid"]),
        ("uptime", fmt_uptime(float(payload.get("uptime_seconds", 0)))),
        ("queues", payload.get("queues", "?")),
        ("tasks", payload.get("tasks", "?")),
        ("version", payload.get("version", info.version)),
    ]
    for key, value in rows:
        print(f"{key + ':':<10}{value}")


def _fetch_status(http_url: str) -> dict[str, Any]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{http_url}/v1/status", timeout=5) as response:
            data: dict[str, Any] = json.loads(response.read())
            return data
    except (OSError, ValueError) as exc:
        raise EngineUnavailable(
            f"The local engine's status port {http_url} did not answer: {exc}"
        ) from None


@app.command()
def logs(
    data_dir: DataDirOpt = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many lines to show.")] = 50,
) -> None:
    """Print the background engine's log."""
    from tasksctl.engine.daemon import log_path, tail_lines

    path = log_path(_data_dir(data_dir))
    if not path.exists():
        raise EngineUnavailable(f"There is no engine log at {path} yet.")
    for line in tail_lines(path, lines):
        print(line)
    sys.stdout.flush()
    if not follow:
        return
    with open(path, "rb") as handle, contextlib.suppress(KeyboardInterrupt):
        handle.seek(0, os.SEEK_END)
        while True:
            chunk = handle.read()
            if chunk:
                sys.stdout.write(chunk.decode("utf-8", errors="replace"))
                sys.stdout.flush()
            else:
                time.sleep(0.25)


@app.command("env-init")
def env_init(
    data_dir: DataDirOpt = None,
    host: HostOpt = DEFAULT_ENGINE_HOST,
    port: PortOpt = DEFAULT_GRPC_PORT,
    shell: Annotated[
        str, typer.Option("--shell", help="sh (bash, zsh) or fish.", metavar="SHELL")
    ] = "sh",
    gcloud: Annotated[
        bool,
        typer.Option(
            "--gcloud",
            help="Also point gcloud tasks at the engine's REST (CLOUDSDK_* settings: endpoint "
            "override, no credentials, the engine's project).",
        ),
    ] = False,
) -> None:
    """Print export lines pointing clients at the engine: eval "$(tasksctl engine env-init)"."""
    if shell not in ("sh", "bash", "zsh", "fish"):
        raise UsageError(f"Invalid value for --shell: {shell!r} (use sh or fish)")
    from tasksctl.engine.daemon import read_info

    info = read_info(_data_dir(data_dir))
    address = info.address if info is not None else f"{host}:{port}"
    values = [
        (ENV_EMULATOR_HOST, address),
        (ENV_ENDPOINT, address),
        (ENV_PROJECT, os.environ.get(ENV_PROJECT) or LOCAL_DEFAULT_PROJECT),
        (ENV_LOCATION, os.environ.get(ENV_LOCATION) or LOCAL_DEFAULT_LOCATION),
    ]
    if gcloud:  # gcloud speaks REST; the engine serves it on the same port
        values += [
            ("CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDTASKS", f"http://{address}/"),
            ("CLOUDSDK_AUTH_DISABLE_CREDENTIALS", "true"),
            ("CLOUDSDK_CORE_PROJECT", values[2][1]),
        ]
    for name, value in values:
        if shell == "fish":
            print(f"set -gx {name} {shlex.quote(value)};")
        else:
            print(f"export {name}={shlex.quote(value)}")
    if info is None:
        print(
            "# The local engine is not running; start it with `tasksctl engine start`.",
            file=sys.stderr,
        )


engine_reset.register(app)
engine_top.register(app)
engine_clock.register(app)
