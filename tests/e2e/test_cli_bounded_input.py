"""Issue 14.6: files are read with a size cap and deep nesting is one clear line (exit 2),
never a RecursionError or a process that grows until killed; a malformed CSV row is rejected
instead of being imported with its cells run together."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

DEPTH = 5000


def _one_line_usage_error(result: Any) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr[-500:])
    assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_apply_dev_zero_stops_at_the_cap(run_cli: Any) -> None:
    line = _one_line_usage_error(run_cli("apply", "-f", "/dev/zero", timeout=60))
    assert "larger than" in line


def test_import_and_policy_from_dev_zero_stop_at_the_cap(run_cli: Any, unique: str) -> None:
    assert run_cli("queues", "create", f"b-{unique}").returncode == 0
    imported = run_cli(
        "tasks", "import", "/dev/zero", "--input-format", "jsonl", "--queue", f"b-{unique}",
        timeout=120,
    )  # fmt: skip
    assert "larger than" in _one_line_usage_error(imported)
    policy = run_cli("queues", "set-iam-policy", f"b-{unique}", "/dev/zero", timeout=60)
    assert "larger than" in _one_line_usage_error(policy)


def test_deep_filter_is_a_usage_error(run_cli: Any) -> None:
    deep = "(" * DEPTH + "name:x" + ")" * DEPTH
    line = _one_line_usage_error(run_cli("queues", "list", "--filter", deep))
    assert "nested too deeply" in line
    negated = _one_line_usage_error(run_cli("queues", "list", "--filter", "NOT " * DEPTH + "x"))
    assert "nested too deeply" in negated


def _deep_json() -> str:
    return "[" * DEPTH + "]" * DEPTH


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("deep.json", _deep_json()),
        ("deep.jsonl", '{"url": ' + _deep_json() + "}\n"),
        ("deep.yaml", "[" * DEPTH + "]" * DEPTH + "\n"),
        ("deep-block.yaml", "".join("  " * i + "- \n" for i in range(DEPTH))),
    ],
)
def test_deep_import_files_are_usage_errors(
    run_cli: Any, unique: str, tmp_path: Path, name: str, text: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert run_cli("queues", "create", f"d-{unique}").returncode == 0
    result = run_cli("tasks", "import", str(path), "--queue", f"d-{unique}")
    assert "nested too deeply" in _one_line_usage_error(result)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("deep-policy.json", '{"bindings": ' + _deep_json() + "}"),
        ("deep-policy.yaml", "bindings: " + "[" * DEPTH + "]" * DEPTH + "\n"),
    ],
)
def test_deep_policy_is_a_usage_error(
    run_cli: Any, unique: str, tmp_path: Path, name: str, text: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert run_cli("queues", "create", f"p-{unique}").returncode == 0
    result = run_cli("queues", "set-iam-policy", f"p-{unique}", str(path))
    assert "nested too deeply" in _one_line_usage_error(result)


def test_deep_queues_file_is_a_usage_error(run_cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "queues.yaml"
    path.write_text("queues: " + "[" * DEPTH + "]" * DEPTH + "\n")
    result = run_cli("apply", "-f", str(path))
    assert "nested too deeply" in _one_line_usage_error(result)


def test_malformed_csv_row_goes_to_the_rejects_file(
    run_cli: Any, unique: str, tmp_path: Path
) -> None:
    queue = f"csv-{unique}"
    assert run_cli("queues", "create", queue).returncode == 0
    path = tmp_path / "tasks.csv"
    path.write_text(
        "url,body\n"
        "http://127.0.0.1:9/good,fine\n"
        'http://127.0.0.1:9/bad,"a "quoted" word"\n'
        "http://127.0.0.1:9/also-good,ok\n"
    )
    result = run_cli("tasks", "import", str(path), "--queue", queue)
    assert result.returncode == 1, result.stderr  # one row failed
    listed = run_cli("tasks", "list", "--queue", queue, "--format", "json(httpRequest.url)")
    assert "/bad" not in listed.stdout
    assert "/good" in listed.stdout and "/also-good" in listed.stdout
    with open(tmp_path / "tasks.rejects.csv", newline="") as handle:
        (rejected,) = list(csv.DictReader(handle))
    assert "malformed CSV row" in rejected["error"]
    assert rejected["raw"] == 'http://127.0.0.1:9/bad,"a "quoted" word"'
