"""Issue 14, standing suite: many CLI processes at once on one engine all succeed and every
write lands exactly once."""

from __future__ import annotations

import subprocess
import sys
from typing import Any


def test_parallel_cli_processes_on_one_engine(
    run_cli: Any, cli_env: dict[str, str], unique: str
) -> None:
    queue = f"par-{unique}"
    assert run_cli("queues", "create", queue).returncode == 0
    commands = [
        ["tasks", "create-http-task", f"t{n}", "--queue", queue, "--url", f"http://127.0.0.1:9/{n}"]
        for n in range(8)
    ] + [["queues", "list"], ["tasks", "list", "--queue", queue]] * 2
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tasksctl", *args],
            env=cli_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    results = [(p.wait(120), p.communicate()[1]) for p in procs]
    assert [(code, err) for code, err in results if code != 0] == []
    listed = run_cli("tasks", "list", "--queue", queue, "--format", "value(name.basename())")
    assert sorted(listed.stdout.split()) == sorted(f"t{n}" for n in range(8))
