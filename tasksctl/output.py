"""The one output facade: data on stdout, messages and prompts on stderr.

Every command writes through an :class:`Output`, so pipes stay clean (``tasksctl queues list
--format json | jq`` never sees a status line) and colour rules live in one place: colour only
on a terminal, never with ``NO_COLOR`` or ``TERM=dumb``. Streams are looked up when the object
is built, so ``typer.testing.CliRunner`` (which swaps ``sys.stdout``) sees everything.

Verbosity follows gcloud: ``debug < info < warning < error < critical < none``, default
``warning``. Status lines (``Created queue [...]``) are not log records: like gcloud they are
printed at every verbosity.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from tasksctl.errors import Aborted, UsageError

VERBOSITIES = ("debug", "info", "warning", "error", "critical", "none")
DEFAULT_VERBOSITY = "warning"

_RED = "\x1b[31;1m"
_YELLOW = "\x1b[33;1m"
_RESET = "\x1b[0m"


def terminal_width() -> int:
    """The width gcloud wraps prompts to: the first terminal among stdin, stdout, stderr and
    the controlling terminal (0 columns counts as 80), else ``$COLUMNS``, else 80."""
    for fd in (0, 1, 2):
        try:
            return os.get_terminal_size(fd).columns or 80
        except OSError:
            continue
    try:
        tty = os.open(os.ctermid(), os.O_RDONLY)
    except OSError:
        pass
    else:
        try:
            return os.get_terminal_size(tty).columns or 80
        except OSError:
            pass
        finally:
            os.close(tty)
    try:
        return int(os.environ.get("COLUMNS", "")) or 80
    except ValueError:
        return 80


def _wrap(text: str) -> str:
    import textwrap

    wrapper = textwrap.TextWrapper(
        width=terminal_width(),
        replace_whitespace=False,
        drop_whitespace=False,
        break_on_hyphens=False,
    )
    return "\n".join(wrapper.fill(line) for line in text.splitlines())


def _wants_color(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Output:
    """Writes data to stdout and everything else to stderr for one CLI invocation."""

    def __init__(
        self,
        verbosity: str = DEFAULT_VERBOSITY,
        *,
        quiet: bool = False,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        stdin: TextIO | None = None,
    ) -> None:
        if verbosity not in VERBOSITIES:
            raise UsageError(
                f"argument --verbosity: Invalid choice: '{verbosity}'.\n\n"
                f"Valid choices are [{', '.join(sorted(VERBOSITIES))}]."
            )
        self.verbosity = verbosity
        self.quiet = quiet
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.stdin = stdin or sys.stdin
        self.color = _wants_color(self.stderr)

    # -- data ------------------------------------------------------------------------------

    def data(self, text: str) -> None:
        """Write resource output to stdout (a trailing newline is added when missing)."""
        if not text:
            return
        self.stdout.write(text if text.endswith("\n") else text + "\n")
        self.stdout.flush()

    # -- messages --------------------------------------------------------------------------

    def status(self, message: str) -> None:
        """A status line on stderr, like gcloud's ``Created queue [us-central1/q].``."""
        self._err(message)

    def warning(self, message: str) -> None:
        if self._enabled("warning"):
            self._err(self._paint("WARNING:", _YELLOW) + " " + message)

    def info(self, message: str) -> None:
        if self._enabled("info"):
            self._err("INFO: " + message)

    def debug(self, message: str) -> None:
        if self._enabled("debug"):
            self._err("DEBUG: " + message)

    def error(self, command: str, message: str) -> None:
        """``ERROR: (tasksctl.queues.create) <message>``; shown at every verbosity but ``none``."""
        if self.verbosity == "none":
            return
        self._err(f"{self._paint('ERROR:', _RED)} ({command}) {message}")

    @property
    def debugging(self) -> bool:
        return self.verbosity == "debug"

    # -- progress --------------------------------------------------------------------------

    @property
    def interactive(self) -> bool:
        """True when stderr is a terminal and messages are not silenced: spinners may show."""
        isatty = getattr(self.stderr, "isatty", None)
        return bool(isatty and isatty()) and self.verbosity != "none"

    @contextmanager
    def spinner(self, message: str) -> Iterator[Callable[[str], None]]:
        """A rich spinner with ``message`` on stderr while the block runs; yields ``update(text)``.

        Off a terminal (pipes, CI logs) nothing is drawn and ``update`` does nothing, so long
        work stays quiet when piped.
        """
        if not self.interactive:
            yield lambda text: None
            return
        from rich.text import Text

        status = self.console(self.stderr).status(Text(message))
        status.start()
        try:
            yield lambda text: status.update(Text(text))
        finally:
            status.stop()

    def console(self, stream: TextIO | None = None, *, soft_wrap: bool = False) -> Any:
        """A rich Console on ``stream`` (default stdout) that follows the colour rules."""
        from rich.console import Console

        target = stream or self.stdout
        isatty = getattr(target, "isatty", None)
        color = _wants_color(target)
        return Console(
            file=target,
            force_terminal=bool(isatty and isatty()),
            no_color=not color,
            color_system="auto" if color else None,
            highlight=False,
            soft_wrap=soft_wrap,
        )

    # -- prompts ---------------------------------------------------------------------------

    def confirm(self, prompt: str, *, default: bool = True, message: str = "") -> None:
        """Ask ``<prompt> (Y/n)?`` on stderr; return to proceed, raise :class:`Aborted` on no.

        ``--quiet`` proceeds without asking, as in gcloud. Unlike gcloud (which proceeds when
        stdin is closed), a non-terminal stdin without ``--quiet`` fails with a hint instead
        of guessing: a destructive command in a script should say so explicitly.
        """
        if self.quiet:
            return
        isatty = getattr(self.stdin, "isatty", None)
        if not (isatty and isatty()):
            raise UsageError(
                "Cannot ask for confirmation because stdin is not a terminal; "
                "use --quiet to proceed without a prompt."
            )
        choices = "(Y/n)" if default else "(y/N)"
        # gcloud wraps the prompt to the terminal width (80 when unknown), keeping spaces, and
        # ends the line once an answer is read
        if message:
            self.stderr.write(_wrap(message) + "\n\n")
        self.stderr.write(_wrap(f"{prompt} {choices}?  "))
        try:
            while True:
                self.stderr.flush()
                line = self.stdin.readline()
                if not line:  # EOF (Ctrl-D) on a terminal: the user walked away
                    raise Aborted("Aborted by user.")
                answer = line.strip().lower()
                if not answer:
                    ok = default
                    break
                if answer in ("y", "yes"):
                    ok = True
                    break
                if answer in ("n", "no"):
                    ok = False
                    break
                self.stderr.write("Please enter 'y' or 'n':  ")
        finally:
            self.stderr.write("\n")
            self.stderr.flush()
        if not ok:
            raise Aborted("Aborted by user.")

    # -- helpers ---------------------------------------------------------------------------

    def _enabled(self, level: str) -> bool:
        return VERBOSITIES.index(level) >= VERBOSITIES.index(self.verbosity)

    def _paint(self, text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if self.color else text

    def _err(self, message: str) -> None:
        self.stderr.write(message + "\n")
        self.stderr.flush()
