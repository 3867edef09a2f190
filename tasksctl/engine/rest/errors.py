"""Google's JSON error shape and the HTTP status that goes with each gRPC code."""

from __future__ import annotations

import json

# google.rpc.Code → HTTP status, as in google/rpc/code.proto and Google's REST APIs.
HTTP_STATUS: dict[str, int] = {
    "OK": 200,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
}


class RestAbort(Exception):
    """Raised where the gRPC path would abort the call: a status name and a message."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status if status in HTTP_STATUS else "UNKNOWN"
        self.message = message

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.status]

    def body(self) -> bytes:
        """``{"error": {"code": 404, "message": ..., "status": "NOT_FOUND"}}``, as Google sends."""
        payload = {
            "error": {"code": self.http_status, "message": self.message, "status": self.status}
        }
        return json.dumps(payload, indent=2).encode() + b"\n"


def invalid_argument(message: str) -> RestAbort:
    return RestAbort("INVALID_ARGUMENT", message)


def not_found(message: str) -> RestAbort:
    return RestAbort("NOT_FOUND", message)
