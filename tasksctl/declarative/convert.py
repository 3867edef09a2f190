"""Queue specs ↔ ``tasks_v2.Queue`` messages, and the ``queues export`` YAML writer.

Both directions go through the flat leaf table of ``spec.FIELDS`` so the loader, the planner and
the exporter agree on every field. Durations are read from the raw protobuf (proto-plus would
round them to microseconds). Export writes only values that differ from the service defaults, in
a fixed key order, queues sorted by name, so an exported file is minimal and stable: export →
apply on an empty engine → export gives the same text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml
from google.cloud import tasks_v2

from tasksctl.declarative.fields import (
    DEFAULTS,
    FIELDS,
    NANOS,
    STATE_PAUSED,
    STATE_RUNNING,
    export_value,
    values_equal,
)
from tasksctl.declarative.spec import QueueSpec
from tasksctl.resources import parse_queue_name

_SCHEMES = {"http": "HTTP", "https": "HTTPS"}
_MODES = {"always": "ALWAYS", "if_not_exists": "IF_NOT_EXISTS"}


# ---------------------------------------------------------------------------------------------
# Spec → Queue


def spec_to_queue(
    spec: QueueSpec, *, fill_defaults: bool = False, with_state: bool = False
) -> tasks_v2.Queue:
    """The desired Queue for a spec, with its full resource name.

    ``fill_defaults`` writes the service defaults for settings the file omits (used for
    UpdateQueue bodies, so that resetting a field does not depend on how a server reads an
    unset value under an update mask). ``with_state`` sets the output-only ``state`` (for
    export only: requests must leave it unset; state changes go through Pause/ResumeQueue).
    """
    values = dict(spec.values)
    if fill_defaults:
        for path, default in DEFAULTS.items():
            values.setdefault(path, default)
    pb = tasks_v2.Queue.pb()(name=spec.name)
    for path, value in values.items():
        if value is not None:
            _set(pb, path, value)
    if with_state:
        running = spec.state == STATE_RUNNING
        pb.state = tasks_v2.Queue.State.RUNNING if running else tasks_v2.Queue.State.PAUSED
    queue: tasks_v2.Queue = tasks_v2.Queue.wrap(pb)
    return queue


def _set(pb: Any, path: str, value: Any) -> None:
    group, _, rest = path.partition(".")
    if group == "rate_limits":
        setattr(pb.rate_limits, rest, value)
    elif group == "retry_config":
        if rest in ("max_attempts", "max_doublings"):
            setattr(pb.retry_config, rest, value)
        else:
            seconds, nanos = divmod(int(value), NANOS)
            duration = getattr(pb.retry_config, rest)
            duration.seconds, duration.nanos = seconds, nanos
    elif group == "stackdriver_logging_config":
        pb.stackdriver_logging_config.sampling_ratio = value
    elif group == "app_engine_routing_override":
        setattr(pb.app_engine_routing_override, rest, value)
    elif group == "http_target":
        _set_http(pb.http_target, rest, value)
    else:  # pragma: no cover - FIELDS and this function move together
        raise KeyError(path)


def _set_http(http: Any, path: str, value: Any) -> None:
    uri = http.uri_override
    if path == "uri_override.scheme":
        uri.scheme = _enum(tasks_v2.UriOverride.Scheme, _SCHEMES[value])
    elif path == "uri_override.host":
        uri.host = value
    elif path == "uri_override.port":
        uri.port = value
    elif path == "uri_override.path":
        uri.path_override.path = value
    elif path == "uri_override.query":
        uri.query_override.query_params = value
    elif path == "uri_override.mode":
        modes = tasks_v2.UriOverride.UriOverrideEnforceMode
        uri.uri_override_enforce_mode = _enum(modes, _MODES[value])
    elif path == "http_method":
        http.http_method = _enum(tasks_v2.HttpMethod, value)
    elif path == "header_overrides":
        for key, text in value:
            override = http.header_overrides.add()
            override.header.key, override.header.value = key, text
    elif path.startswith(("oidc_token.", "oauth_token.")):
        token, _, leaf = path.partition(".")
        setattr(getattr(http, token), leaf, value)
    else:  # pragma: no cover
        raise KeyError(path)


def _enum(enum_type: Any, name: str) -> int:
    return int(getattr(enum_type, name))


# ---------------------------------------------------------------------------------------------
# Queue → leaves / spec


def queue_leaves(queue: tasks_v2.Queue) -> dict[str, Any]:
    """Every settable leaf of a live queue, normalized like the loader does; None when unset."""
    pb = tasks_v2.Queue.pb(queue)
    out: dict[str, Any] = {f.path: None for f in FIELDS}
    if pb.HasField("rate_limits"):
        rl = pb.rate_limits
        out["rate_limits.max_dispatches_per_second"] = rl.max_dispatches_per_second or None
        out["rate_limits.max_concurrent_dispatches"] = rl.max_concurrent_dispatches or None
    if pb.HasField("retry_config"):
        rc = pb.retry_config
        # Zero reads as "not set" (the service default), as the service itself reads it.
        out["retry_config.max_attempts"] = rc.max_attempts or None
        out["retry_config.max_doublings"] = rc.max_doublings or None
        for name in ("max_retry_duration", "min_backoff", "max_backoff"):
            if rc.HasField(name):
                duration = getattr(rc, name)
                out[f"retry_config.{name}"] = (duration.seconds * NANOS + duration.nanos) or None
    if pb.HasField("stackdriver_logging_config"):
        out["stackdriver_logging_config.sampling_ratio"] = (
            pb.stackdriver_logging_config.sampling_ratio
        )
    if pb.HasField("app_engine_routing_override"):
        routing = pb.app_engine_routing_override
        for name in ("service", "version", "instance"):
            out[f"app_engine_routing_override.{name}"] = getattr(routing, name) or None
    if pb.HasField("http_target"):
        out.update(_http_leaves(pb.http_target))
    return out


def _http_leaves(http: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    prefix = "http_target."
    if http.HasField("uri_override"):
        uri = http.uri_override
        if uri.HasField("scheme") and uri.scheme:
            name = tasks_v2.UriOverride.Scheme(uri.scheme).name
            out[prefix + "uri_override.scheme"] = name.lower()
        if uri.HasField("host") and uri.host:
            out[prefix + "uri_override.host"] = uri.host
        if uri.HasField("port") and uri.port:
            out[prefix + "uri_override.port"] = int(uri.port)
        out[prefix + "uri_override.path"] = uri.path_override.path or None
        out[prefix + "uri_override.query"] = uri.query_override.query_params or None
        if uri.uri_override_enforce_mode:
            mode = tasks_v2.UriOverride.UriOverrideEnforceMode(uri.uri_override_enforce_mode)
            out[prefix + "uri_override.mode"] = mode.name.lower()
    if http.http_method:
        out[prefix + "http_method"] = tasks_v2.HttpMethod(http.http_method).name
    headers = {o.header.key: o.header.value for o in http.header_overrides}
    out[prefix + "header_overrides"] = tuple(sorted(headers.items())) or None
    token = http.WhichOneof("authorization_header")
    if token:
        message = getattr(http, token)
        second = "audience" if token == "oidc_token" else "scope"
        out[f"{prefix}{token}.service_account_email"] = message.service_account_email or None
        out[f"{prefix}{token}.{second}"] = getattr(message, second) or None
    return out


def live_state(queue: tasks_v2.Queue) -> str:
    """``running``, ``paused`` or ``disabled`` (a queue.yaml upload's state)."""
    state = tasks_v2.Queue.State(queue.state)
    if state == tasks_v2.Queue.State.PAUSED:
        return STATE_PAUSED
    if state == tasks_v2.Queue.State.DISABLED:
        return "disabled"
    return STATE_RUNNING


def queue_to_spec_dict(
    queue: tasks_v2.Queue, project: str | None = None, location: str | None = None
) -> dict[str, Any]:
    """One ``queues:`` entry for a live queue: only what differs from the service defaults.

    ``project``/``location`` are the file's top-level values; a queue elsewhere gets its own
    keys. A DISABLED queue is written as ``paused`` (the closest state the API can set).
    """
    name = parse_queue_name(queue.name)
    entry: dict[str, Any] = {"name": name.queue}
    if name.project != project:
        entry["project"] = name.project
    if name.location != location:
        entry["location"] = name.location
    if live_state(queue) != STATE_RUNNING:
        entry["state"] = STATE_PAUSED
    leaves = queue_leaves(queue)
    for fdef in FIELDS:
        value = leaves[fdef.path]
        if value is None or (fdef.default is not None and values_equal(fdef, value, fdef.default)):
            continue
        node = entry
        *parents, leaf = fdef.path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = export_value(fdef, value)
    return entry


def export_queues(
    queues: Iterable[tasks_v2.Queue], project: str | None = None, location: str | None = None
) -> str:
    """YAML text in the ``queues.yaml`` format, deterministic: queues sorted by resource name."""
    ordered = sorted(queues, key=lambda q: str(q.name))
    document: dict[str, Any] = {}
    if project:
        document["project"] = project
    if location:
        document["location"] = location
    document["queues"] = [queue_to_spec_dict(q, project, location) for q in ordered]
    return dump_yaml(document)


def specs_to_yaml(specs: Iterable[QueueSpec], project: str | None, location: str | None) -> str:
    """Write specs (e.g. converted from App Engine queue.yaml) in the tasksctl format."""
    return export_queues([spec_to_queue(s, with_state=True) for s in specs], project, location)


class _Dumper(yaml.SafeDumper):
    """Indents list items under their key, as people write YAML by hand."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def dump_yaml(document: Any) -> str:
    return str(
        yaml.dump(
            document,
            Dumper=_Dumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=10_000,
        )
    )
