"""``queues create|update`` flags -> a ``Queue`` message and an update mask.

One table (:data:`FIELDS`) maps each gcloud flag to the queue field it sets; the update mask
holds exactly the fields whose value or ``--clear-*`` flag was given (gcloud's fine-grained leaf
paths, sent in snake_case as the gRPC API spells them: ``retry_config.max_attempts``; gcloud's
REST names are ``retryConfig.maxAttempts``). ``--clear-X`` puts X in the mask and leaves it unset
in the body, so the service resets it to its default.

Where gcloud surprises users we do what they meant, and the README says so:
durations take units (``10s``, ``1.5m``, ``2h``, ``1d``), and ``--http-header-override`` on its
own is kept on create and *sets* the headers on update (gcloud drops it / clears them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tasksctl.client import import_tasks_v2
from tasksctl.errors import TasksctlError, UsageError
from tasksctl.limits import EMAIL_PATTERN, HTTP_METHODS, INT32_MAX, MAX_PORT
from tasksctl.resources import parse_duration, split_seconds


@dataclass(frozen=True)
class QueueField:
    name: str  # python name = flag without dashes, underscores
    path: str  # update-mask path (gRPC snake_case)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def clear_flag(self) -> str:
        return "--clear-" + self.name.replace("_", "-")

    @property
    def rest_path(self) -> str:
        """gcloud's camelCase mask path, for messages and docs."""
        return ".".join(
            re.sub(r"_([a-z])", lambda m: m.group(1).upper(), part) for part in self.path.split(".")
        )


FIELDS: tuple[QueueField, ...] = (
    QueueField("max_attempts", "retry_config.max_attempts"),
    QueueField("max_retry_duration", "retry_config.max_retry_duration"),
    QueueField("max_doublings", "retry_config.max_doublings"),
    QueueField("min_backoff", "retry_config.min_backoff"),
    QueueField("max_backoff", "retry_config.max_backoff"),
    QueueField("max_dispatches_per_second", "rate_limits.max_dispatches_per_second"),
    QueueField("max_concurrent_dispatches", "rate_limits.max_concurrent_dispatches"),
    QueueField("routing_override", "app_engine_routing_override"),
    QueueField("log_sampling_ratio", "stackdriver_logging_config.sampling_ratio"),
    QueueField("http_uri_override", "http_target.uri_override"),
    QueueField("http_method_override", "http_target.http_method"),
    QueueField("http_header_override", "http_target.header_overrides"),
    QueueField(
        "http_oauth_service_account_email_override",
        "http_target.oauth_token.service_account_email",
    ),
    QueueField("http_oauth_token_scope_override", "http_target.oauth_token.scope"),
    QueueField(
        "http_oidc_service_account_email_override",
        "http_target.oidc_token.service_account_email",
    ),
    QueueField("http_oidc_token_audience_override", "http_target.oidc_token.audience"),
)
FIELDS_BY_NAME = {f.name: f for f in FIELDS}

_ROUTING_KEYS = ("service", "version", "instance")
_URI_KEYS = ("scheme", "host", "port", "path", "query", "mode")
_HEADER_RE = re.compile(r"^(\S+):(.+)$")
_EMAIL_RE = re.compile(EMAIL_PATTERN)

OAUTH_EMAIL_REQUIRED = (
    "Oauth service account email (http-oauth-service-account-email-override) must be set."
)
OIDC_EMAIL_REQUIRED = (
    "Oidc service account email (http-oidc-service-account-email-override) must be set."
)


@dataclass(frozen=True)
class QueueFlags:
    """Raw flag values as typed (None or empty = not given) plus the ``--clear-*`` names."""

    values: dict[str, Any] = field(default_factory=dict)
    clear: frozenset[str] = frozenset()

    def given(self, name: str) -> bool:
        value = self.values.get(name)
        return value is not None and value != [] and value != ()

    def touched(self) -> list[QueueField]:
        return [f for f in FIELDS if self.given(f.name) or f.name in self.clear]


# ---------------------------------------------------------------------------------------------
# Value parsers (each raises UsageError naming the flag, like gcloud's argparse errors)


def parse_max_attempts(text: Any) -> int:
    """A number >= -1, or ``unlimited`` (= -1)."""
    value = str(text).strip().lower()
    if value == "unlimited":
        return -1
    try:
        number = int(value)
    except ValueError:
        raise UsageError(
            f"argument --max-attempts: Value must be an integer; received: {text}"
        ) from None
    if number < -1:
        raise UsageError(
            f"argument --max-attempts: Value must be greater than or equal to -1; received: {text}"
        )
    return number


