"""One dispatch attempt over HTTP: build the request Cloud Tasks would send, send it, judge it.

Input is a frozen :class:`Delivery` (what the store knows about the task and its attempt); output
is an :class:`AttemptResult`. :func:`deliver` never raises for anything the target does: refused
or reset connections, hangs, redirects, huge bodies and bad answers all come back as a failed
result with ``error`` set; only a missing signing key for an OIDC task (an engine bug) raises.

Request (HttpRequest reference; "Create HTTP Target tasks" handler headers):

* method, URL, body and headers as stored. Headers that Cloud Tasks computes or reserves are
  dropped from the stored set (compared case-insensitively): ``Host`` and ``Content-Length``
  (computed), ``User-Agent`` (replaced), hop-by-hop headers, ``X-Google-*``, ``X-AppEngine-*``
  and ``X-CloudTasks-*`` ("Google use only"; the engine sets its own).
* ``User-Agent: Google-Cloud-Tasks``.
* ``X-CloudTasks-QueueName`` (queue ID), ``X-CloudTasks-TaskName`` (task ID),
  ``X-CloudTasks-TaskRetryCount`` (attempts before this one), ``X-CloudTasks-TaskExecutionCount``
  (earlier attempts that got a response, 5xx excluded), ``X-CloudTasks-TaskETA`` (schedule time in
  seconds since the epoch, printed as a double with 17 significant digits like production, whose
  handlers see values such as ``1666670855.3296249`` for ``...855.329625``); on retries
  ``X-CloudTasks-TaskPreviousResponse`` (previous HTTP status, when there was one) and
  ``X-CloudTasks-TaskRetryReason`` (empty for HTTP targets unless the engine passes a reason).
* ``Content-Type: application/octet-stream`` when there is a body and no stored Content-Type
  (DESIGN.md §2; the current v2 reference says Cloud Tasks no longer adds one for HTTP targets).
* ``Authorization: Bearer`` with an ID token from :mod:`tasksctl.engine.oidc` (audience defaults
  to the task URL) or a clearly fake access token for ``oauth_token``.
* Nothing else: aiohttp's automatic ``Accept``/``Accept-Encoding`` are suppressed.

App Engine tasks (AppEngineHttpRequest reference, "Create App Engine task handlers") go to
``<app_engine_host><relative_uri>`` with ``X-AppEngine-QueueName``, ``-TaskName``,
``-TaskRetryCount``, ``-TaskExecutionCount``, ``-TaskETA`` and, on retries,
``-TaskPreviousResponse`` / ``-TaskRetryReason``; ``User-Agent`` is
``AppEngine-Google; (+http://code.google.com/appengine)``, appended to a stored User-Agent; the
``Host`` header is built from the routing (``instance.version.service.<app_engine_host>``, the
parts that are set) as production builds ``...appspot.com`` hosts.

Judging: 2xx = success; anything else is a failure: other statuses including 3xx (redirects are
never followed), connection errors, and passing ``dispatch_deadline`` (the whole exchange, up to
reading the head of the body, runs under ``asyncio.timeout``; on expiry the connection is
dropped, never returned to the pool). Only the first ``head_limit`` bytes of the body are read;
if more remain, the connection is closed instead of drained, so a 50 MB answer costs 1 KiB.
aiohttp's silent one-time retry of idempotent requests on a reset connection is switched off in
:func:`make_session`: every attempt is exactly one request, as the counters require.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import aiohttp
from multidict import CIMultiDict

from tasksctl.engine.clock import Clock, RealClock
from tasksctl.engine.oidc import SigningKeys, fake_access_token

USER_AGENT = "Google-Cloud-Tasks"
APP_ENGINE_USER_AGENT = "AppEngine-Google; (+http://code.google.com/appengine)"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
DEFAULT_HEAD_LIMIT = 1024
DEFAULT_DISPATCH_DEADLINE = 600.0
_DROPPED_HEADERS = frozenset(
    h.lower()
    for h in (
        "Host", "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Upgrade",
        "TE", "Trailer", "Proxy-Connection",
    )
)  # fmt: skip
_RESERVED_PREFIXES = ("x-google-", "x-appengine-", "x-cloudtasks-")
_SKIP_AUTO_HEADERS = ("Accept", "Accept-Encoding", "Content-Type")
_REAL_CLOCK = RealClock()


class OidcToken(NamedTuple):
    service_account_email: str
    audience: str = ""  # empty: the task URL


class OAuthToken(NamedTuple):
    service_account_email: str
    scope: str = ""


@dataclass(frozen=True, slots=True)
class AppEngineTarget:
    """Where an App Engine task goes locally: ``--app-engine-host`` plus the task's routing."""

    host: str  # "localhost:8080" or "http://localhost:8080"
    relative_uri: str = "/"
    service: str = ""
    version: str = ""
    instance: str = ""

    def _base(self) -> tuple[str, str]:
        scheme, sep, rest = self.host.partition("://")
        if not sep:
            scheme, rest = "http", self.host
        return scheme, rest.rstrip("/")

    def routing_host(self) -> str:
        """The ``Host`` header: routing parts in front of the configured host."""
        parts = [p for p in (self.instance, self.version, self.service) if p]
        return ".".join([*parts, self._base()[1]])

    def url(self) -> str:
        scheme, netloc = self._base()
        uri = self.relative_uri or "/"
        return f"{scheme}://{netloc}{uri if uri.startswith('/') else '/' + uri}"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One attempt of one task, as the dispatcher hands it over."""

    queue_id: str
    task_id: str
    url: str = ""  # HTTP target; unused when app_engine is set
    method: str = "POST"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    schedule_time: float = 0.0  # epoch seconds
    retry_count: int = 0  # attempts before this one
    execution_count: int = 0  # earlier attempts that got a non-5xx response
    previous_response: int | None = None  # HTTP status of the previous attempt, if any
    retry_reason: str = ""
    dispatch_deadline: float = DEFAULT_DISPATCH_DEADLINE
    oidc: OidcToken | None = None
    oauth: OAuthToken | None = None
    app_engine: AppEngineTarget | None = None

    @property
    def target_url(self) -> str:
        return self.app_engine.url() if self.app_engine is not None else self.url


@dataclass(frozen=True, slots=True)
class AttemptResult:
    status: int | None  # None: no HTTP answer (connection error, deadline before headers)
    ok: bool  # 2xx and no error
    started_at: float  # epoch seconds when the request was sent
    finished_at: float  # epoch seconds when the attempt ended
    latency: float  # seconds, measured on the monotonic clock
    response_head: bytes  # at most head_limit bytes of the body
    error: str | None  # why there is no usable answer
    started_monotonic: float  # for flow.Slowdown's once-per-round-trip rule
    retry_after: float | None = None  # the answer's Retry-After, in seconds


def format_eta(seconds: float) -> str:
    """Schedule time as Cloud Tasks prints it: ``%.17g`` of the epoch seconds."""
    return f"{seconds:.17g}"


def _stored_headers(headers: Mapping[str, str]) -> CIMultiDict[str]:
    kept: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        low = name.lower()
        if low in _DROPPED_HEADERS or low.startswith(_RESERVED_PREFIXES):
            continue
        kept[name] = value
    return kept


def build_headers(
    delivery: Delivery, *, keys: SigningKeys | None = None, now: float | None = None
) -> CIMultiDict[str]:
    """The complete header set of the request for ``delivery`` (see the module docstring)."""
    headers = _stored_headers(delivery.headers)
    stored_ua = headers.popone("User-Agent", "")
    retry = delivery.retry_count > 0
    if delivery.app_engine is not None:
        prefix = "X-AppEngine-"
        headers["User-Agent"] = f"{stored_ua} {APP_ENGINE_USER_AGENT}".strip()
        headers["Host"] = delivery.app_engine.routing_host()
    else:
        prefix = "X-CloudTasks-"
        headers["User-Agent"] = USER_AGENT
    headers[prefix + "QueueName"] = delivery.queue_id
    headers[prefix + "TaskName"] = delivery.task_id
    headers[prefix + "TaskRetryCount"] = str(delivery.retry_count)
    headers[prefix + "TaskExecutionCount"] = str(delivery.execution_count)
    headers[prefix + "TaskETA"] = format_eta(delivery.schedule_time)
    if retry and delivery.previous_response is not None:
        headers[prefix + "TaskPreviousResponse"] = str(delivery.previous_response)
    if retry:
        headers[prefix + "TaskRetryReason"] = delivery.retry_reason
    if delivery.body and "Content-Type" not in headers:
        headers["Content-Type"] = DEFAULT_CONTENT_TYPE
    if delivery.oidc is not None:
        if keys is None:
            raise ValueError("an OIDC task needs the engine's SigningKeys")
        audience = delivery.oidc.audience or delivery.target_url
        token = keys.id_token(
            delivery.oidc.service_account_email, audience, time.time() if now is None else now
        )
        headers["Authorization"] = f"Bearer {token}"
    elif delivery.oauth is not None:
        fake = fake_access_token(delivery.oauth.service_account_email, delivery.oauth.scope)
        headers["Authorization"] = f"Bearer {fake}"
    return headers


def make_session(*, limit: int = 0, keepalive_timeout: float = 15.0) -> aiohttp.ClientSession:
    """The shared client session for dispatching; create it inside the running event loop.

    ``limit`` caps open connections across all targets (0 = none: the queues' concurrency caps
    are the real bound, and a hidden connector queue would eat into dispatch deadlines). No
    cookie jar (attempts must not leak state into each other), no decompression, no overall
    timeout (each attempt brings its own deadline), environment proxies ignored. Close it with
    ``await session.close()`` when the engine stops.
    """
    connector = aiohttp.TCPConnector(
        limit=limit, limit_per_host=0, keepalive_timeout=keepalive_timeout, ttl_dns_cache=10
    )
    session = aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
        timeout=aiohttp.ClientTimeout(total=None),
        trust_env=False,
    )
    # aiohttp resends an idempotent request once when its connection resets; a dispatch attempt
    # must be a single request (there is no public switch for this).
    if hasattr(session, "_retry_connection"):
        session._retry_connection = False
    return session


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` (delta-seconds or HTTP-date) as seconds from now; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


async def _read_head(response: aiohttp.ClientResponse, limit: int) -> bytes:
    head = bytearray()
    while len(head) < limit:
        chunk = await response.content.read(limit - len(head))
        if not chunk:
            break
        head += chunk
    return bytes(head)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ServerDisconnectedError):
        return f"connection error: {text}"
    if isinstance(exc, aiohttp.ClientOSError | ConnectionError):
        return f"connection error: {text}"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return f"response body error: {text}"
    if isinstance(exc, aiohttp.InvalidURL):
        return f"invalid URL: {text}"
    return f"{type(exc).__name__}: {text}"


async def deliver(
    session: aiohttp.ClientSession,
    delivery: Delivery,
    *,
    keys: SigningKeys | None = None,
    head_limit: int = DEFAULT_HEAD_LIMIT,
    clock: Clock | None = None,
) -> AttemptResult:
    """Send one attempt and report what happened; never raises for target failures.

    ``clock`` (default the system's) gives the attempt's ``started_at``/``finished_at``; a
    manual clock stands still while the request runs, so both are its current time. Latency
    and the deadline use the monotonic clock, and an OIDC token the real time (its ``iat`` and
    ``exp`` must pass google-auth's checks against the handler's real clock).
    """
    wall = (clock or _REAL_CLOCK).time
    headers = build_headers(delivery, keys=keys)
    deadline = delivery.dispatch_deadline
    if not (deadline > 0 and math.isfinite(deadline)):
        deadline = DEFAULT_DISPATCH_DEADLINE
    status: int | None = None
    head = b""
    error: str | None = None
    retry_after: float | None = None
    started_at, started_monotonic = wall(), time.monotonic()
    response: aiohttp.ClientResponse | None = None
    try:
        async with asyncio.timeout(deadline):
            response = await session.request(
                delivery.method.upper(),
                delivery.target_url,
                headers=headers,
                data=delivery.body or None,
                allow_redirects=False,
                skip_auto_headers=_SKIP_AUTO_HEADERS,
            )
            status = response.status
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            head = await _read_head(response, head_limit)
    except TimeoutError:
        stage = "for a response" if status is None else "reading the response body"
        error = f"DEADLINE_EXCEEDED: dispatch_deadline of {deadline:g}s passed waiting {stage}"
    except Exception as exc:  # any target misbehaviour is a failed attempt, never a crash
        error = _describe(exc)
    finally:
        if response is not None:
            if error is None and response.content.at_eof():
                response.release()  # fully read: the connection may be reused
            else:
                response.close()  # unread bytes or a broken exchange: drop the connection
    finished_monotonic = time.monotonic()
    elapsed = finished_monotonic - started_monotonic
    real = clock is None or isinstance(clock, RealClock)
    return AttemptResult(
        status=status,
        ok=error is None and status is not None and 200 <= status <= 299,
        started_at=started_at,
        finished_at=started_at + elapsed if real else max(started_at, wall()),
        latency=finished_monotonic - started_monotonic,
        response_head=head,
        error=error,
        started_monotonic=started_monotonic,
        retry_after=retry_after,
    )
