"""Run the real ``tasksctl`` command with a pseudo-terminal on stdin, to test prompts."""

from __future__ import annotations

import os
import pty
import subprocess
import sys


def answer_prompt_on_pty(args: list[str], answer: bytes, env: dict[str, str]) -> tuple[int, str]:
    """Run the real command with a terminal on stdin; type ``answer`` at the prompt."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tasksctl", *args],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        os.close(slave)
        slave = -1
        assert proc.stderr is not None
        prompt = b""
        while not prompt.endswith(b"?  "):
            chunk = proc.stderr.read1(4096)  # type: ignore[attr-defined]
            assert chunk, prompt
            prompt += chunk
        os.write(master, answer)
        rest = proc.stderr.read()
        proc.wait(30)
        return proc.returncode, (prompt + rest).decode()
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
