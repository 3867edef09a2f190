"""Run one command through real gcloud and through tasksctl, and compare what a user sees.

gcloud talks REST to engine A (``CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDTASKS``), tasksctl talks
gRPC to engine B (``TASKSCTL_ENDPOINT``). Both engines run the same manual clock from the same
start and get the same state, so whatever either tool prints comes from identical resources.
Only what must differ is normalised (:func:`normalise`): the program name in
``ERROR: (gcloud.tasks.…)``, gcloud's "unauthenticated" notice, the endpoint in ``--uri``, and
server-generated task IDs where a case asks for it. Documented differences come from the
README's "Where tasksctl differs from gcloud" table (:func:`known_differences`).
"""

from __future__ import annotations

import difflib
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT = "parity-project"
LOCATION = "us-central1"
CLOCK_START = "2026-01-01T00:00:00Z"
README = Path(__file__).resolve().parents[3] / "README.md"
TABLE_TITLE = "## Where tasksctl differs from gcloud"
TIMEOUT = 120.0

# gcloud groups that tasksctl has at its root; every other gcloud command lives under `tasks`
_ROOT_GROUPS = ("queues", "locations", "cmek-config")
_UNAUTHENTICATED = (
    " This command is unauthenticated because the [auth/disable_credentials] property is True."
)


@dataclass(frozen=True)
class Result:
    """What a user sees: exit code, stdout, stderr."""

    code: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Case:
    """One command run through both tools.

    ``args`` is what follows ``gcloud tasks``; ``setup(client, engine)`` prepares the state
    on each engine before its run; ``answer`` types that on a pseudo-terminal at the prompt;
    ``stdin`` is fed on a pipe; ``generated_ids`` normalises server-made task IDs.
    """

    id: str
    args: tuple[str, ...]
    setup: Callable[[Any], None] | None = None
    answer: bytes | None = None
    stdin: str | None = None
    generated_ids: bool = False
    files: dict[str, str] = field(default_factory=dict)

    def tasksctl_args(self) -> list[str]:
        args = list(self.args)
        return args if args and args[0] in _ROOT_GROUPS else ["tasks", *args]


def gcloud_path() -> str | None:
    return shutil.which("gcloud")


def gcloud_env(port: int, config_dir: Path) -> dict[str, str]:
    env = _base_env()
    env.update(
        {
            "CLOUDSDK_CONFIG": str(config_dir),
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDTASKS": f"http://127.0.0.1:{port}/",
            "CLOUDSDK_AUTH_DISABLE_CREDENTIALS": "true",
            "CLOUDSDK_CORE_PROJECT": PROJECT,
            "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "true",
            "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "true",
            "CLOUDSDK_CORE_CHECK_GCE_METADATA": "false",
            "CLOUDSDK_CORE_DISABLE_FILE_LOGGING": "true",
        }
    )
    return env


def tasksctl_env(address: str, config_home: Path) -> dict[str, str]:
    env = _base_env()
    env.update(
        {
            "TASKSCTL_ENDPOINT": address,
            "TASKSCTL_PROJECT": PROJECT,
            "TASKSCTL_BACKEND": "local",
            "XDG_CONFIG_HOME": str(config_home),
        }
    )
    return env


def _base_env() -> dict[str, str]:
    drop = ("CLOUDSDK_", "TASKSCTL_", "CLOUD_TASKS_EMULATOR_HOST", "GOOGLE_", "COLUMNS", "LINES")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update({"NO_COLOR": "1", "LC_ALL": "C.UTF-8", "TERM": "dumb"})
    return env


