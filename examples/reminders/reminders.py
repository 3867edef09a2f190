"""A tiny web app that uses Cloud Tasks: sign up now, get a reminder tomorrow.

``POST /signup`` with ``{"email": ...}`` enqueues a task for 24 hours later that calls
``POST /tasks/remind`` on this same app. The handler sends the reminder (here: appends it to
``App.sent``) at most once per task, because Cloud Tasks delivers at least once and may send a
task twice; it recognises a duplicate by its ``X-CloudTasks-TaskName`` header.

Only the standard library and ``google-cloud-tasks``; the client connects to
``CLOUD_TASKS_EMULATOR_HOST`` when it is set (a local engine), else to Google.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.cloud import tasks_v2

REMIND_AFTER = timedelta(days=1)


def make_client() -> tasks_v2.CloudTasksClient:
    """The Cloud Tasks client: the local engine if CLOUD_TASKS_EMULATOR_HOST is set."""
    emulator = os.environ.get("CLOUD_TASKS_EMULATOR_HOST")
    if not emulator:
        return tasks_v2.CloudTasksClient()
    import grpc
    from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

    channel = grpc.insecure_channel(emulator)
    return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))


class App:
    """The application state: where tasks go, and the reminders sent so far."""

    def __init__(self, client: tasks_v2.CloudTasksClient, queue: str, base_url: str) -> None:
        self.client = client
        self.queue = queue
        self.base_url = base_url
        self.sent: list[str] = []
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def signup(self, email: str) -> str:
        """Enqueue tomorrow's reminder; returns the task name."""
        when = datetime.now(UTC) + REMIND_AFTER
        task = self.client.create_task(
            parent=self.queue,
            task={
                "http_request": {
                    "url": f"{self.base_url}/tasks/remind",
                    "headers": {"Content-Type": "application/json"},
                    "body": json.dumps({"email": email}).encode(),
                },
                "schedule_time": when,
            },
        )
        return str(task.name)

    def remind(self, task_name: str, payload: dict[str, Any]) -> None:
        """The task handler: send the reminder once, whatever the number of deliveries."""
        with self._lock:
            if task_name in self._seen:
                return  # a redelivery of a task already handled
            self._seen.add(task_name)
            self.sent.append(payload["email"])


def make_server(app: App, port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server for ``app`` on 127.0.0.1 (``port`` 0: any free port)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path == "/signup":
                name = app.signup(body["email"])
                self._answer(200, {"task": name})
            elif self.path == "/tasks/remind":
                app.remind(self.headers.get("X-CloudTasks-TaskName", ""), body)
                self._answer(200, {})
            else:
                self._answer(404, {"error": "not found"})

        def _answer(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)
