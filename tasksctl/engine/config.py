"""Engine settings, resolved once by the CLI and handed to the ``Engine``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tasksctl.constants import (
    DEFAULT_ENGINE_HOST,
    DEFAULT_GRPC_PORT,
    DEFAULT_HTTP_PORT,
    default_data_dir,
)

DEFAULT_DEDUP_WINDOW = 4 * 3600.0
# What an acknowledged write survives (engine/store.py explains both): the engine process
# dying (kill -9; synchronous=NORMAL) or the machine losing power (synchronous=FULL).
DURABILITY_PROCESS = "process"
DURABILITY_MACHINE = "machine"
DURABILITY_MODES = (DURABILITY_PROCESS, DURABILITY_MACHINE)
DEFAULT_DURABILITY = DURABILITY_PROCESS
DB_FILENAME = "tasks.db"
PID_FILENAME = "engine.pid"
STATE_FILENAME = "engine.json"
LOG_FILENAME = "engine.log"
# Held (flock) by the running engine: tells a live engine from a stale pidfile after kill -9.
LOCK_FILENAME = "engine.lock"


@dataclass
class EngineConfig:
    """Where the engine listens, where it keeps its data, and its local-only knobs.

    ``queue_tombstone`` is how long a deleted queue's name stays unusable; ``None`` means
    "same as ``dedup_window``" and ``0`` disables the tombstone.
    """

    host: str = DEFAULT_ENGINE_HOST
    port: int = DEFAULT_GRPC_PORT
    http_port: int = DEFAULT_HTTP_PORT
    data_dir: Path = field(default_factory=default_data_dir)
    dedup_window: float = DEFAULT_DEDUP_WINDOW
    queue_tombstone: float | None = None
    # Reserved for App Engine task delivery (host that stands in for *.appspot.com).
    app_engine_host: str | None = None
    # Called with the engine's loopback gRPC address before the ready line (engine/preload.py);
    # ``--queues FILE`` applies its file this way.
    preload: Callable[[str], object] | None = None
    # "real" or "manual" (time stands still at clock_start_us, or the start moment, until
    # moved through the side port); see engine/time_control.py.
    clock: str = "real"
    clock_start_us: int | None = None
    # Share (0..1) of successful tasks delivered once more (engine/redeliver.py).
    redeliver: float = 0.0
    durability: str = DEFAULT_DURABILITY

    @property
    def queue_tombstone_seconds(self) -> float:
        return self.dedup_window if self.queue_tombstone is None else self.queue_tombstone

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_FILENAME

    @property
    def grpc_address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"
