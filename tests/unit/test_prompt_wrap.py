"""Confirmation prompts laid out like gcloud's console_io.PromptContinue."""

from __future__ import annotations

import io

import pytest

from tasksctl import output
from tasksctl.output import Output


class TerminalIO(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_prompt_wraps_at_the_width_keeps_spaces_and_ends_the_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(output, "terminal_width", lambda: 40)
    err = io.StringIO()
    Output(stdin=TerminalIO("y\n"), stderr=err).confirm(
        "Are you sure you want to purge: [us-central1/queue-with-a-long-name]"
    )
    assert err.getvalue() == (
        "Are you sure you want to purge: \n[us-central1/queue-with-a-long-name] \n(Y/n)?  \n"
    )


def test_a_message_comes_first_with_a_blank_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output, "terminal_width", lambda: 80)
    err = io.StringIO()
    Output(stdin=TerminalIO("\n"), stderr=err).confirm(
        "Replace existing policy", message="No etag."
    )
    assert err.getvalue() == "No etag.\n\nReplace existing policy (Y/n)?  \n"


def test_width_without_any_terminal_is_columns_or_80(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_terminal(fd: int) -> None:
        raise OSError

    monkeypatch.setattr(output.os, "get_terminal_size", no_terminal)
    monkeypatch.setattr(output.os, "ctermid", lambda: "/nonexistent/tty")
    monkeypatch.delenv("COLUMNS", raising=False)
    assert output.terminal_width() == 80
    monkeypatch.setenv("COLUMNS", "120")
    assert output.terminal_width() == 120
