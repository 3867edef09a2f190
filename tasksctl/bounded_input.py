"""Read user files with a size cap and parse them without a RecursionError.

``apply -f /dev/zero`` once grew until killed and a 5,000-level nested JSON/YAML file or
``--filter`` ended in ``RecursionError`` (exit 1). Every file the CLI reads whole goes through
:func:`read_text` (at most ``limit`` bytes, else a usage error naming the file and the cap), and
every recursive parse runs inside :func:`nesting_guard` (one line, exit 2).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from tasksctl.errors import UsageError

MiB = 1024 * 1024
QUEUE_FILE_MAX_BYTES = 8 * MiB  # queues.yaml / apply -f: thousands of queues fit in far less
POLICY_MAX_BYTES = 1 * MiB  # an IAM policy is a few KB
IMPORT_MAX_BYTES = 256 * MiB  # tasks import: split bigger files (each task is at most 1 MB)


def _size_text(limit: int) -> str:
    return f"{limit // MiB} MiB" if limit >= MiB else f"{limit:,} bytes"


def read_text(
    path: str | Path,
    limit: int,
    what: str,
    stdin: IO[Any] | None = None,
    encoding: str = "utf-8",
    unreadable: str | None = None,
) -> str:
    """The text of ``path`` (``-`` = stdin), refusing more than ``limit`` bytes.

    OSError and decoding problems become one-line UsageErrors that name ``what``;
    ``unreadable`` replaces the ``Unable to read WHAT [PATH]`` start of the OSError message.
    """
    source = str(path)
    try:
        if source == "-":
            stream = stdin or sys.stdin
            raw = getattr(stream, "buffer", None)
            data = raw.read(limit + 1) if raw is not None else stream.read(limit + 1)
        else:
            with open(Path(source).expanduser(), "rb") as handle:
                data = handle.read(limit + 1)
    except OSError as exc:
        start = unreadable or f"Unable to read {what} [{source}]"
        raise UsageError(f"{start}: {exc.strerror or exc}.") from None
    if len(data) > limit:
        raise UsageError(
            f"{what} [{source}] is larger than {_size_text(limit)}; refusing to read it "
            "(is it the right file?)."
        )
    if isinstance(data, str):
        return data
    try:
        return bytes(data).decode(encoding)
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{what} [{source}] is not UTF-8 text: {exc.reason} at byte {exc.start}."
        ) from None


@contextmanager
def nesting_guard(what: str) -> Iterator[None]:
    """Turn a RecursionError from a recursive parser into a one-line usage error."""
    try:
        yield
    except RecursionError:
        raise UsageError(f"{what} is nested too deeply to be read.") from None
