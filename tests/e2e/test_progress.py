"""Long work shows a spinner on a terminal and stays quiet when piped (output facade)."""

from __future__ import annotations

import io
import os
import pty
import select
import time

from tasksctl.output import Output


def _drain(master: int, seconds: float) -> bytes:
    """Everything written to the terminal within ``seconds``."""
    seen = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            seen += os.read(master, 65536)
    return seen


def _read_until(master: int, needle: bytes, timeout: float = 10.0) -> bytes:
    """Read the terminal until ``needle`` was written (fails after ``timeout`` seconds)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"{needle!r} was not drawn: {seen!r}"
        ready, _, _ = select.select([master], [], [], left)
        if ready:
            seen += os.read(master, 65536)
    return seen


def test_spinner_draws_and_updates_on_a_terminal() -> None:
    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "w", closefd=False) as stream:
            out = Output(stderr=stream)
            assert out.interactive
            # Each text is awaited on the terminal while the spinner runs (no fixed sleeps).
            with out.spinner("Purging [us-central1/q]") as update:
                _read_until(master, b"Purging [us-central1/q]")
                update("Purging [us-central1/q]: 3 left")
                _read_until(master, b"3 left")
    finally:
        os.close(master)
        os.close(slave)


def test_spinner_is_silent_when_piped_or_silenced() -> None:
    piped = io.StringIO()
    out = Output(stderr=piped)
    assert not out.interactive
    with out.spinner("Starting the local engine") as update:
        update("still starting")
    assert piped.getvalue() == ""

    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "w", closefd=False) as stream:
            silent = Output("none", stderr=stream)
            assert not silent.interactive
            with silent.spinner("Starting the local engine"):
                pass
        assert _drain(master, 0.1) == b""
    finally:
        os.close(master)
        os.close(slave)


def test_purge_prints_only_its_status_line_when_piped(run_cli, unique: str) -> None:  # type: ignore[no-untyped-def]
    queue = f"purge-{unique}"
    assert run_cli("queues", "create", queue).returncode == 0
    result = run_cli("queues", "purge", queue, "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stderr == f"Purged queue [us-central1/{queue}].\n"
    assert result.stdout == ""
