"""Self-dispatch guard: the engine never sends a task to its own gRPC or side port.

A task aimed at the engine's own ports could drive the engine's API with the engine's own
requests (``POST /v1/reset`` through a task once wiped everything). Decision: such an attempt is
not sent; it fails like an unreachable target, with the reason in its attempt history
(``tasks failed`` / the attempt's error), and the queue's retry policy runs as for any failure.
Only literal names are judged (no DNS lookup on the dispatch path): loopback names and IPs, the
address the engine is bound to, and the wildcard/unspecified addresses.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from tasksctl.engine.side_guard import WILDCARD_HOSTS, is_loopback_name

SELF_DISPATCH_PROBLEM = (
    "refused: the task URL points at this engine's own {what} port {port}; "
    "the engine never dispatches to itself"
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_local(host: str, bind_host: str) -> bool:
    if is_loopback_name(host) or host in WILDCARD_HOSTS or host == bind_host:
        return True
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def self_dispatch_problem(url: str, bind_host: str, grpc_port: int, http_port: int) -> str | None:
    """The refusal text when ``url`` targets the engine itself, else None."""
    try:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if port is None or not _is_local(host, bind_host.strip("[]").lower()):
        return None
    if port == grpc_port:
        return SELF_DISPATCH_PROBLEM.format(what="gRPC", port=port)
    if port == http_port:
        return SELF_DISPATCH_PROBLEM.format(what="side", port=port)
    return None
