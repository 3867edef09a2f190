"""The peer for benchmarks: ``gcloud-tasks-emulator`` from PyPI, in its own virtualenv.

It pins an old protobuf / google-cloud-tasks, so it cannot share tasksctl's environment: this
module installs it into ``bench/.peer-venv`` (git-ignored) and runs it from there.

    python bench/peer.py install          # create the venv and pip install the peer
    python bench/peer.py run --port 9090  # run it in the foreground
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

PEER_PACKAGE = "gcloud-tasks-emulator==0.6.2"
VENV = Path(__file__).resolve().parent / ".peer-venv"


def executable(venv: Path = VENV) -> Path:
    return venv / "bin" / "gcloud-tasks-emulator"


def ensure_installed(venv: Path = VENV) -> Path:
    """Create the peer's venv and install it once; returns its console script."""
    exe = executable(venv)
    if exe.exists():
        return exe
    print(f"installing {PEER_PACKAGE} into {venv} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", PEER_PACKAGE],
        check=True,
    )
    return exe


def start(
    port: int, log_path: Path, venv: Path = VENV, timeout: float = 30.0
) -> subprocess.Popen[bytes]:
    """Start the peer on ``port`` and return once it answers gRPC."""
    from tasksctl.launcher import is_answering

    exe = ensure_installed(venv)
    log = open(log_path, "ab")
    proc = subprocess.Popen(
        [str(exe), "start", "--port", str(port), "--quiet"],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the peer exited with {proc.returncode}; see {log_path}")
        if is_answering("127.0.0.1", port, timeout=0.5):
            return proc
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the peer did not answer on port {port}; see {log_path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("install")
    run = sub.add_parser("run")
    run.add_argument("--port", type=int, default=9090)
    args = parser.parse_args()
    exe = ensure_installed()
    if args.command == "run":
        subprocess.run([str(exe), "start", "--port", str(args.port)], check=False)
    else:
        print(exe)


if __name__ == "__main__":
    main()
