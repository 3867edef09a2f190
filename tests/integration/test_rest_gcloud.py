"""The real ``gcloud tasks`` against the engine's REST, through the shared main port.

gcloud is pointed at the engine with its own settings only (an endpoint override, credentials
off, a temporary CLOUDSDK_CONFIG), exactly as ``tasksctl engine env-init --gcloud`` prints them.
Each step checks gcloud's exit code and output, and the resulting state over gRPC.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.api_core import exceptions as gexc
from google.cloud import tasks_v2

from tests.conftest import LOCATION, PROJECT, EngineProcess

pytestmark = [
    pytest.mark.gcloud,
    pytest.mark.skipif(shutil.which("gcloud") is None, reason="gcloud (Cloud SDK) not installed"),
]


@pytest.fixture(scope="module")
def gcloud_env(engine: EngineProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDSDK_")}
    env.update(
        CLOUDSDK_CONFIG=str(tmp_path_factory.mktemp("gcloud-config")),
        CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDTASKS=f"http://{engine.address}/",
        CLOUDSDK_AUTH_DISABLE_CREDENTIALS="true",
        CLOUDSDK_CORE_PROJECT=PROJECT,
        CLOUDSDK_CORE_DISABLE_PROMPTS="1",
        CLOUDSDK_CORE_DISABLE_USAGE_REPORTING="true",
        CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK="true",
    )
    return env


@pytest.fixture
def gcloud(gcloud_env: dict[str, str]) -> Any:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["gcloud", "tasks", *args, "--location", LOCATION],
            env=gcloud_env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
            timeout=120,
        )  # fmt: skip

    return run


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    return result


def test_gcloud_queue_lifecycle(gcloud: Any, client: Any, location_path: str, unique: str) -> None:
    queue_id = f"gq-{unique}"
    name = f"{location_path}/queues/{queue_id}"

    created = ok(gcloud("queues", "create", queue_id, "--max-attempts", "5",
                        "--max-concurrent-dispatches", "7"))  # fmt: skip
    assert f"Created queue [{LOCATION}/{queue_id}]." in created.stderr
    queue = client.get_queue(name=name)
    assert (queue.retry_config.max_attempts, queue.rate_limits.max_concurrent_dispatches) == (5, 7)

    updated = ok(gcloud("queues", "update", queue_id, "--max-dispatches-per-second", "10",
                        "--min-backoff", "2s"))  # fmt: skip
    assert f"Updated queue [{LOCATION}/{queue_id}]." in updated.stderr
    queue = client.get_queue(name=name)
    assert queue.rate_limits.max_dispatches_per_second == 10
    assert queue.retry_config.min_backoff.seconds == 2
    assert queue.retry_config.max_attempts == 5  # not named in the update: kept

    described = yaml.safe_load(ok(gcloud("queues", "describe", queue_id)).stdout)
    assert described["name"] == name
    assert described["rateLimits"]["maxDispatchesPerSecond"] == 10
    assert described["retryConfig"] == {
        "maxAttempts": 5, "maxBackoff": "3600s", "maxDoublings": 16,
        "maxRetryDuration": "0s", "minBackoff": "2s",
    }  # fmt: skip
    assert described["state"] == "RUNNING"

    listed = ok(gcloud("queues", "list")).stdout.splitlines()
    assert listed[0].split() == ["QUEUE_NAME", "STATE", "MAX_NUM_OF_TASKS", "MAX_RATE", "(/sec)",
                                 "MAX_ATTEMPTS"]  # fmt: skip
    assert [queue_id, "RUNNING", "7", "10.0", "5"] in [line.split() for line in listed]

    assert "Paused queue" in ok(gcloud("queues", "pause", queue_id)).stderr
    assert client.get_queue(name=name).state == tasks_v2.Queue.State.PAUSED
    assert "Resumed queue" in ok(gcloud("queues", "resume", queue_id)).stderr
    assert client.get_queue(name=name).state == tasks_v2.Queue.State.RUNNING

    client.pause_queue(name=name)
    client.create_task(parent=name, task={"http_request": {"url": "http://127.0.0.1:9/"}})
    assert f"Purged queue [{LOCATION}/{queue_id}]." in ok(
        gcloud("queues", "purge", queue_id, "--quiet")).stderr  # fmt: skip
    assert list(client.list_tasks(parent=name)) == []

    assert f"Deleted queue [{LOCATION}/{queue_id}]." in ok(
        gcloud("queues", "delete", queue_id, "--quiet")).stderr  # fmt: skip
    with pytest.raises(gexc.NotFound):
        client.get_queue(name=name)
    missing = gcloud("queues", "describe", queue_id)
    assert missing.returncode == 1
    assert "ERROR: (gcloud.tasks.queues.describe) NOT_FOUND" in missing.stderr


def test_gcloud_task_lifecycle(gcloud: Any, client: Any, location_path: str, unique: str,
                               tmp_path: Path) -> None:  # fmt: skip
    queue_id = f"gt-{unique}"
    queue = f"{location_path}/queues/{queue_id}"
    client.create_queue(parent=location_path, queue={"name": queue})
    client.pause_queue(name=queue)  # tasks stay put until `gcloud tasks run`

    created = ok(gcloud("create-http-task", "t1", "--queue", queue_id,
                        "--url", "http://127.0.0.1:9/handler", "--method", "PUT",
                        "--header", "X-Mine: mine", "--body-content", "héllo"))  # fmt: skip
    assert f"Created task [{queue}/tasks/t1]." in created.stderr
    task = client.get_task(request={"name": f"{queue}/tasks/t1", "response_view": "FULL"})
    assert task.http_request.http_method == tasks_v2.HttpMethod.PUT
    assert task.http_request.body == "héllo".encode()
    assert task.http_request.headers["X-Mine"] == "mine"

    refused = gcloud("create-http-task", "t1", "--queue", queue_id, "--url", "http://x.test/")
    assert refused.returncode == 1
    assert "ALREADY_EXISTS" in refused.stderr

    unnamed = ok(gcloud("create-http-task", "--queue", queue_id, "--url", "http://127.0.0.1:9/"))
    assert f"Created task [{queue}/tasks/" in unnamed.stderr

    listed = ok(gcloud("list", "--queue", queue_id)).stdout.splitlines()
    assert listed[0].split()[:3] == ["TASK_NAME", "TYPE", "CREATE_TIME"]
    rows = [line.split() for line in listed[1:]]
    assert len(rows) == 2 and ["t1", "http"] in [row[:2] for row in rows]

    described = yaml.safe_load(ok(gcloud("describe", "t1", "--queue", queue_id)).stdout)
    assert described["name"] == f"{queue}/tasks/t1"
    assert described["httpRequest"] == {"httpMethod": "PUT", "url": "http://127.0.0.1:9/handler"}
    assert described["view"] == "BASIC"
    full = yaml.safe_load(ok(gcloud("describe", "t1", "--queue", queue_id,
                                    "--response-view", "full")).stdout)  # fmt: skip
    assert full["httpRequest"]["headers"]["X-Mine"] == "mine"

    ran = yaml.safe_load(ok(gcloud("run", "t1", "--queue", queue_id)).stdout)
    assert ran["name"] == f"{queue}/tasks/t1"
    assert client.get_task(name=f"{queue}/tasks/t1").dispatch_count >= 1

    assert "Deleted task [t1]." in ok(gcloud("delete", "t1", "--queue", queue_id, "--quiet")).stderr
    with pytest.raises(gexc.NotFound):
        client.get_task(name=f"{queue}/tasks/t1")
    gone = gcloud("describe", "t1", "--queue", queue_id)
    assert gone.returncode == 1 and "NOT_FOUND" in gone.stderr
