"""The project builds a wheel, and that wheel installs into a fresh venv and runs.

How, and why this way:

- The wheel is built with ``pip wheel --no-deps .`` (the project's own build backend, hatchling,
  in pip's isolated build environment; ``--no-build-isolation`` when hatchling is already
  importable, so the test also works offline in such an environment).
- The fresh venv is made with ``python -m venv --without-pip`` and the wheel is installed into it
  with this environment's pip (``pip --python VENV/bin/python install --no-deps --no-index``), so
  the wheel itself is what gets installed: no source tree, no editable hook, no network.
- Its dependencies (typer, rich, google-cloud-tasks...) are not downloaded again: a ``.pth`` file
  in the new venv appends this environment's site-packages to ``sys.path``. Plain paths in a
  ``.pth`` file are not scanned for further ``.pth`` files, so this environment's editable hook
  for the source tree stays inactive, and the venv's own site-packages (holding the wheel's
  ``tasksctl``) comes first; the test checks that ``tasksctl`` is imported from the venv.
"""

from __future__ import annotations

import importlib.util
import os
import re
import site
import subprocess
import sys
import sysconfig
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import tasksctl
from tasksctl.shell_completion import live_tree

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "tasksctl"

pytestmark = pytest.mark.slow


def sh(*argv: str | Path, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "TASKSCTL_"))}
    env.update(NO_COLOR="1", COLUMNS="200", PIP_DISABLE_PIP_VERSION_CHECK="1")
    proc = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"{argv}\n{proc.stdout}\n{proc.stderr}"
    return proc


def package_files() -> set[str]:
    """Every file the package directory holds (sources and data), as wheel paths."""
    return {
        path.relative_to(REPO).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    """A wheel built from the working tree, and the package files present when it was built."""
    out = tmp_path_factory.mktemp("dist")
    expected = package_files()
    isolation = [] if importlib.util.find_spec("hatchling") is None else ["--no-build-isolation"]
    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", *isolation, "-w", out, ".",
       cwd=REPO)  # fmt: skip
    (built,) = out.glob("tasksctl-*.whl")
    return built, expected


def test_wheel_holds_the_package_and_nothing_else(wheel: tuple[Path, set[str]]) -> None:
    path, expected = wheel
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        dist_info = f"tasksctl-{tasksctl.__version__}.dist-info"
        metadata = Parser().parsestr(zf.read(f"{dist_info}/METADATA").decode())
        entry_points = zf.read(f"{dist_info}/entry_points.txt").decode()
    assert expected <= names, f"missing from the wheel: {sorted(expected - names)}"
    outside = {n for n in names if not n.startswith(("tasksctl/", f"{dist_info}/"))}
    assert outside == set(), f"unexpected top-level entries: {sorted(outside)}"
    assert not any("conftest" in n or "/tests/" in n or n.startswith("tests/") for n in names)
    assert metadata["Name"] == "tasksctl"
    assert metadata["Version"] == tasksctl.__version__
    name = re.compile(r"[A-Za-z0-9_.-]+")
    requires = {name.findall(r)[0] for r in metadata.get_all("Requires-Dist")}
    assert {
        "typer", "rich", "google-cloud-tasks", "google-auth", "pyyaml", "aiohttp", "cryptography",
    } <= requires  # fmt: skip
    assert "tasksctl = tasksctl.cli.app:main" in entry_points


def test_wheel_installs_into_a_fresh_venv_and_runs(
    wheel: tuple[Path, set[str]], tmp_path: Path
) -> None:
    path, _ = wheel
    venv = tmp_path / "venv"
    sh(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    sh(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
       "--no-index", path, cwd=tmp_path)  # fmt: skip

    # Dependencies come from this environment (see the module docstring).
    where_libs = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = Path(sh(python, "-c", where_libs, cwd=tmp_path).stdout.strip())
    ours = dict.fromkeys([*site.getsitepackages(), sysconfig.get_paths()["purelib"]])
    (purelib / "_test_env_dependencies.pth").write_text("\n".join(ours) + "\n")

    where = sh(python, "-c", "import tasksctl; print(tasksctl.__file__)", cwd=tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout

    exe = venv / "bin" / "tasksctl"
    version = sh(exe, "--version", cwd=tmp_path)
    assert version.stdout.strip() == f"tasksctl {tasksctl.__version__}"
    module = sh(python, "-m", "tasksctl", "--version", cwd=tmp_path)
    assert module.stdout.strip() == f"tasksctl {tasksctl.__version__}"

    helped = sh(exe, "--help", cwd=tmp_path)
    for group in live_tree().subcommands:
        assert group.name in helped.stdout, f"{group.name} missing from --help"
    completion = [sub.name for sub in live_tree().subcommands if sub.name == "completion"]
    if completion:  # the installed CLI renders its completion scripts without the repository
        script = sh(exe, "completion", "bash", cwd=tmp_path)
        assert "complete -F _tasksctl tasksctl" in script.stdout
