"""The HTTP rules of the v2 API, read from the client library, compiled into path matchers.

The source is the REST transport's ``rest_base`` module: every ``_Base<Method>`` class there has
``_get_http_options()`` returning the method's ``google.api.http`` bindings (verb, URI template,
body field). Nothing here is typed by hand, so the surface is exactly what the client calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

# An HTTP rule's ``{field=pattern}`` variable, or a bare ``{field}``.
_VARIABLE = re.compile(r"\{([a-zA-Z0-9_.]+)(?:=([^}]*))?\}")


@dataclass(frozen=True)
class HttpRule:
    """One binding: ``GET /v2/{name=projects/*/locations/*/queues/*}`` → GetQueue."""

    method_name: str  # the RPC, e.g. "GetQueue"
    http_method: str  # upper case, e.g. "GET"
    template: str
    body: str  # "" (no body), "*" (the whole request) or a top-level field name
    verb: str  # the custom verb after ':' ("pause"), or ""
    pattern: re.Pattern[str]
    variables: tuple[str, ...]  # field paths bound by the path, in group order

    def match(self, path: str, verb: str) -> dict[str, str] | None:
        """The path variables (percent-decoded) if ``path``/``verb`` fit this rule."""
        if verb != self.verb:
            return None
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        return {
            field: unquote(value)
            for field, value in zip(self.variables, found.groups(), strict=True)
        }


def split_verb(path: str) -> tuple[str, str]:
    """``/v2/x/q:pause`` → (``/v2/x/q``, ``pause``): the verb lives in the last segment only."""
    head, _, last = path.rpartition("/")
    if ":" in last:
        last, _, verb = last.rpartition(":")
        return f"{head}/{last}", verb
    return path, ""


def _segment_pattern(pattern: str) -> str:
    parts = []
    for segment in pattern.split("/"):
        if segment == "**":
            parts.append(r".+")
        elif segment == "*":
            parts.append(r"[^/]+")
        else:
            parts.append(re.escape(segment))
    return "/".join(parts)


def compile_rule(method_name: str, option: dict[str, str]) -> HttpRule:
    """Compile one ``{"method", "uri", "body"}`` binding."""
    template, verb = split_verb(option["uri"])
    variables: list[str] = []
    regex: list[str] = []
    position = 0
    for found in _VARIABLE.finditer(template):
        regex.append(_segment_pattern(template[position : found.start()]))
        variables.append(found[1])
        regex.append(f"({_segment_pattern(found[2] or '*')})")
        position = found.end()
    regex.append(_segment_pattern(template[position:]))
    return HttpRule(
        method_name=method_name,
        http_method=option["method"].upper(),
        template=option["uri"],
        body=option.get("body", ""),
        verb=verb,
        pattern=re.compile("".join(regex)),
        variables=tuple(variables),
    )


def client_rules() -> list[HttpRule]:
    """Every binding the v2 client's REST transport uses (queues, tasks, IAM, CMEK, mixins)."""
    from google.cloud.tasks_v2.services.cloud_tasks.transports import rest_base

    base: Any = rest_base._BaseCloudTasksRestTransport
    rules: list[HttpRule] = []
    for attribute in sorted(vars(base)):
        holder = getattr(base, attribute)
        if not attribute.startswith("_Base") or not hasattr(holder, "_get_http_options"):
            continue
        method_name = attribute.removeprefix("_Base")
        rules.extend(compile_rule(method_name, option) for option in holder._get_http_options())
    return rules
