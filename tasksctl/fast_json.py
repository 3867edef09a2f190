"""``json_format.MessageToDict`` for the messages the CLI lists, several times faster.

Listing 50,000 tasks spent most of its time in protobuf's generic JSON printer (issue 14). This
walks ``ListFields()`` with a converter per field, cached per field descriptor, and produces the
same dict (camelCase keys, enum names, int64 as strings, bytes as base64, RFC 3339 Timestamps,
``"1.5s"`` Durations, NaN/Infinity for doubles). What it does not handle itself (Any, Struct,
wrappers, FieldMask, float32, bool map keys, extensions) raises ``_Unsupported`` and
:func:`message_to_dict` falls back to ``MessageToDict``; a property test keeps the two in step
(tests/unit/test_fast_json.py).
"""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Callable
from typing import Any

from google.protobuf.descriptor import FieldDescriptor as F

_INT64_TYPES = frozenset(
    {F.TYPE_INT64, F.TYPE_UINT64, F.TYPE_FIXED64, F.TYPE_SFIXED64, F.TYPE_SINT64}
)
_PLAIN_TYPES = frozenset(
    {F.TYPE_STRING, F.TYPE_INT32, F.TYPE_UINT32, F.TYPE_SINT32, F.TYPE_FIXED32, F.TYPE_SFIXED32,
     F.TYPE_BOOL}
)  # fmt: skip
Convert = Callable[[Any], Any]
_FIELDS: dict[Any, tuple[str, Convert]] = {}
_DAY_TEXT: dict[int, str] = {}
TS_MIN, TS_MAX = -62135596800, 253402300799


class _Unsupported(Exception):
    pass


def _fraction(nanos: int) -> str:
    if nanos == 0:
        return ""
    if nanos % 1_000_000 == 0:
        return f".{nanos // 1_000_000:03d}"
    if nanos % 1000 == 0:
        return f".{nanos // 1000:06d}"
    return f".{nanos:09d}"


def _timestamp(value: Any) -> str:
    seconds, nanos = value.seconds, value.nanos
    if not TS_MIN <= seconds <= TS_MAX or not 0 <= nanos < 1_000_000_000:
        raise _Unsupported("timestamp out of range")
    day, rest = divmod(seconds, 86400)
    text = _DAY_TEXT.get(day)
    if text is None:
        text = time.strftime("%Y-%m-%dT", time.gmtime(day * 86400))
        if len(text) != 11:  # years before 1000: let protobuf print them
            raise _Unsupported("year")
        _DAY_TEXT[day] = text
    hours, rest = divmod(rest, 3600)
    return f"{text}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}{_fraction(nanos)}Z"


def _duration(value: Any) -> str:
    seconds, nanos = value.seconds, value.nanos
    if seconds < 0 or nanos < 0 or nanos >= 1_000_000_000:
        raise _Unsupported("negative or odd duration")
    return f"{seconds}{_fraction(nanos)}s"


def _bytes(value: bytes) -> str:
    return base64.b64encode(value).decode("utf-8")


def _int64(value: int) -> str:
    return str(value)


def _double(value: float) -> Any:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _plain(value: Any) -> Any:
    return value


def _converter(field: Any) -> Convert:
    kind = field.type
    if kind == F.TYPE_MESSAGE:
        name = field.message_type.full_name
        if name == "google.protobuf.Timestamp":
            return _timestamp
        if name == "google.protobuf.Duration":
            return _duration
        if name.startswith("google.protobuf."):  # Any, Struct, wrappers, FieldMask, ...
            raise _Unsupported(name)
        return to_dict
    if kind == F.TYPE_ENUM:
        names = {number: value.name for number, value in field.enum_type.values_by_number.items()}
        return lambda value: names.get(value, value)
    if kind in _PLAIN_TYPES:
        return _plain
    if kind in _INT64_TYPES:
        return _int64
    if kind == F.TYPE_BYTES:
        return _bytes
    if kind == F.TYPE_DOUBLE:
        return _double
    raise _Unsupported(field.full_name)  # float32 needs protobuf's shortest-repr rounding


def _field(field: Any) -> tuple[str, Convert]:
    cached = _FIELDS.get(field)
    if cached is not None:
        return cached
    if field.is_extension:
        raise _Unsupported(field.full_name)
    entry = field.message_type
    if entry is not None and entry.GetOptions().map_entry:
        key_field, value_field = entry.fields_by_name["key"], entry.fields_by_name["value"]
        if key_field.type == F.TYPE_BOOL:
            raise _Unsupported(field.full_name)
        inner = _converter(value_field)
        convert: Convert = lambda value: {str(k): inner(v) for k, v in value.items()}  # noqa: E731
    elif field.is_repeated:
        item = _converter(field)
        convert = lambda value: [item(v) for v in value]  # noqa: E731
    else:
        convert = _converter(field)
    cached = (field.json_name, convert)
    _FIELDS[field] = cached
    return cached


def to_dict(message: Any) -> dict[str, Any]:
    """``MessageToDict(message)`` with default options; raises ``_Unsupported`` when unsure."""
    result: dict[str, Any] = {}
    for field, value in message.ListFields():
        name, convert = _FIELDS.get(field) or _field(field)
        result[name] = convert(value)
    return result


def message_to_dict(message: Any) -> dict[str, Any]:
    """Fast path when possible, ``json_format.MessageToDict`` otherwise."""
    try:
        return to_dict(message)
    except _Unsupported:
        from google.protobuf import json_format

        result: dict[str, Any] = json_format.MessageToDict(
            message, preserving_proto_field_name=False, use_integers_for_enums=False
        )
        return result
