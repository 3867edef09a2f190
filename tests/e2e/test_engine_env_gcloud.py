"""``eval "$(tasksctl engine env-init --gcloud)"; gcloud tasks ...`` as a user runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LOCATION, PROJECT, EngineProcess, make_client


def env_init(engine: EngineProcess, tmp_path: Path, *args: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "tasksctl", "engine", "env-init", "--host", "127.0.0.1",
         "--port", str(engine.port), "--data-dir", str(tmp_path / "no-daemon"), *args],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        env={**os.environ, "TASKSCTL_PROJECT": PROJECT},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_env_init_gcloud_adds_the_cloud_sdk_settings(engine: EngineProcess, tmp_path: Path) -> None:
    plain = env_init(engine, tmp_path)
    with_gcloud = env_init(engine, tmp_path, "--gcloud")
    assert with_gcloud[: len(plain)] == plain
    assert with_gcloud[len(plain) :] == [
        f"export CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDTASKS=http://{engine.address}/",
        "export CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true",
        f"export CLOUDSDK_CORE_PROJECT={PROJECT}",
    ]
    fish = env_init(engine, tmp_path, "--gcloud", "--shell", "fish")
    assert "set -gx CLOUDSDK_AUTH_DISABLE_CREDENTIALS true;" in fish


@pytest.mark.gcloud
@pytest.mark.skipif(shutil.which("gcloud") is None, reason="gcloud (Cloud SDK) not installed")
def test_eval_env_init_then_gcloud_lists_the_engines_queues(
    engine: EngineProcess, tmp_path: Path, client: Any, unique: str
) -> None:
    queue = f"projects/{PROJECT}/locations/{LOCATION}/queues/env-{unique}"
    make_client(engine.address).create_queue(parent=queue.rsplit("/queues", 1)[0],
                                              queue={"name": queue})  # fmt: skip
    script = (
        f'eval "$({sys.executable} -m tasksctl engine env-init --gcloud --host 127.0.0.1 '
        f'--port {engine.port} --data-dir {tmp_path / "no-daemon"})"\n'
        f"gcloud tasks queues list --location {LOCATION} --format 'value(name)'\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDSDK_")}
    env.update(TASKSCTL_PROJECT=PROJECT, CLOUDSDK_CONFIG=str(tmp_path / "gcloud"),
               CLOUDSDK_CORE_DISABLE_PROMPTS="1")  # fmt: skip
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env,
                            timeout=120, stdin=subprocess.DEVNULL)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"env-{unique}" in result.stdout.split()
