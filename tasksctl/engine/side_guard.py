"""Who may talk to the side port: a guard against browsers and DNS rebinding.

The side port has no authentication (like the gRPC port it serves one local user), so what it
must refuse is a request a *web page* makes through the user's browser:

* **Host** (every route): with a loopback bind, the ``Host`` header must name a loopback host
  (``localhost``, ``*.localhost``, ``127.0.0.0/8``, ``::1``) or the bound address, with the side
  port's own port. A DNS-rebinding page reaches 127.0.0.1 under its own name, so its ``Host`` is
  that name and it is refused. With a non-loopback bind the bound address is also accepted; with a
  wildcard bind (``0.0.0.0``, ``::``, which the user chose to expose the engine on the network,
  e.g. in a container) any Host name is accepted but the port still has to match.
* **State-changing requests** (anything but GET/HEAD/OPTIONS) must carry
  ``Content-Type: application/json`` (a browser cannot send that cross-origin without a CORS
  preflight, which the side port never grants), no ``Origin`` other than the side port itself,
  and no ``Sec-Fetch-Site`` of ``cross-site``/``same-site``.

Refusals are JSON ``{"error": ...}`` with 403 (Host, Origin) or 415 (content type).

The REST surface on the gRPC port (``engine/rest``) uses :meth:`SideGuard.rest_problem`: the same
Host and cross-site checks, and of the content types only the three a browser may send across
origins without a preflight (``text/plain``, form encodings) are refused, since REST clients send
bodiless ``DELETE`` and ``POST ...:pause`` requests.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import web

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BROWSER_SIMPLE_TYPES = frozenset(
    {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}
)
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback_name(host: str) -> bool:
    """``localhost``, ``*.localhost`` or a loopback IP literal (brackets allowed for IPv6)."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def split_host(value: str) -> tuple[str, int | None]:
    """``"h:8124"`` -> ``("h", 8124)``; ``"[::1]:80"`` -> ``("::1", 80)``; no port -> None."""
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
    else:
        host, port_text = value, ""
    if not port_text:
        return host.lower(), None
    if not port_text.isdigit() or len(port_text) > 5:
        return host.lower(), -1
    return host.lower(), int(port_text)


class SideGuard:
    """The checks above for one engine (its bind host and, once known, its side port)."""

    def __init__(self, bind_host: str, port: Callable[[], int]) -> None:
        self.bind_host = bind_host.strip("[]").lower()
        self._port = port

    def host_problem(self, host_header: str | None) -> str | None:
        if not host_header:
            return "a Host header is required"
        host, port = split_host(host_header)
        expected = self._port()
        if (port if port is not None else 80) != expected:
            return f"the Host header {host_header!r} does not name this side port ({expected})"
        if self.bind_host in WILDCARD_HOSTS or is_loopback_name(host):
            return None
        if host.strip("[]") == self.bind_host:
            return None
        return (
            f"the Host header {host_header!r} is not a loopback name; the side port answers "
            "only requests addressed to localhost/127.0.0.1 (DNS rebinding guard)"
        )

    def cross_site_problem(self, request: web.BaseRequest) -> str | None:
        """A browser's cross-site request: a foreign ``Origin`` or ``Sec-Fetch-Site``."""
        origin = request.headers.get("Origin")
        if origin is not None and origin.rstrip("/").lower() != f"http://{request.host}".lower():
            return f"cross-origin requests are refused (Origin {origin!r})"
        fetch_site = request.headers.get("Sec-Fetch-Site", "").lower()
        if fetch_site in ("cross-site", "same-site"):
            return f"cross-site requests are refused (Sec-Fetch-Site {fetch_site})"
        return None

    def rest_problem(self, request: web.BaseRequest) -> tuple[int, str] | None:
        """The checks for the REST surface; (HTTP status, reason) or None."""
        problem = self.host_problem(request.headers.get("Host"))
        if problem is not None:
            return 403, problem
        if request.method in SAFE_METHODS:
            return None
        problem = self.cross_site_problem(request)
        if problem is not None:
            return 403, problem
        if request.content_type in BROWSER_SIMPLE_TYPES and "Content-Type" in request.headers:
            return 415, f"Content-Type {request.content_type} is refused; send application/json"
        return None

    def write_problem(self, request: web.Request) -> tuple[int, str] | None:
        problem = self.cross_site_problem(request)
        if problem is not None:
            return 403, problem
        if request.content_type != "application/json":
            return 415, (
                "state-changing requests must be Content-Type: application/json, "
                f"got {request.headers.get('Content-Type', 'none')!r}"
            )
        return None

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        problem = self.host_problem(request.headers.get("Host"))
        if problem is not None:
            return web.json_response({"error": problem}, status=403)
        if request.method not in SAFE_METHODS:
            refused = self.write_problem(request)
            if refused is not None:
                return web.json_response({"error": refused[1]}, status=refused[0])
        return await handler(request)
