#!/usr/bin/env python3
"""Write the bash, zsh and fish completion scripts for tasksctl into ``completions/``.

    python scripts/gen_completions.py            # regenerate completions/ from the live CLI
    python scripts/gen_completions.py --check    # exit 1 (with a diff summary) if they are stale

The scripts are static: they are rendered from the live command tree
(``typer.main.get_command(tasksctl.cli.app.app)``) by :mod:`tasksctl.shell_completion`, so a TAB
never starts Python. Output is deterministic (commands and options sorted) so ``--check`` is
stable. ``tests/e2e/test_completions.py`` runs the same comparison.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Render from this checkout even when another tasksctl is installed in the environment.
sys.path.insert(0, str(REPO))

from tasksctl.shell_completion import FILENAMES, SHELLS, live_tree, render  # noqa: E402

DIFF_LINES = 40


def expected(directory: Path) -> dict[Path, str]:
    """Each completion file under ``directory`` and the text it should hold."""
    tree = live_tree()
    return {directory / FILENAMES[shell]: render(shell, tree) for shell in SHELLS}


def _shown(path: Path) -> Path:
    return path.relative_to(REPO) if path.is_relative_to(REPO) else path


def stale(files: dict[Path, str]) -> dict[Path, list[str]]:
    """The files whose content differs from what the CLI renders now, with a unified diff."""
    found = {}
    for path, text in files.items():
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            rel = _shown(path)
            diff = difflib.unified_diff(
                current.splitlines(), text.splitlines(),
                f"{rel} (committed)", f"{rel} (from the live CLI)", lineterm="",
            )  # fmt: skip
            found[path] = list(diff)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--check", action="store_true",
        help="write nothing; exit 1 and summarise the differences if completions/ is out of date",
    )  # fmt: skip
    parser.add_argument(
        "--dir", type=Path, default=REPO / "completions",
        help="where the scripts live (default: completions/ in this repository)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    files = expected(args.dir.resolve())
    if args.check:
        differences = stale(files)
        for path, diff in differences.items():
            added = sum(1 for line in diff if line.startswith("+") and not line.startswith("+++"))
            removed = sum(1 for line in diff if line.startswith("-") and not line.startswith("---"))
            print(f"{_shown(path)} is out of date (+{added} -{removed} lines)")
            shown = diff[:DIFF_LINES]
            print("\n".join(shown) + ("\n..." if len(diff) > len(shown) else ""))
        if differences:
            print("Run: python scripts/gen_completions.py", file=sys.stderr)
            return 1
        print(f"{_shown(args.dir.resolve())}/ is up to date")
        return 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {_shown(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
