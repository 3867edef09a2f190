"""JSON Schema (draft 2020-12) of the ``queues.yaml`` format, printed by ``apply --schema``.

Written by hand for editors and CI linters; ``tests/test_declarative_spec.py`` keeps it in step
with the loader (same keys, same ranges, same examples accepted and refused). The loader is a
little more lenient than the schema in two ways: enum values are case-insensitive and a null
value counts as "not given".
"""

from __future__ import annotations

import copy
from typing import Any

SCHEMA_ID = "https://tasksctl.dev/schemas/queues.schema.json"

_DURATION = {
    "description": "A duration: 100ms, 10s, 1.5m, 2h, 1d, or a number of seconds.",
    "oneOf": [
        {"type": "string", "pattern": r"^\s*(\d+(\.\d*)?|\.\d+)\s*(ms|s|m|h|d)?\s*$"},
        {"type": "number", "minimum": 0},
    ],
}

# Backoffs must be > 0: the service reads a zero backoff as "use the default".
_POSITIVE_DURATION = {
    "description": "A duration > 0: 100ms, 10s, 1.5m, 2h, 1d, or a number of seconds.",
    "oneOf": [
        {
            "type": "string",
            "pattern": r"^\s*(?=[^1-9]*[1-9])(\d+(\.\d*)?|\.\d+)\s*(ms|s|m|h|d)?\s*$",
        },
        {"type": "number", "exclusiveMinimum": 0},
    ],
}

_TEXT = {"type": ["string", "number"]}

_RATE_LIMITS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "max_dispatches_per_second": {
            "description": "Maximum rate of dispatches, tasks per second (default 500).",
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 500,
        },
        "max_concurrent_dispatches": {
            "description": "Maximum number of tasks in flight (default 1000).",
            "type": "integer",
            "minimum": 1,
            "maximum": 5000,
        },
    },
}

_RETRY_CONFIG = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "max_attempts": {
            "description": "Attempts per task including the first (default 100); -1 or "
            '"unlimited" for no limit. 0 is refused: on the wire it means the default.',
            "oneOf": [
                {"type": "integer", "minimum": -1, "maximum": 2147483647, "not": {"const": 0}},
                {"const": "unlimited"},
            ],
        },
        "max_retry_duration": {**_DURATION, "description": "Retry time limit (default 0 = none)."},
        "min_backoff": {
            **_POSITIVE_DURATION,
            "description": "Shortest wait before a retry (default 100ms).",
        },
        "max_backoff": {
            **_POSITIVE_DURATION,
            "description": "Longest wait before a retry (default 1h).",
        },
        "max_doublings": {
            "description": "Times the wait doubles before growing linearly (default 16); 0 is "
            "refused: the service reads it as the default.",
            "type": "integer",
            "minimum": 1,
            "maximum": 2147483647,
        },
    },
}

_LOGGING = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "sampling_ratio": {
            "description": "Fraction of task operations to log (default 0).",
            "type": "number",
            "minimum": 0,
            "maximum": 1,
        },
    },
}

_ROUTING = {
    "description": "App Engine routing for every task of the queue.",
    "type": "object",
    "additionalProperties": False,
    "properties": {"service": _TEXT, "version": _TEXT, "instance": _TEXT},
}

_TOKEN_EMAIL = {"type": "string", "description": "Service account email."}

_HTTP_TARGET = {
    "description": "Overrides applied to every HTTP task of the queue.",
    "type": "object",
    "additionalProperties": False,
    "not": {"required": ["oidc_token", "oauth_token"]},
    "properties": {
        "uri_override": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "scheme": {"enum": ["http", "https"]},
                "host": _TEXT,
                "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                "path": _TEXT,
                "query": _TEXT,
                "mode": {"enum": ["always", "if_not_exists"]},
            },
        },
        "http_method": {"enum": ["POST", "GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"]},
        "header_overrides": {
            "description": "Header name: value, set on every task.",
            "type": "object",
            "additionalProperties": _TEXT,
        },
        "oidc_token": {
            "type": "object",
            "additionalProperties": False,
            "required": ["service_account_email"],
            "properties": {"service_account_email": _TOKEN_EMAIL, "audience": _TEXT},
        },
        "oauth_token": {
            "type": "object",
            "additionalProperties": False,
            "required": ["service_account_email"],
            "properties": {"service_account_email": _TOKEN_EMAIL, "scope": _TEXT},
        },
    },
}

_PROJECT = {"type": "string", "pattern": r"^[a-z0-9][a-z0-9.:-]{0,99}$"}
_LOCATION = {"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]{0,62}$"}

_QUEUE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {
            "description": "Queue ID: letters, digits and hyphens, 1-100 characters.",
            "type": ["string", "integer"],
            "pattern": r"^[A-Za-z0-9-]{1,100}$",
        },
        "project": _PROJECT,
        "location": _LOCATION,
        "state": {"enum": ["running", "paused"], "description": "Default running."},
        "rate_limits": _RATE_LIMITS,
        "retry_config": _RETRY_CONFIG,
        "stackdriver_logging_config": _LOGGING,
        "app_engine_routing_override": _ROUTING,
        "http_target": _HTTP_TARGET,
    },
}

_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    "title": "tasksctl queues file",
    "description": "Cloud Tasks queues for `tasksctl apply -f`. Settings a queue omits are reset "
    "to the service defaults when applied.",
    "type": "object",
    "additionalProperties": False,
    "required": ["queues"],
    "patternProperties": {"^x-": {"description": "Ignored: room for YAML anchors."}},
    "properties": {
        "project": {**_PROJECT, "description": "Default project of the queues."},
        "location": {**_LOCATION, "description": "Default location of the queues."},
        "queues": {"type": "array", "items": {"$ref": "#/$defs/queue"}},
    },
    "$defs": {"queue": _QUEUE},
}


def json_schema() -> dict[str, Any]:
    """A fresh copy of the schema (callers may modify it)."""
    return copy.deepcopy(_SCHEMA)
