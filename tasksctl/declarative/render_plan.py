"""A plan as text, terraform-style; coloured on a terminal, plain when piped or NO_COLOR.

::

    + create queue email
    ~ update queue reports: rate_limits.max_dispatches_per_second 500 → 10
    ~ pause queue reports
    - delete queue old
    Plan: 1 to create, 1 to update, 1 to pause, 0 to resume, 1 to delete.

With ``diff=True`` each action is followed by its field-level changes, one per line, and the
update mask it will send.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.text import Text

from tasksctl.declarative.apply import ApplyResult
from tasksctl.declarative.plan import (
    CREATE,
    DELETE,
    PAST_TENSE,
    PAUSE,
    RESUME,
    UPDATE,
    Action,
    Plan,
)
from tasksctl.resources import parse_queue_name

_SIGN = {CREATE: "+", UPDATE: "~", PAUSE: "~", RESUME: "~", DELETE: "-"}
_STYLE = {CREATE: "green", UPDATE: "yellow", PAUSE: "cyan", RESUME: "cyan", DELETE: "red"}


def render_plan(plan: Plan, console: Console, *, diff: bool = False) -> None:
    """Print the plan (and its summary line) on ``console``."""
    arrow = _arrow(console)
    for line in plan_lines(plan, diff=diff, arrow=arrow):
        console.print(line, highlight=False, soft_wrap=True)


def render_result(result: ApplyResult, console: Console) -> None:
    """Print the one-line outcome of an apply."""
    style = "bold green" if result.completed else ""
    console.print(Text(result.summary(), style=style), highlight=False, soft_wrap=True)


def action_message(action: Action) -> str:
    """gcloud-style confirmation of one completed RPC: ``Created queue [NAME].``"""
    return f"{PAST_TENSE[action.kind]} queue [{action.name}]."


def plan_lines(plan: Plan, *, diff: bool = False, arrow: str = "→") -> list[Text]:
    """The plan as styled lines (plain ``str(line)`` gives the text)."""
    label = _labeller(plan)
    lines: list[Text] = []
    for action in plan.actions:
        lines.append(_headline(action, label(action), diff, arrow))
        if diff:
            lines.extend(_details(action, arrow))
    lines.append(Text(plan.summary(), style="bold" if plan.has_changes else ""))
    return lines


def _headline(action: Action, name: str, diff: bool, arrow: str) -> Text:
    style = _STYLE[action.kind]
    text = Text(f"{_SIGN[action.kind]} {action.kind} queue ", style=style)
    text.append(name, style=f"bold {style}")
    if action.kind == UPDATE and not diff:
        parts = [f"{c.path} {c.old_text} {arrow} {c.new_text}" for c in action.changes]
        text.append(": " + ", ".join(parts))
    return text


def _details(action: Action, arrow: str) -> list[Text]:
    style = _STYLE[action.kind]
    lines = []
    if action.kind == CREATE:
        for change in action.changes:
            lines.append(Text(f"    + {change.path}: {change.new_text}", style=style))
    elif action.kind in (UPDATE, PAUSE, RESUME):
        for change in action.changes:
            line = Text(f"    ~ {change.path}: ")
            line.append(change.old_text, style="red")
            line.append(f" {arrow} ")
            line.append(change.new_text, style="green")
            if change.reset and change.new is not None:
                line.append(" (default)", style="dim")
            lines.append(line)
        if action.kind == UPDATE:
            lines.append(Text(f"      update_mask: {','.join(action.update_mask)}", style="dim"))
    return lines


def _labeller(plan: Plan) -> Callable[[Action], str]:
    pairs = {action.project_location for action in plan.actions}
    projects = {project for project, _ in pairs}

    def label(action: Action) -> str:
        if len(pairs) <= 1:
            return action.queue_id
        if len(projects) == 1:
            parsed = parse_queue_name(action.name)
            return parsed.short
        return action.name

    return label


def _arrow(console: Console) -> str:
    return "→" if (console.encoding or "").lower().startswith("utf") else "->"
