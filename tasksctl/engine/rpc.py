"""gRPC plumbing shared by the servicer modules: the error mapping and page tokens."""

from __future__ import annotations

import base64
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple

import grpc

from tasksctl.engine.validation import invalid
from tasksctl.errors import TasksctlError

log = logging.getLogger("tasksctl.engine.server")

Handler = Callable[[Any, Any, Any], Awaitable[Any]]


def rpc(method: Handler) -> Handler:
    """Map ``TasksctlError`` (and anything unexpected) to a gRPC status, in one place; count
    the call as API activity while it runs (``launch_gate.ApiActivity``: API first)."""

    @functools.wraps(method)
    async def handler(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        activity = self.api_activity
        activity.begin()
        try:
            return await method(self, request, context)
        except TasksctlError as err:
            code = getattr(grpc.StatusCode, err.grpc_status, grpc.StatusCode.UNKNOWN)
            await context.abort(code, err.message)
        except (grpc.aio.AbortError, grpc.RpcError):
            raise
        except Exception as exc:
            log.exception("%s failed", method.__name__)
            await context.abort(grpc.StatusCode.INTERNAL, f"Internal error: {exc}")
        finally:
            activity.end()

    return handler


def encode_token(value: str) -> str:
    """An opaque page token for a cursor value."""
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_token(token: str) -> str:
    try:
        padded = token + "=" * (-len(token) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise invalid("page_token", "the page token is not valid") from None


def generic_handlers(
    target: Any, services: dict[str, dict[str, tuple[Any, Any]]]
) -> list[grpc.GenericRpcHandler]:
    """``{service: {method: (request_cls, response_cls)}}`` → handlers bound to ``target``."""
    handlers: list[grpc.GenericRpcHandler] = []
    for service, methods in services.items():
        table = {
            method: grpc.unary_unary_rpc_method_handler(
                getattr(target, method),
                request_deserializer=request_cls.FromString,
                response_serializer=response_cls.SerializeToString,
            )
            for method, (request_cls, response_cls) in methods.items()
        }
        handlers.append(grpc.method_handlers_generic_handler(service, table))
    return handlers


class _CallDetails(NamedTuple):
    method: str
    invocation_metadata: tuple[tuple[str, str], ...]


def find_method(
    handlers: Sequence[grpc.GenericRpcHandler], path: str
) -> grpc.RpcMethodHandler | None:
    """The handler the gRPC server would pick for ``path`` ("/service/Method"), or None."""
    details = _CallDetails(path, ())
    for handler in handlers:
        found = handler.service(details)
        if found is not None:
            return found
    return None
