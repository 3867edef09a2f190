"""The example projects under examples/ pass their own test suites, run as their users run them.

Each runs ``python -m pytest`` in its own directory (its own pyproject.toml), so it proves the
pytest plugin works from an installed tasksctl, outside this project's conftest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PROJECTS = sorted(p for p in EXAMPLES.iterdir() if (p / "pyproject.toml").exists())


@pytest.mark.parametrize("project", PROJECTS, ids=[p.name for p in PROJECTS])
def test_example_project_passes_its_tests(project: Path) -> None:
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    if not any(ep.name == "tasksctl" for ep in entry_points(group="pytest11")):
        args += ["-p", "tasksctl.pytest_plugin"]  # an editable install older than the plugin
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TASKSCTL_", "CLOUD_TASKS"))}
    done = subprocess.run(
        args, cwd=project, env=env, capture_output=True, text=True, timeout=300,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and " skipped" not in done.stdout, done.stdout[-1000:]
