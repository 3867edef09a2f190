"""One exception hierarchy for the CLI and the engine.

Each class carries the process exit code the CLI uses and the gRPC status the engine answers
with; its docstring is the default message. The tree::

    TasksctlError                      exit 1, UNKNOWN
    ├── UsageError                     exit 2, INVALID_ARGUMENT   (bad input, nothing sent)
    ├── ConfigError                    exit 1                     (missing project/location)
    ├── CredentialsError               exit 1, UNAUTHENTICATED
    ├── EngineUnavailable              exit 1, UNAVAILABLE
    ├── Aborted                        exit 1, CANCELLED          (the user said no at a prompt)
    ├── InvalidArgument                exit 1, INVALID_ARGUMENT
    ├── NotFound                       exit 1, NOT_FOUND
    ├── AlreadyExists                  exit 3, ALREADY_EXISTS
    ├── FailedPrecondition             exit 1, FAILED_PRECONDITION
    ├── ResourceExhausted              exit 1, RESOURCE_EXHAUSTED
    └── ApiError                       exit 1 (3 for ALREADY_EXISTS), any status from a server

Exit codes (documented in the README): 0 success, 1 API or client error, 2 usage error,
3 the resource already exists (dedup refusals, ``create`` of an existing queue).
"""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_ALREADY_EXISTS = 3


class TasksctlError(Exception):
    """An unexpected error occurred."""

    exit_code: int = EXIT_ERROR
    grpc_status: str = "UNKNOWN"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def cli_message(self) -> str:
        """The text after ``ERROR: (command)`` on the CLI."""
        return self.message


class UsageError(TasksctlError):
    """Invalid usage."""

    exit_code = EXIT_USAGE
    grpc_status = "INVALID_ARGUMENT"


class ConfigError(TasksctlError):
    """The configuration is incomplete."""


class CredentialsError(TasksctlError):
    """No credentials were found."""

    grpc_status = "UNAUTHENTICATED"


class EngineUnavailable(TasksctlError):
    """The local engine is not running."""

    grpc_status = "UNAVAILABLE"


class Aborted(TasksctlError):
    """Aborted by user."""

    grpc_status = "CANCELLED"


class _StatusError(TasksctlError):
    """Errors the engine answers with; the CLI prints them with their status name."""

    def cli_message(self) -> str:
        return f"{self.grpc_status}: {self.message}"


class InvalidArgument(_StatusError):
    """Request contains an invalid argument."""

    grpc_status = "INVALID_ARGUMENT"


class NotFound(_StatusError):
    """Requested entity was not found."""

    grpc_status = "NOT_FOUND"


class AlreadyExists(_StatusError):
    """Requested entity already exists"""

    exit_code = EXIT_ALREADY_EXISTS
    grpc_status = "ALREADY_EXISTS"


class FailedPrecondition(_StatusError):
    """The operation was rejected because the system is not in a state required for it."""

    grpc_status = "FAILED_PRECONDITION"


class ResourceExhausted(_StatusError):
    """Resource has been exhausted."""

    grpc_status = "RESOURCE_EXHAUSTED"


class ApiError(_StatusError):
    """The server answered with an error."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.grpc_status = status
        self.exit_code = EXIT_ALREADY_EXISTS if status == "ALREADY_EXISTS" else EXIT_ERROR


def from_api_exception(exc: BaseException) -> TasksctlError | None:
    """Translate an exception from google-api-core / grpc / google-auth into our hierarchy.

    Returns None when the exception is not one we know how to present.
    """
    # Imported lazily: these modules are heavy and `--help` must not load them.
    from google.api_core import exceptions as core_exceptions

    if isinstance(exc, core_exceptions.GoogleAPICallError):
        status = _status_name(exc)
        message = exc.message or str(exc)
        if status == "UNAVAILABLE":
            return EngineUnavailable(f"UNAVAILABLE: {message}")
        return ApiError(status, message)
    try:
        from google.auth import exceptions as auth_exceptions
    except ImportError:  # pragma: no cover - google-auth is a dependency
        return None
    if isinstance(exc, auth_exceptions.DefaultCredentialsError):
        return CredentialsError(
            "No Application Default Credentials found. "
            "Run `gcloud auth application-default login`, or use `--backend local`."
        )
    if isinstance(exc, auth_exceptions.GoogleAuthError):
        return CredentialsError(f"Authentication failed: {exc}")
    return None


def _status_name(exc: Any) -> str:
    code = getattr(exc, "grpc_status_code", None)
    if code is not None:
        return str(code.name)
    from google.api_core import exceptions as core_exceptions

    by_http = {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        409: "ALREADY_EXISTS",
        412: "FAILED_PRECONDITION",
        429: "RESOURCE_EXHAUSTED",
        500: "INTERNAL",
        501: "UNIMPLEMENTED",
        503: "UNAVAILABLE",
        504: "DEADLINE_EXCEEDED",
    }
    if isinstance(exc, core_exceptions.GoogleAPICallError) and exc.code is not None:
        return by_http.get(int(exc.code), "UNKNOWN")
    return "UNKNOWN"