def _duration(text: str, flag: str) -> Any:
    from google.protobuf import duration_pb2

    seconds, nanos = split_seconds(parse_duration(text, flag))
    return duration_pb2.Duration(seconds=seconds, nanos=nanos)


def parse_arg_dict(text: str, flag: str, keys: tuple[str, ...]) -> dict[str, str]:
    """gcloud's ArgDict with ``:`` as operator: ``key:value,key:value``."""
    result: dict[str, str] = {}
    for item in str(text).split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition(":")
        key = key.strip()
        if not sep:
            raise UsageError(
                f"argument {flag}: Bad syntax for dict arg: [{item}]. Use KEY:VALUE pairs "
                f"separated by commas with KEY one of {', '.join(keys)}."
            )
        if key not in keys:  # gcloud says "for routing" for --http-uri-override too
            raise UsageError(
                f"argument {flag}: Bad value [{key}]: Only the following keys are valid for "
                f"routing: [{', '.join(keys)}]."
            )
        result[key] = value.strip()
    if not result:
        raise UsageError(f"argument {flag}: expected KEY:VALUE pairs.")
    return result


def parse_uri_override(text: str) -> dict[str, Any]:
    """``scheme:https,host:h,port:443,path:/x,query:a=b,mode:ALWAYS`` -> UriOverride fields."""
    UriOverride = import_tasks_v2().UriOverride

    raw = parse_arg_dict(text, "--http-uri-override", _URI_KEYS)
    uri: dict[str, Any] = {}
    if "scheme" in raw:
        scheme = raw["scheme"].upper()
        if scheme not in ("HTTP", "HTTPS"):
            raise UsageError("argument --http-uri-override: scheme must be http or https.")
        uri["scheme"] = UriOverride.Scheme[scheme]
    if "host" in raw:
        uri["host"] = raw["host"]
    if "port" in raw:
        try:
            uri["port"] = int(raw["port"])
        except ValueError:
            raise UsageError(
                f"argument --http-uri-override: port must be a number; received: {raw['port']}"
            ) from None
        if not 1 <= uri["port"] <= MAX_PORT:
            raise UsageError(
                "argument --http-uri-override: port must be between 1 and 65535; "
                f"received: {raw['port']}"
            )
    if "path" in raw:
        uri["path_override"] = {"path": raw["path"]}
    if "query" in raw:
        uri["query_override"] = {"query_params": raw["query"]}
    if "mode" in raw:
        mode = raw["mode"].upper().replace("-", "_")
        if mode not in ("ALWAYS", "IF_NOT_EXISTS"):
            raise UsageError("argument --http-uri-override: mode must be ALWAYS or IF_NOT_EXISTS.")
        uri["uri_override_enforce_mode"] = UriOverride.UriOverrideEnforceMode[mode]
    return uri


def parse_http_method(text: str, flag: str = "--http-method-override") -> Any:
    HttpMethod = import_tasks_v2().HttpMethod

    method = str(text).strip().upper()
    if method not in HTTP_METHODS:
        raise UsageError(
            f"argument {flag}: Invalid choice: '{text}' (choose from {', '.join(HTTP_METHODS)})."
        )
    return HttpMethod[method]


def parse_headers(items: list[str], flag: str = "--http-header-override") -> dict[str, str]:
    """Repeated ``"Key: Value"``; split on the first colon, later duplicates win."""
    headers: dict[str, str] = {}
    for item in items:
        match = _HEADER_RE.match(str(item).strip())
        if not match:
            raise UsageError(
                f"argument {flag}: Bad value [{item}]: Must be of the form: "
                '"HEADER_FIELD: HEADER_VALUE".'
            )
        headers[match.group(1)] = match.group(2).lstrip()
    return headers


def _int32(value: Any, flag: str) -> int:
    """int32 fields: a number past the field's range is a usage error, not a ValueError."""
    if not -(2**31) <= int(value) <= INT32_MAX:
        raise UsageError(f"argument {flag}: Value must be at most {INT32_MAX}; received: {value}")
    return int(value)


