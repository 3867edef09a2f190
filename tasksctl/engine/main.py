"""The engine's own entry point: ``python -m tasksctl.engine run [--host H] [--port P] ...``.

A small argparse front end over :func:`tasksctl.engine.runtime.run_engine`, so the engine can be
run, tested and shipped without the CLI. ``tasksctl engine run`` (the CLI, which the launcher
starts in the background) calls the same pieces: :func:`configure_logging`,
:func:`parse_durations` and :class:`EngineConfig`; it adds what needs the rest of tasksctl
(settings, ``--queues FILE`` through the declarative layer as a start-up hook).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from tasksctl.constants import (
    DEFAULT_ENGINE_HOST,
    DEFAULT_GRPC_PORT,
    DEFAULT_HTTP_PORT,
    default_data_dir,
)
from tasksctl.engine.config import DEFAULT_DURABILITY, DURABILITY_MODES, EngineConfig
from tasksctl.errors import TasksctlError, UsageError

DEFAULT_DEDUP = "4h"
LOG_LEVELS = ("debug", "info", "warning", "error")
COMMAND = "tasksctl.engine.run"


def configure_logging(log_level: str) -> None:
    """Engine logs go to stderr at ``log_level``; raises UsageError for an unknown level."""
    level = logging.getLevelName(log_level.upper())
    if not isinstance(level, int):
        raise UsageError(f"Invalid value for --log-level: {log_level!r}")
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def parse_durations(dedup_window: str, queue_tombstone: str | None) -> tuple[float, float | None]:
    """``--dedup-window`` and ``--queue-tombstone`` in seconds (UsageError names the flag)."""
    from tasksctl.resources import parse_duration

    dedup = parse_duration(dedup_window, "--dedup-window")
    tombstone = (
        parse_duration(queue_tombstone, "--queue-tombstone")
        if queue_tombstone is not None
        else None
    )
    return dedup, tombstone


def parse_clock(clock: str, clock_start: str | None, redeliver: float) -> int | None:
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


def parse_durability(value: str) -> str:
    """``--durability``: process or machine (engine/store.py explains both)."""
    if value not in DURABILITY_MODES:
        choices = " or ".join(DURABILITY_MODES)
        raise UsageError(f"Invalid value for --durability: {value!r} (use {choices})")
    return value


def resolve_data_dir(value: Path | str | None) -> Path:
    """The data dir as an absolute path (the default when ``value`` is None)."""
    return Path(value or default_data_dir()).expanduser().resolve()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tasksctl.engine", description="The local Cloud Tasks v2 engine."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="Run the engine in the foreground until SIGTERM.")
    run.add_argument("--host", default=DEFAULT_ENGINE_HOST, help="Address to listen on.")
    run.add_argument("--port", type=int, default=DEFAULT_GRPC_PORT, help="gRPC port.")
    run.add_argument("--http-port", type=int, default=DEFAULT_HTTP_PORT, help="HTTP side port.")
    run.add_argument("--data-dir", type=Path, default=None, help="Database, log and pidfile.")
    run.add_argument("--dedup-window", default=DEFAULT_DEDUP, help="Task name reservation.")
    run.add_argument("--queue-tombstone", default=None, help="Queue name reservation.")
    run.add_argument("--log-level", default="info", help=", ".join(LOG_LEVELS))
    run.add_argument("--app-engine-host", default=None, metavar="HOST:PORT")
    run.add_argument("--clock", default="real", metavar="real|manual")
    run.add_argument("--clock-start", default=None, metavar="TIME")
    run.add_argument("--redeliver", type=float, default=0.0, metavar="FRACTION")
    run.add_argument(
        "--durability",
        default=DEFAULT_DURABILITY,
        metavar="|".join(DURABILITY_MODES),
        help="What an OK survives: process (kill -9) or machine (also power loss).",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> EngineConfig:
    dedup, tombstone = parse_durations(args.dedup_window, args.queue_tombstone)
    clock_start_us = parse_clock(args.clock, args.clock_start, args.redeliver)
    return EngineConfig(
        host=args.host,
        port=args.port,
        http_port=args.http_port,
        data_dir=resolve_data_dir(args.data_dir),
        dedup_window=dedup,
        queue_tombstone=tombstone,
        app_engine_host=args.app_engine_host,
        clock=args.clock,
        clock_start_us=clock_start_us,
        redeliver=args.redeliver,
        durability=parse_durability(args.durability),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the engine; returns the exit code (errors as ``ERROR: (tasksctl.engine.run) ...``)."""
    from tasksctl.engine.runtime import run_engine

    args = build_parser().parse_args(argv)
    try:
        configure_logging(args.log_level)
        return run_engine(config_from_args(args))
    except KeyboardInterrupt:
        return 130
    except TasksctlError as exc:
        print(f"ERROR: ({COMMAND}) {exc.cli_message()}", file=sys.stderr)
        return exc.exit_code
