"""Issue 14.3, CLI side: values Cloud Tasks cannot hold are usage errors (exit 2) before
anything is sent, so nothing is half-created."""

from __future__ import annotations

from typing import Any

import pytest
from google.api_core import exceptions as gexc

from tests.conftest import LOCATION, PROJECT

BIG = "99999999999999999999"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--max-retry-duration", "999999999999d"), "--max-retry-duration"),
        (("--min-backoff", "1" + "0" * 400 + "s"), "--min-backoff"),
        (("--max-backoff", "99999999999999d"), "--max-backoff"),
        (("--max-doublings", BIG), "--max-doublings"),
        (("--max-concurrent-dispatches", BIG), "--max-concurrent-dispatches"),
        (("--max-attempts", BIG), "--max-attempts"),
        (("--http-uri-override", "port:99999"), "--http-uri-override"),
        (("--http-oidc-service-account-email-override", "not an email"), "email"),
    ],
)
def test_queue_values_out_of_range_are_usage_errors(
    run_cli: Any, client: Any, unique: str, args: tuple[str, ...], message: str
) -> None:
    name = f"range-{unique}"
    created = run_cli("queues", "create", name, *args)
    assert created.returncode == 2, created.stderr
    assert message in created.stderr and "Traceback" not in created.stderr
    with pytest.raises(gexc.NotFound):  # not created
        client.get_queue(name=f"projects/{PROJECT}/locations/{LOCATION}/queues/{name}")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--url", "http://127.0.0.1:99999/"), "--url"),
        (("--url", "http://exa\x01mple.com/"), "--url"),
        (("--url", "http://x/", "--oidc-service-account-email", "not an email"), "email"),
        (("--url", "http://x/", "--header", "X-Big: " + "a" * 90 * 1024), "81,920 bytes"),
    ],
)
def test_task_values_out_of_range_are_usage_errors(
    run_cli: Any, client: Any, queue_path: str, args: tuple[str, ...], message: str
) -> None:
    created = run_cli("tasks", "create-http-task", "--queue", queue_path, *args)
    assert created.returncode == 2, created.stderr
    assert message in created.stderr and "Traceback" not in created.stderr
    assert list(client.list_tasks(parent=queue_path)) == []


@pytest.mark.parametrize("command", [("queues", "list"), ("tasks", "list", "--queue", "q")])
def test_page_size_past_int32_is_a_usage_error(run_cli: Any, command: tuple[str, ...]) -> None:
    result = run_cli(*command, "--page-size", BIG)
    assert result.returncode == 2 and "--page-size" in result.stderr
    assert "ValueError" not in result.stderr
