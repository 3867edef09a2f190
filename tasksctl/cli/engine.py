"""``tasksctl engine``: run and manage the bundled local Cloud Tasks engine.

Heavy modules (grpc, aiohttp, the engine itself) are imported inside the commands so that
``tasksctl --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tasksctl.cli import engine_clock, engine_reset, engine_top
from tasksctl.cli.base import TasksctlTyper
from tasksctl.cli.context import Cli
from tasksctl.constants import (
    ENV_DATA_DIR,
    ENV_EMULATOR_HOST,
    ENV_ENDPOINT,
    ENV_ENGINE_DURABILITY,
    ENV_ENGINE_HOST,
    ENV_ENGINE_HTTP_PORT,
    ENV_ENGINE_PORT,
    ENV_LOCATION,
    ENV_PROJECT,
    LOCAL_DEFAULT_LOCATION,
    LOCAL_DEFAULT_PROJECT,
)
from tasksctl.engine.config import DEFAULT_DURABILITY
from tasksctl.errors import EngineUnavailable, UsageError

if TYPE_CHECKING:
    from tasksctl.settings import EngineSettings

app = TasksctlTyper(help="Run and manage the local Cloud Tasks engine.", location=False)

HostOpt = Annotated[
    str | None,
    typer.Option(
        "--host",
        help=f"Address to listen on [default: the engine_host setting (${ENV_ENGINE_HOST}, "
        "config), else 127.0.0.1].",
        show_default=False,
    ),
]
PortOpt = Annotated[
    int | None,
    typer.Option(
        "--port",
        help=f"gRPC port (Cloud Tasks API) [default: the engine_port setting (${ENV_ENGINE_PORT}, "
        "config), else 8123].",
        show_default=False,
    ),
]
HttpPortOpt = Annotated[
    int | None,
    typer.Option(
        "--http-port",
        help="HTTP side port (status) [default: the engine_http_port setting "
        f"(${ENV_ENGINE_HTTP_PORT}, config), else 8124].",
        show_default=False,
    ),
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help=f"Directory for the database, log and pidfile [default: the data_dir setting "
        f"(${ENV_DATA_DIR}, config), else $XDG_DATA_HOME/tasksctl].",
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
DurabilityOpt = Annotated[
    str,
    typer.Option(
        "--durability",
        envvar=ENV_ENGINE_DURABILITY,
        metavar="MODE",
        help="What an acknowledged write survives: process = the engine being killed (kill -9, "
        "a crash; no fsync per request) or machine = also power loss (every commit fsync'ed, "
        "slower).",
    ),
]


def _where(host: str | None, port: int | None, http_port: int | None,
           data_dir: Path | None) -> tuple[str, int, int, Path]:  # fmt: skip
    """Flags win; the rest comes from the one settings path (env > config > default)."""
    from tasksctl.engine.main import resolve_data_dir

    if host is None or port is None or http_port is None or data_dir is None:
        settings = _settings()
        host = settings.host if host is None else host
        port = settings.port if port is None else port
        http_port = settings.http_port if http_port is None else http_port
        data_dir = settings.data_dir if data_dir is None else data_dir
    return host, port, http_port, resolve_data_dir(data_dir)


def _settings() -> EngineSettings:
    """The engine's settings through the one settings path (env > config > default).

    Only the engine's own keys are resolved, so a project or backend setting that other
    commands would reject never stops ``tasksctl engine ...``.
    """
    from tasksctl.settings import resolve_engine

    return resolve_engine()


def _data_dir(value: Path | None) -> Path:
    from tasksctl.engine.main import resolve_data_dir

    return resolve_data_dir(_settings().data_dir if value is None else value)


@app.command()
def run(
    cli: Cli,
    host: HostOpt = None,
    port: PortOpt = None,
    http_port: HttpPortOpt = None,
    data_dir: DataDirOpt = None,
    dedup_window: DedupOpt = "4h",
    queue_tombstone: TombstoneOpt = None,
    log_level: LogLevelOpt = "info",
    app_engine_host: AppEngineHostOpt = None,
    queues: QueuesOpt = None,
    clock: ClockOpt = "real",
    clock_start: ClockStartOpt = None,
    redeliver: RedeliverOpt = 0.0,
    durability: DurabilityOpt = DEFAULT_DURABILITY,
) -> None:
    """Run the engine in the foreground until Ctrl-C or SIGTERM."""
    from tasksctl.engine.main import (
        configure_logging,
        parse_clock,
        parse_durability,
        parse_durations,
    )

    configure_logging(log_level)
    dedup, tombstone = parse_durations(dedup_window, queue_tombstone)
    clock_start_us = parse_clock(clock, clock_start, redeliver)
    durability = parse_durability(durability)
    host, port, http_port, directory = _where(host, port, http_port, data_dir)
    preload = None
    if queues is not None:  # parsed now: a bad file stops the start before anything listens
        from tasksctl.cli.engine_queues import load_queues_file, preload_hook

        preload = preload_hook(queues, load_queues_file(queues))
    from tasksctl.engine.config import EngineConfig
    from tasksctl.engine.runtime import run_engine

    config = EngineConfig(
        host=host,
        port=port,
        http_port=http_port,
        data_dir=directory,
        dedup_window=dedup,
        queue_tombstone=tombstone,
        app_engine_host=app_engine_host,
        preload=preload,
        clock=clock,
        clock_start_us=clock_start_us,
        redeliver=redeliver,
        durability=durability,
    )
    code = run_engine(config)
    raise typer.Exit(code)


@app.command()
def start(
    cli: Cli,
    host: HostOpt = None,
    port: PortOpt = None,
    http_port: HttpPortOpt = None,
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
    durability: DurabilityOpt = DEFAULT_DURABILITY,
) -> None:
    """Start the engine in the background; returns once it answers."""
    from tasksctl.engine.main import parse_clock, parse_durability, parse_durations
    from tasksctl.launcher import DaemonOptions, read_info, start_daemon

    parse_durations(dedup_window, queue_tombstone)  # fail fast on a bad duration
    parse_clock(clock, clock_start, redeliver)
    extra = ["--dedup-window", dedup_window, "--log-level", log_level]
    extra += ["--durability", parse_durability(durability)]
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
    host, port, http_port, directory = _where(host, port, http_port, data_dir)
    already = read_info(directory)
    opts = DaemonOptions(host, port, http_port, directory, extra)
    with cli.out.spinner(f"Starting the local engine on {host}:{port}"):
        info = start_daemon(opts, timeout=timeout)
    verb = "is already running" if already and already.pid == info.pid else "started"
    cli.out.status(
        f"The local engine {verb} at {info.address} (pid {info.pid}, data dir {directory})."
    )
    if queues is not None and verb != "started":  # a running engine gets the file now
        from tasksctl.cli.engine_queues import apply_queues_file

        apply_queues_file(queues, info.address, info=cli.out.status, warn=cli.out.warning)


@app.command()
def stop(cli: Cli, data_dir: DataDirOpt = None) -> None:
    """Stop the background engine."""
    from tasksctl.launcher import read_info, stop_daemon

    directory = _data_dir(data_dir)
    info = read_info(directory)
    if info is None or not stop_daemon(directory):
        cli.out.status(f"The local engine is not running (data dir {directory}).")
        return
    cli.out.status(f"Stopped the local engine (pid {info.pid}).")


@app.command()
def status(cli: Cli, data_dir: DataDirOpt = None) -> None:
    """Show the engine's address, data dir, pid, uptime, and queue and task counts (lines of
    KEY: VALUE; with --format, the whole status record, e.g. --format json)."""
    from tasksctl import side_port
    from tasksctl.launcher import read_info

    directory = _data_dir(data_dir)
    info = read_info(directory)
    if info is None:
        raise EngineUnavailable(
            f"The local engine is not running (data dir {directory}). "
            "Start it with `tasksctl engine start`."
        )
    payload = side_port.status(info.http_url)
    payload.setdefault("pid", info.pid)
    payload.setdefault("grpc_address", info.address)
    payload.setdefault("data_dir", str(info.data_dir))
    if cli.flags.format:
        cli.render("json").resource(payload)
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
    cli.out.data("\n".join(f"{key + ':':<10}{value}" for key, value in rows))


@app.command()
def logs(
    cli: Cli,
    data_dir: DataDirOpt = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many lines to show.")] = 50,
) -> None:
    """Print the background engine's log."""
    from tasksctl.launcher import log_path, tail_lines

    path = log_path(_data_dir(data_dir))
    if not path.exists():
        raise EngineUnavailable(f"There is no engine log at {path} yet.")
    for line in tail_lines(path, lines):
        cli.out.data(line)
    if not follow:
        return
    with open(path, "rb") as handle, contextlib.suppress(KeyboardInterrupt):
        handle.seek(0, os.SEEK_END)
        while True:
            chunk = handle.read()
            if chunk:
                cli.out.stdout.write(chunk.decode("utf-8", errors="replace"))
                cli.out.stdout.flush()
            else:
                time.sleep(0.25)


