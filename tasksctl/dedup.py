"""Deterministic task IDs, so that creating "the same" task twice is refused by the service.

Cloud Tasks refuses a second task with the name of one that exists or existed recently
(``ALREADY_EXISTS``). Deriving the ID from a key makes that a deduplication tool. Google
advises against sequential IDs (timestamps, counters) because they concentrate load; every ID
made here therefore *starts* with a hash.

``--dedup-key KEY`` -> :func:`id_from_key`::

    sha256(KEY as UTF-8), first 16 hex digits,
    then "-" and a readable tail: KEY with every run of characters outside [A-Za-z0-9_]
    replaced by one "-", leading and trailing "-" removed, cut to 483 characters (so the
    ID stays within 500); no tail when nothing readable is left.

    "order:42"  ->  "<16 hex>-order-42"        (printf %s 'order:42' | sha256sum | cut -c1-16)

``--dedup-content`` -> :func:`id_from_content`: the first 32 hex digits of the sha256 of::

    tasksctl-dedup-v1 \\n
    KIND \\n                      http | app-engine
    METHOD \\n                    upper case; POST when not given (the service's default)
    URL \\n                       the URL, or the relative URI of an App Engine task
    name:value \\n  ...           one line per header: name lower-cased, value as given,
                                 sorted by (name, value)
    \\n                           an empty line
    BODY                         the raw body bytes (nothing when there is no body)

Header names cannot contain colons or newlines and values cannot contain newlines (both are
refused before an ID is made), so the form is unambiguous. Both functions depend only on their
input: the same input gives the same ID on every run and every machine. IDs always match
``[A-Za-z0-9_-]{1,500}``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from tasksctl.errors import UsageError

KEY_HASH_DIGITS = 16
CONTENT_HASH_DIGITS = 32
MAX_TASK_ID = 500
CONTENT_FORM_VERSION = b"tasksctl-dedup-v1"

_NOT_READABLE = re.compile(r"[^A-Za-z0-9_]+")


def id_from_key(key: str, what: str = "argument --dedup-key") -> str:
    """The task ID for a dedup key: hash first, then a readable tail of the key."""
    if key == "":
        raise UsageError(f"{what}: the dedup key must not be empty.")
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:KEY_HASH_DIGITS]
    room = MAX_TASK_ID - KEY_HASH_DIGITS - 1
    tail = _NOT_READABLE.sub("-", key).strip("-")[:room].rstrip("-")
    return f"{digest}-{tail}" if tail else digest


def content_form(
    kind: str, method: str | None, url: str, headers: Mapping[str, str], body: bytes | None
) -> bytes:
    """The canonical bytes hashed by :func:`id_from_content` (see the module docstring)."""
    lines = [
        CONTENT_FORM_VERSION,
        kind.encode("utf-8"),
        (method or "POST").upper().encode("utf-8"),
        url.encode("utf-8"),
    ]
    pairs = sorted((name.lower(), value) for name, value in headers.items())
    lines += [f"{name}:{value}".encode() for name, value in pairs]
    return b"\n".join(lines) + b"\n\n" + (body or b"")


def id_from_content(
    kind: str, method: str | None, url: str, headers: Mapping[str, str], body: bytes | None
) -> str:
    """The task ID derived from what the task sends: method, URL, headers and body."""
    digest = hashlib.sha256(content_form(kind, method, url, headers, body))
    return digest.hexdigest()[:CONTENT_HASH_DIGITS]
