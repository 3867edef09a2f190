"""How a connection on the main port says what it speaks: the HTTP/2 preface test.

Kept free of imports: the grpcio fallback's relay child (``relay_process``) uses it too and
should not load grpc to sort connections.
"""

from __future__ import annotations

# The HTTP/2 client connection preface (RFC 9113 §3.4); gRPC clients send it at once.
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# No HTTP/1.1 method is "PRI", so three bytes decide.
PEEK_BYTES = 3


def is_grpc(first_bytes: bytes) -> bool | None:
    """True for the HTTP/2 preface, False for anything else, None while undecided."""
    size = min(len(first_bytes), PEEK_BYTES)
    if first_bytes[:size] != PREFACE[:size]:
        return False
    return True if size == PEEK_BYTES else None
