"""Builds Google's own ``CloudTasksClient`` for the chosen backend.

- endpoint (``--endpoint``, ``TASKSCTL_ENDPOINT``, ``CLOUD_TASKS_EMULATOR_HOST``): insecure gRPC
  to that address, no credentials, no autostart.
- ``local``: insecure gRPC to the bundled engine at ``engine_host:engine_port``; when nothing
  answers there it is started in the background (as ``tasksctl engine start`` would), with one
  line on stderr, unless ``TASKSCTL_NO_AUTOSTART=1`` or ``config set autostart false``.
- ``cloud``: Application Default Credentials through google-auth.

Every google/grpc import happens inside these functions: ``tasksctl --help`` never pays for them.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from tasksctl import constants as c
from tasksctl.errors import CredentialsError, EngineUnavailable
from tasksctl.launcher import port_answers
from tasksctl.output import Output
from tasksctl.settings import Settings

CLOUD_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


class _SkipAiohttp(importlib.abc.MetaPathFinder):
    """Hide aiohttp while google-api-core loads.

    api-core imports its optional asyncio REST transport (and with it aiohttp, ~100 ms) when
    aiohttp is installed - it is, for the engine. The CLI only uses the sync gRPC transport,
    and api-core treats the failed optional import as "extra not installed".
    """

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> None:
        if fullname == "aiohttp" or fullname.startswith("aiohttp."):
            raise ImportError("aiohttp is not needed by the tasksctl CLI")
        return None


def import_tasks_v2() -> Any:
    """Import ``google.cloud.tasks_v2`` as fast as possible (see :class:`_SkipAiohttp`)."""
    if "google.cloud.tasks_v2" in sys.modules or "aiohttp" in sys.modules:
        from google.cloud import tasks_v2

        return tasks_v2
    finder = _SkipAiohttp()
    sys.meta_path.insert(0, finder)
    try:
        from google.cloud import tasks_v2
    finally:
        sys.meta_path.remove(finder)
    return tasks_v2


def insecure_client(address: str) -> Any:
    """A ``CloudTasksClient`` over an insecure gRPC channel (emulators, the local engine)."""
    tasks_v2 = import_tasks_v2()
    import grpc
    from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

    channel = grpc.insecure_channel(address)
    return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))


def cloud_client() -> Any:
    """A ``CloudTasksClient`` for Cloud Tasks with Application Default Credentials."""
    import google.auth
    from google.auth import exceptions as auth_exceptions

    try:
        credentials, _ = google.auth.default(scopes=list(CLOUD_SCOPES))
    except auth_exceptions.DefaultCredentialsError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "none found"
        raise CredentialsError(
            f"Cannot load Application Default Credentials ({reason.rstrip('.')}). "
            "Run `gcloud auth application-default login`, or use `--backend local`."
        ) from None
    tasks_v2 = import_tasks_v2()
    return tasks_v2.CloudTasksClient(credentials=credentials)


def ensure_local_engine(settings: Settings, out: Output) -> None:
    """Make sure the bundled engine answers at its configured address, starting it if allowed.

    A plain TCP probe decides (sub-millisecond; a gRPC readiness check costs ~200 ms in channel
    teardown): if something listens there, the RPC itself reports anything unexpected.
    """
    host, port = settings.engine_host, settings.engine_port
    if port_answers(host, port):
        _check_is_engine(settings)
        return
    from tasksctl.launcher import DaemonOptions, start_daemon

    if not settings.autostart:
        raise EngineUnavailable(
            f"No local engine answers at {host}:{port} and autostart is off "
            f"({settings.sources.get('autostart', 'config')}); "
            "run `tasksctl engine start` first."
        )
    out.status(
        f"Starting the local engine on {host}:{port} (data in {settings.data_dir}); "
        "stop it with `tasksctl engine stop`."
    )
    start_daemon(
        DaemonOptions(
            host=host,
            port=port,
            http_port=settings.engine_http_port,
            data_dir=settings.data_dir,
        )
    )


def _check_is_engine(settings: Settings) -> None:
    """Something listens on the engine port: fail fast unless it speaks gRPC.

    The engine's own state file answers without a network round trip; otherwise a gRPC
    readiness probe (about a second at most) tells an engine or emulator from, say, a web
    server, which would otherwise cost the RPC's 20 s of retries and end in a RetryError.
    """
    from tasksctl.launcher import PROBE_TIMEOUT, is_answering, read_info

    host, port = settings.engine_host, settings.engine_port
    info = read_info(settings.data_dir)
    if info is not None and info.port == port:
        return
    if not is_answering(host, port, timeout=PROBE_TIMEOUT):
        raise EngineUnavailable(
            f"Something that is not a tasksctl engine (no gRPC answer) listens on {host}:{port}; "
            "stop it, or point tasksctl at a free port with `tasksctl config set engine_port "
            "PORT` or TASKSCTL_ENGINE_PORT."
        )


def build_client(settings: Settings, out: Output) -> Any:
    """The client for ``settings``: endpoint, local engine (autostarted) or Cloud Tasks."""
    if settings.endpoint:
        host, _, port = settings.endpoint.rpartition(":")
        if not port_answers(host, int(port)):
            source = settings.sources.get("endpoint", "--endpoint")
            raise EngineUnavailable(
                f"Nothing answers at {settings.endpoint} (from {source}); "
                "start the emulator there or unset the endpoint."
            )
        out.debug(f"Using the emulator at {settings.endpoint} (insecure gRPC).")
        return insecure_client(settings.endpoint)
    if settings.backend == c.BACKEND_LOCAL:
        ensure_local_engine(settings, out)
        out.debug(f"Using the local engine at {settings.engine_address}.")
        return insecure_client(settings.engine_address)
    out.debug("Using Cloud Tasks with Application Default Credentials.")
    return cloud_client()
