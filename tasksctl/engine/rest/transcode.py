"""HTTP request → request message, response message → JSON: ``google.protobuf.json_format``.

Binding order follows Google's HTTP transcoding: the body (the whole request for ``body: "*"``,
else the named field), then the path variables, then query parameters for the fields neither
of those bound. Failures are ``RestAbort`` INVALID_ARGUMENT with Google's wording.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from typing import Any

from google.protobuf import descriptor_pb2, json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from tasksctl.engine.rest.errors import RestAbort, invalid_argument
from tasksctl.engine.rest.rules import HttpRule

# Standard query parameters every Google API accepts and that bind to no request field.
SYSTEM_PARAMETERS = frozenset(
    {
        "$alt", "alt", "$.xgafv", "$callback", "callback", "$fields", "fields", "key",
        "$prettyPrint", "prettyPrint", "quotaUser", "userIp", "upload_protocol",
        "uploadType", "access_token", "oauth_token",
    }
)  # fmt: skip
_WELL_KNOWN = "google.protobuf."
_TYPE_NAME = descriptor_pb2.FieldDescriptorProto.Type.Name
_UNKNOWN_FIELD = re.compile(r'has no field named "([^"]*)" at "([^"]*)"')
_CAMEL = re.compile(r"(?<!^)([A-Z])")
_INVALID_JSON = "Invalid JSON payload received."


def build_request(
    rule: HttpRule,
    request_cls: Any,
    path_values: dict[str, str],
    query: Iterable[tuple[str, str]],
    body: bytes,
) -> Message:
    """The request message for one HTTP call of ``rule``."""
    message: Message = request_cls()
    if rule.body and body.strip():
        target = message if rule.body == "*" else getattr(message, rule.body)
        _parse_body(body, target)
    for path, value in path_values.items():
        _set_path(message, path, [value], bound_by="path")
    grouped: dict[str, list[str]] = {}
    for key, value in query:
        if key not in SYSTEM_PARAMETERS:
            grouped.setdefault(key, []).append(value)
    for key, values in grouped.items():
        if rule.body == "*" or (rule.body and _top_field(message, key) == rule.body):
            raise _cannot_bind(key)
        _set_path(message, key, values, bound_by="query")
    return message


def response_json(
    message: Message, integer_enums: bool, pretty: bool, wrap_task: bool = False
) -> bytes:
    """camelCase JSON, defaults omitted, int64 as strings, bytes as base64 (proto3 JSON).

    ``wrap_task`` answers CreateTask as the Firebase tasks emulator does, which is what
    firebase-admin reads in emulator mode: ``{"task": {..., "name": "/projects/..."}}``.
    """
    data: Any = json_format.MessageToDict(message, use_integers_for_enums=integer_enums)
    if wrap_task:
        data = {"task": {**data, "name": "/" + data.get("name", "")}}
    if pretty:
        return json.dumps(data, indent=2, ensure_ascii=False).encode() + b"\n"
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def _parse_body(body: bytes, target: Message) -> None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid_argument(f"{_INVALID_JSON} Unexpected token.\n{exc}") from None
    if not isinstance(data, dict):
        raise invalid_argument(f'{_INVALID_JSON} Unknown name "": Root element must be a message.')
    try:
        json_format.ParseDict(data, target)
    except json_format.ParseError as exc:
        raise invalid_argument(_parse_error_message(str(exc))) from None
    except (TypeError, ValueError, AttributeError) as exc:  # odd shapes json_format misses
        raise invalid_argument(f"{_INVALID_JSON} {exc}") from None


def _parse_error_message(text: str) -> str:
    """json_format's nested 'Failed to parse x field: ...' → Google's one-line wording."""
    unknown = _UNKNOWN_FIELD.search(text)
    if unknown:
        name, where = unknown.groups()
        path = _snake_path(where.partition(".")[2])
        at = f" at '{path}'" if path else ""
        return f'{_INVALID_JSON} Unknown name "{name}"{at}: Cannot find field.'
    reason = text.rsplit(" field: ", 1)[-1].rstrip(".")
    where = re.search(r" at ([A-Za-z0-9_.]+)$", reason)
    if where:
        path = _snake_path(where[1].partition(".")[2])
        reason = f"{reason[: where.start()].rstrip('.')} at '{path}'"
    return f"{_INVALID_JSON} {reason}."


def _snake_path(path: str) -> str:
    return ".".join(_CAMEL.sub(r"_\1", part).lower() for part in path.split(".") if part)


def _field(descriptor: Descriptor, name: str) -> FieldDescriptor | None:
    return descriptor.fields_by_name.get(name) or descriptor.fields_by_camelcase_name.get(name)


def _top_field(message: Message, key: str) -> str | None:
    field = _field(message.DESCRIPTOR, key.split(".", 1)[0])
    return field.name if field else None


def _cannot_bind(key: str) -> RestAbort:
    return invalid_argument(
        f'{_INVALID_JSON} Unknown name "{key}": Cannot bind query parameter. '
        f"Field '{key}' could not be found in request message."
    )


def _set_path(message: Message, path: str, values: list[str], bound_by: str) -> None:
    """Set the (dotted, camelCase or snake_case) field ``path`` from string values."""
    parts = path.split(".")
    target = message
    for index, part in enumerate(parts):
        field = _field(target.DESCRIPTOR, part)
        if field is None:
            if bound_by == "query":
                raise _cannot_bind(path)
            raise invalid_argument(f"Unknown path field {path!r}")
        if index < len(parts) - 1:
            if field.message_type is None or _is_repeated(field):
                raise _cannot_bind(path)
            target = getattr(target, field.name)
            continue
        _assign(target, field, values, path)


def _is_repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def _assign(target: Message, field: FieldDescriptor, values: list[str], path: str) -> None:
    if not _is_repeated(field) and len(values) > 1:
        raise invalid_argument(
            f"{_INVALID_JSON} Field '{path}' can only be set once (got {len(values)} values)."
        )
    message_type = field.message_type
    if message_type is not None:
        if not message_type.full_name.startswith(_WELL_KNOWN) or _is_repeated(field):
            raise _cannot_bind(path)
        try:
            json_format.ParseDict(values[0], getattr(target, field.name))
        except (json_format.ParseError, TypeError, ValueError):
            raise _invalid_value(field, path, values[0]) from None
        return
    converted = [_scalar(field, path, value) for value in values]
    if _is_repeated(field):
        getattr(target, field.name).extend(converted)
    else:
        setattr(target, field.name, converted[0])


def _scalar(field: FieldDescriptor, path: str, value: str) -> Any:
    kind = field.cpp_type
    try:
        if kind == FieldDescriptor.CPPTYPE_STRING:
            if field.type == FieldDescriptor.TYPE_BYTES:
                return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            return value
        if kind == FieldDescriptor.CPPTYPE_BOOL:
            if value not in ("true", "false"):
                raise ValueError(value)
            return value == "true"
        if kind == FieldDescriptor.CPPTYPE_ENUM:
            enum = field.enum_type
            by_name = enum.values_by_name.get(value)
            number = by_name.number if by_name is not None else int(value)
            if number not in enum.values_by_number:
                raise ValueError(value)
            return number
        if kind in (FieldDescriptor.CPPTYPE_FLOAT, FieldDescriptor.CPPTYPE_DOUBLE):
            return float(value)
        return int(value)
    except (ValueError, TypeError, binascii.Error):
        raise _invalid_value(field, path, value) from None


def _invalid_value(field: FieldDescriptor, path: str, value: str) -> RestAbort:
    return invalid_argument(
        f"Invalid value at '{_snake_path(path)}' ({_TYPE_NAME(field.type)}), \"{value}\""
    )