@app.command("env-init")
def env_init(
    cli: Cli,
    data_dir: DataDirOpt = None,
    host: HostOpt = None,
    port: PortOpt = None,
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
    from tasksctl.cli.engine_queues import default_scope
    from tasksctl.launcher import read_info

    host, port, _, directory = _where(host, port, 0, data_dir)
    info = read_info(directory)
    address = info.address if info is not None else f"{host}:{port}"
    # The scope queues files default to at start-up, so clients see those queues.
    project, location = default_scope(os.environ)
    values = [
        (ENV_EMULATOR_HOST, address),
        (ENV_ENDPOINT, address),
        (ENV_PROJECT, project),
        (ENV_LOCATION, location),
    ]
    if gcloud:  # gcloud speaks REST; the engine serves it on the same port
        values += [
            ("CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDTASKS", f"http://{address}/"),
            ("CLOUDSDK_AUTH_DISABLE_CREDENTIALS", "true"),
            ("CLOUDSDK_CORE_PROJECT", values[2][1]),
        ]
    for name, value in values:
        if shell == "fish":
            cli.out.data(f"set -gx {name} {shlex.quote(value)};")
        else:
            cli.out.data(f"export {name}={shlex.quote(value)}")
    if info is None:
        cli.out.status("# The local engine is not running; start it with `tasksctl engine start`.")


engine_reset.register(app)
engine_top.register(app)
engine_clock.register(app)
