"""The engine's data dir: created private (0700), its files kept private (0600).

Task headers (``Authorization: Bearer ...``) and bodies sit in the database and its WAL, so
neither the directory nor any file in it may be readable by other local users. The engine sets
``umask 077`` at start (files SQLite creates later, such as the WAL and SHM, are born 0600) and
tightens what an older version left behind.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tasksctl.errors import EngineUnavailable

DIR_MODE = 0o700
FILE_MODE = 0o600
PRIVATE_UMASK = 0o077


def ensure_data_dir(data_dir: Path) -> Path:
    """Create ``data_dir`` (0700) or check the existing one; a clear error when it cannot be."""
    data_dir = Path(data_dir)
    if data_dir.exists() and not data_dir.is_dir():
        raise EngineUnavailable(
            f"The data dir {data_dir} exists but is not a directory; move that file away "
            "or choose another data dir (--data-dir / TASKSCTL_DATA_DIR)."
        )
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    except FileExistsError:
        raise EngineUnavailable(
            f"Cannot create the data dir {data_dir}: a file is in the way of one of its "
            "parents; choose another data dir (--data-dir / TASKSCTL_DATA_DIR)."
        ) from None
    except OSError as exc:
        raise EngineUnavailable(
            f"Cannot create the data dir {data_dir}: {exc.strerror or exc}"
        ) from None
    return data_dir


def make_private(data_dir: Path) -> None:
    """chmod the data dir 0700 and every regular file directly in it 0600 (owned by us)."""
    data_dir = Path(data_dir)
    try:
        os.chmod(data_dir, DIR_MODE)
        entries = list(os.scandir(data_dir))
    except OSError:
        return
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) & 0o077:
                os.chmod(entry.path, FILE_MODE)
        except OSError:
            continue


def open_private_append(path: Path) -> int:
    """An O_APPEND file descriptor for ``path``, created 0600 (the daemon's log)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return fd