def _convert(name: str, value: Any) -> Any:
    flag = FIELDS_BY_NAME[name].flag
    if name == "max_attempts":
        return _int32(parse_max_attempts(value), flag)
    if name in ("max_doublings", "max_concurrent_dispatches"):
        return _int32(value, flag)
    if name in ("max_retry_duration", "min_backoff", "max_backoff"):
        return _duration(value, flag)
    if name == "routing_override":
        return parse_arg_dict(value, flag, _ROUTING_KEYS)
    if name == "http_uri_override":
        return parse_uri_override(value)
    if name == "http_method_override":
        return parse_http_method(value)
    if name in (
        "http_oidc_service_account_email_override", "http_oauth_service_account_email_override"
    ):  # fmt: skip
        if not _EMAIL_RE.match(str(value)):
            raise UsageError(f"argument {flag}: must be an email address; received: {value!r}")
    if name == "http_header_override":
        headers = parse_headers(list(value))
        return [{"header": {"key": k, "value": headers[k]}} for k in sorted(headers)]
    return value


def _set_path(target: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[leaf] = value


# ---------------------------------------------------------------------------------------------
# create / update


def _check_conflicts(flags: QueueFlags) -> None:
    for f in FIELDS:
        if flags.given(f.name) and f.name in flags.clear:
            raise UsageError(
                f"argument {f.clear_flag}: At most one of {f.clear_flag} | {f.flag} "
                "can be specified."
            )
    oauth = [
        n
        for n in ("http_oauth_service_account_email_override", "http_oauth_token_scope_override")
        if flags.given(n)
    ]
    oidc = [
        n
        for n in ("http_oidc_service_account_email_override", "http_oidc_token_audience_override")
        if flags.given(n)
    ]
    if oauth and oidc:
        oauth_group = (
            "[--http-oauth-service-account-email-override : --http-oauth-token-scope-override]"
        )
        oidc_group = (
            "[--http-oidc-service-account-email-override : --http-oidc-token-audience-override]"
        )
        raise UsageError(
            f"argument {oauth_group}: At most one of {oauth_group} | {oidc_group} can be specified."
        )
    if flags.given("routing_override") and any(
        flags.given(f.name) for f in FIELDS if f.path.startswith("http_target.")
    ):
        raise TasksctlError(
            "Attempting to send multiple queue target types simultaneously: "
            "App Engine queue target and HTTP target (--routing-override with --http-*)."
        )


def _body(queue_name: str, flags: QueueFlags) -> dict[str, Any]:
    body: dict[str, Any] = {"name": queue_name}
    for f in FIELDS:
        if flags.given(f.name):
            _set_path(body, f.path, _convert(f.name, flags.values[f.name]))
    return body


def build_create(queue_name: str, flags: QueueFlags) -> Any:
    """The ``Queue`` for ``queues create``: only sub-messages whose flags were given."""
    Queue = import_tasks_v2().Queue

    _check_conflicts(flags)
    if flags.given("http_oauth_token_scope_override") and not flags.given(
        "http_oauth_service_account_email_override"
    ):
        raise TasksctlError(OAUTH_EMAIL_REQUIRED)
    if flags.given("http_oidc_token_audience_override") and not flags.given(
        "http_oidc_service_account_email_override"
    ):
        raise TasksctlError(OIDC_EMAIL_REQUIRED)
    return Queue(_body(queue_name, flags))


def build_update(queue_name: str, flags: QueueFlags) -> tuple[Any, list[str]]:
    """The ``Queue`` body and sorted update-mask paths for ``queues update``."""
    Queue = import_tasks_v2().Queue

    _check_conflicts(flags)
    touched = flags.touched()
    if not touched:
        raise TasksctlError("Must specify at least one field to update.")
    names = {f.name for f in touched}
    for kind, required in (("oauth", OAUTH_EMAIL_REQUIRED), ("oidc", OIDC_EMAIL_REQUIRED)):
        email = f"http_{kind}_service_account_email_override"
        other = (
            "http_oauth_token_scope_override"
            if kind == "oauth"
            else ("http_oidc_token_audience_override")
        )
        # gcloud: the scope/audience can only be set or cleared together with the email.
        if other in names and email not in names:
            raise TasksctlError(required)
        if flags.given(other) and email in flags.clear:
            raise TasksctlError(required)
    paths = {f.path for f in touched}
    for token in ("oauth_token", "oidc_token"):
        # Clearing both halves of a token clears the token: send its path, so the service
        # drops the message instead of keeping an empty one.
        leaves = {p for p in paths if p.startswith(f"http_target.{token}.")}
        if len(leaves) == 2 and all(_cleared(flags, p) for p in leaves):
            paths = (paths - leaves) | {f"http_target.{token}"}
    return Queue(_body(queue_name, flags)), sorted(paths)


def _cleared(flags: QueueFlags, path: str) -> bool:
    return any(f.path == path and f.name in flags.clear for f in FIELDS)
