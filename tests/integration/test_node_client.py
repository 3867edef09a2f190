"""The official Node.js client (``@google-cloud/tasks`` on ``@grpc/grpc-js``) against the engine.

A second, independent gRPC implementation over the engine's own HTTP/2 front: concurrent calls,
bodies near the 1 MB task limit in both directions, a list page over 1 MB (flow control), and
errors whose messages carry non-ASCII text and '%'. Skipped where Node.js or npm is missing or
the package cannot be installed (it is fetched once into ``~/.cache/tasksctl-tests/node``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import EngineProcess

pytestmark = pytest.mark.slow

PACKAGE = "@google-cloud/tasks@5"
SCRIPT = Path(__file__).parent / "node" / "check_client.js"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tasksctl-tests" / "node"


@pytest.fixture(scope="module")
def node_modules() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js and npm are not installed")
    if not (CACHE / "node_modules" / "@google-cloud" / "tasks").is_dir():
        CACHE.mkdir(parents=True, exist_ok=True)
        try:
            installed = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(CACHE),
                 PACKAGE],
                capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            pytest.skip(f"npm install {PACKAGE} timed out")
        if installed.returncode != 0:
            pytest.skip(f"npm install {PACKAGE} failed: {installed.stderr.strip()[-300:]}")
    return CACHE / "node_modules"


def test_the_node_client_works_against_the_engine(
    node_modules: Path, engine: EngineProcess, unique: str
) -> None:
    result = subprocess.run(
        ["node", str(SCRIPT), "127.0.0.1", str(engine.port), f"node-{unique}"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={**os.environ, "NODE_PATH": str(node_modules)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["created"] == 100
    assert report["bigBody"] == 900_000
    assert report["listed"] == 100  # one page of about 1 MB, sent in flow-controlled pieces
    assert report["duplicate"] == {"code": 6, "details": "Requested entity already exists"}
    assert report["invalid"]["code"] == 3
    assert "bad-é%" in report["invalid"]["details"]
    assert report["afterDelete"] == 99
