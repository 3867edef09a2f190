"""The engine's own entry point, ``python -m tasksctl.engine run``: no CLI involved."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import EngineProcess, free_port, make_client

PARENT = "projects/alone/locations/us-central1"


def test_the_engine_runs_on_its_own(tmp_path: Path) -> None:
    engine = EngineProcess(
        tmp_path / "data", "--dedup-window", "1m", entry=EngineProcess.ENGINE_ENTRY
    ).start()
    try:
        assert engine.ready_line == (
            f"tasksctl engine ready grpc={engine.address} http={engine.http_url} "
            f"data={engine.data_dir}"
        )
        client = make_client(engine.address)
        client.create_queue(parent=PARENT, queue={"name": f"{PARENT}/queues/q"})
        assert [q.name for q in client.list_queues(parent=PARENT)] == [f"{PARENT}/queues/q"]
    finally:
        assert engine.stop() == 0


def test_a_bad_flag_is_one_error_line_and_exit_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tasksctl.engine", "run", "--port", str(free_port()),
         "--data-dir", str(tmp_path), "--dedup-window", "soon"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith(
        "ERROR: (tasksctl.engine.run) Invalid value for --dedup-window: 'soon' is not a duration"
    )
    assert "Traceback" not in result.stderr


def test_importing_the_engine_entry_loads_no_cli_module() -> None:
    code = (
        "import sys, tasksctl.engine.main, tasksctl.engine.runtime;"
        "bad = sorted(m for m in sys.modules if m.split('.')[:2] in ("
        "['tasksctl','cli'],['tasksctl','client'],['tasksctl','settings'],"
        "['tasksctl','declarative'],['tasksctl','output'],['tasksctl','render']));"
        "print(bad)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