def run(
    argv: Sequence[str], env: dict[str, str], cwd: Path, stdin: str | None, answer: bytes | None
) -> Result:
    """Run ``argv``; stdin is /dev/null, a pipe with ``stdin``, or a terminal typing ``answer``."""
    if answer is not None:
        return _run_on_terminal(argv, env, cwd, answer)
    proc = subprocess.run(
        list(argv),
        input=stdin if stdin is not None else None,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=TIMEOUT,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def _run_on_terminal(argv: Sequence[str], env: dict[str, str], cwd: Path, answer: bytes) -> Result:
    """A pseudo-terminal on stdin (a fresh pty has no size, so both tools wrap at 80);
    ``answer`` is typed once the prompt (ending ``?  ``) is on stderr."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        list(argv), stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd
    )
    os.close(slave)
    assert proc.stdout is not None and proc.stderr is not None
    out, err = b"", b""
    typed = False
    deadline = time.monotonic() + TIMEOUT
    streams = {proc.stdout.fileno(): "out", proc.stderr.fileno(): "err"}
    try:
        while streams and time.monotonic() < deadline:
            ready, _, _ = select.select(list(streams), [], [], 1.0)
            for fd in ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    del streams[fd]
                elif streams[fd] == "out":
                    out += chunk
                else:
                    err += chunk
            if not typed and err.rstrip(b"\n").endswith(b"?  ".rstrip(b"\n")):
                os.write(master, answer)
                typed = True
        code = proc.wait(max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    # the terminal echoes nothing back to the pipes; \r\n never appears on stdout/stderr
    return Result(code, out.decode(), err.decode())


# -- normalising ------------------------------------------------------------------------------


def _program(match: re.Match[str]) -> str:
    path = match.group(1)
    if path.startswith("tasksctl"):
        rest = path[len("tasksctl") :].lstrip(".")
    elif path == "gcloud":
        rest = ""
    else:
        rest = path[len("gcloud.tasks") :].lstrip(".")
        if rest and rest.split(".")[0] not in _ROOT_GROUPS:
            rest = "tasks." + rest
        elif not rest:
            rest = "tasks"
    return "ERROR: (PROG" + (f".{rest}" if rest else "") + ")"


def normalise(result: Result, *, gcloud_port: int, generated_ids: bool) -> Result:
    """Remove what must differ between the two tools (see the module docstring)."""

    def fix(text: str) -> str:
        text = text.replace(_UNAUTHENTICATED, "")
        text = re.sub(r"ERROR: \(((?:gcloud|tasksctl)[\w.-]*)\)", _program, text)
        text = text.replace(
            f"http://127.0.0.1:{gcloud_port}/", "https://cloudtasks.googleapis.com/"
        )
        # IAM etags are made up by each engine
        text = re.sub(r'(etag"?: "?)[A-Za-z0-9+/=_-]{8,}', r"\1<ETAG>", text)
        if generated_ids:
            text = re.sub(r"(tasks/)[0-9]{6,}", r"\1<ID>", text)
            text = re.sub(r"(?m)^[0-9]{12,}(\s)", r"<ID>\1", text)
        return text

    return Result(result.code, fix(result.stdout), fix(result.stderr))


# -- the README's table of differences --------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    topic: str
    cases: tuple[str, ...]


def known_differences(readme: Path = README) -> list[Difference]:
    """Rows of the README table; the last column names the parity cases each row excuses."""
    text = readme.read_text(encoding="utf-8")
    start = text.index(TABLE_TITLE)
    rows: list[Difference] = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith("## "):
            break
        if not line.startswith("|") or set(line) <= set("|- "):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or cells[0] in ("", "Topic"):
            continue
        rows.append(Difference(cells[0], tuple(re.findall(r"`([a-z0-9][\w.-]*)`", cells[3]))))
    return rows


def excused(differences: list[Difference]) -> dict[str, str]:
    """Case ID -> the README topic that documents its difference."""
    return {case: row.topic for row in differences for case in row.cases}


def compare(gcloud: Result, tasksctl: Result, rules: dict[str, str]) -> list[str]:
    """The differences left after the documented rules; empty means the same.

    Rules (README rows every case may use): "usage errors" compares only the first stderr line
    of usage errors (exit 2), since the usage text below it lists each tool's own flags;
    "name on stdout" drops the one resource name tasksctl prints after a create; "ALREADY_EXISTS"
    accepts exit 3 where gcloud exits 1 with ALREADY_EXISTS.
    """
    g_code, t_code = gcloud.code, tasksctl.code
    g_out, t_out, g_err, t_err = gcloud.stdout, tasksctl.stdout, gcloud.stderr, tasksctl.stderr
    if "ALREADY_EXISTS" in rules and (g_code, t_code) == (1, 3) and "ALREADY_EXISTS" in t_err:
        t_code = 1
    if "name on stdout" in rules and not g_out and re.fullmatch(r"projects/\S+\n", t_out):
        t_out = ""
    if "usage errors" in rules and g_code == t_code == 2:
        g_err, t_err = g_err.split("\n", 1)[0], t_err.split("\n", 1)[0]
    problems = []
    if g_code != t_code:
        problems.append(f"exit code: gcloud {g_code}, tasksctl {t_code}")
    for stream, g_text, t_text in (("stdout", g_out, t_out), ("stderr", g_err, t_err)):
        if g_text != t_text:
            lines = difflib.unified_diff(
                g_text.splitlines(keepends=True),
                t_text.splitlines(keepends=True),
                f"gcloud {stream}",
                f"tasksctl {stream}",
            )
            problems.append("".join(line if line.endswith("\n") else line + "\n" for line in lines))
    return problems


def tasksctl_argv() -> list[str]:
    return [sys.executable, "-m", "tasksctl"]
