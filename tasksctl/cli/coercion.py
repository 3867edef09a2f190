"""Direct value coercion for our plain parameters, so a command does not import pydantic.

typer >= 0.2x converts every parameter value through a pydantic ``TypeAdapter``; importing
pydantic costs ~70 ms, a sixth of a ``tasksctl queues list``. Our parameters are plain
``str``/``int``/``float``/``bool``/``list[str]``, which need no validation library:
:func:`install` gives such parameters an equivalent direct coercion through typer's per-parameter
hook (``_runtime_param``). Anything else (ranges, custom parsers, files, enums), or a typer
without this hook, keeps typer's own path, so the worst case is the slower start-up, never a
different result. ``tests/e2e/test_cli_settings.py`` checks both the speed-up and the error text.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "float", bool: "boolean"}


@functools.cache
def _direct_class() -> type | None:
    """The coercion class, built on typer's private ``RuntimeParam`` (None if it is gone)."""
    try:
        from typer._coercion import RuntimeParam
    except ImportError:
        return None

    @dataclass(frozen=True)
    class DirectCoercion(RuntimeParam):
        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            annotation = self.annotation
            if annotation == list[str]:
                items = value if isinstance(value, list | tuple) else [value]
                return [_scalar(item, str, param, ctx) for item in items]
            return _scalar(value, annotation, param, ctx)

    return DirectCoercion


def _scalar(value: Any, annotation: Any, param: Any, ctx: Any) -> Any:
    if isinstance(value, annotation) and not (annotation is int and isinstance(value, bool)):
        return value
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if annotation is str:
        return str(value)
    try:
        if annotation is bool:
            return {
                "true": True,
                "1": True,
                "yes": True,
                "false": False,
                "0": False,
                "no": False,
                "": False,
            }[str(value).strip().lower()]
        return annotation(str(value).strip())
    except (KeyError, ValueError):
        import typer

        raise typer.BadParameter(
            f"{value!r} is not a valid {_SCALARS[annotation]}.", ctx=ctx, param=param
        ) from None


def _eligible(descriptor: Any) -> bool:
    info = descriptor.parameter_info
    annotation = descriptor.annotation
    if descriptor.file_annotation is not None or getattr(info, "parser", None) is not None:
        return False
    if getattr(info, "min", None) is not None or getattr(info, "max", None) is not None:
        return False
    return annotation in _SCALARS or annotation == list[str]


def install(params: Iterable[Any]) -> None:
    """Give each plain parameter the direct coercion (idempotent, best effort)."""
    direct = _direct_class()
    if direct is None:
        return
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is None or getattr(param, "_runtime_param", False) is not None:
            continue
        try:
            if _eligible(descriptor):
                param._runtime_param = direct(
                    parameter_info=descriptor.parameter_info, annotation=descriptor.annotation
                )
        except (AttributeError, TypeError):  # typer changed shape: keep its own path
            continue
