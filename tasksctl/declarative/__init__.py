"""Declarative queue management: make Cloud Tasks queues match a ``queues.yaml`` file.

Pipeline::

    load_file(path, project, location)        -> QueueFile      (spec.py, fields.py, appengine.py)
    fetch_current(client, queue_file.scope)   -> [Queue]        (apply.py, ListQueues)
    compute_plan(specs, current, prune=, scope=) -> Plan         (plan.py)
    render_plan.render_plan(plan, console, diff=)                (render_plan.py)
    apply_plan(client, plan, dry_run=)        -> ApplyResult    (apply.py)
    export_queues(queues, project, location)  -> str            (convert.py)
    json_schema()                             -> dict           (schema.py)

The printing helpers are imported from their module (``from tasksctl.declarative.render_plan
import render_plan``): a package attribute of that name would be the submodule. Other names are
re-exported lazily so ``import tasksctl.declarative`` stays cheap (the planner and the
converter import google-cloud-tasks).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SpecError": "tasksctl.declarative.yamlsrc",
    "QueueSpec": "tasksctl.declarative.spec",
    "QueueFile": "tasksctl.declarative.spec",
    "load_file": "tasksctl.declarative.spec",
    "load_text": "tasksctl.declarative.spec",
    "json_schema": "tasksctl.declarative.schema",
    "spec_to_queue": "tasksctl.declarative.convert",
    "queue_to_spec_dict": "tasksctl.declarative.convert",
    "export_queues": "tasksctl.declarative.convert",
    "specs_to_yaml": "tasksctl.declarative.convert",
    "Plan": "tasksctl.declarative.plan",
    "Action": "tasksctl.declarative.plan",
    "FieldChange": "tasksctl.declarative.plan",
    "compute_plan": "tasksctl.declarative.plan",
    "ApplyResult": "tasksctl.declarative.apply",
    "ApplyError": "tasksctl.declarative.apply",
    "apply_plan": "tasksctl.declarative.apply",
    "fetch_current": "tasksctl.declarative.apply",
    "plan_file": "tasksctl.declarative.apply",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
