"""The shell completion scripts in completions/: current with the live CLI, valid, and working.

Every expectation is derived from the live command tree, so the tests keep up as commands are
added. The scripts are exercised in the real shells: bash by calling the completion function with
COMP_WORDS set as readline would, fish with ``complete -C``, zsh through a pseudo-terminal
(``zsh/zpty``) with a real TAB. A shell that is not installed is skipped.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tasksctl.cli import completion as completion_cli
from tasksctl.shell_completion import FILENAMES, SHELLS, Command, live_tree, render

REPO = Path(__file__).resolve().parents[2]
COMPLETIONS = REPO / "completions"
GENERATOR = REPO / "scripts" / "gen_completions.py"
PROG = "tasksctl"

TREE = live_tree()
COMMANDS = TREE.walk()
GROUPS = [cmd for cmd in COMMANDS if cmd.is_group and cmd.subcommands]


def need(shell: str) -> str:
    path = shutil.which(shell)
    if path is None:
        pytest.skip(f"{shell} is not installed")
    return path


def line_for(cmd: Command, tail: str) -> str:
    """The command line ``tasksctl <path> <tail>`` with the cursor at its end."""
    return " ".join((PROG, *cmd.path, tail))


# -- drivers: one shell process answers many completion queries --------------------------------


def bash_words(line: str) -> list[str]:
    """COMP_WORDS as bash builds them: split at blanks, and at '=' (a COMP_WORDBREAKS char)."""
    words: list[str] = []
    for word in line.split(" "):
        words.extend(part for part in re.split(r"(=)", word) if part)
    if line.endswith(" "):
        words.append("")
    return words


def complete_bash(lines: Iterable[str], cwd: Path | None = None) -> dict[str, set[str]]:
    script = [f"source {shlex.quote(str(COMPLETIONS / FILENAMES['bash']))}"]
    lines = list(lines)
    for line in lines:
        words = bash_words(line)
        script += [
            f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})",
            f"COMP_CWORD={len(words) - 1}; COMP_LINE={shlex.quote(line)}; COMP_POINT={len(line)}",
            "COMPREPLY=(); _tasksctl",
            f"printf '%s\\n' {shlex.quote('@@Q ' + line)} \"${{COMPREPLY[@]}}\"",
        ]
    out = run([need("bash"), "--norc", "--noprofile", "-c", "\n".join(script)], cwd=cwd)
    return parse(out, lines)


def fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def complete_fish(lines: Iterable[str], cwd: Path | None = None) -> dict[str, set[str]]:
    script = [f"source {fish_quote(str(COMPLETIONS / FILENAMES['fish']))}"]
    lines = list(lines)
    for line in lines:
        script += [f"echo {fish_quote('@@Q ' + line)}", f"complete -C {fish_quote(line)}"]
    out = run([need("fish"), "--no-config", "-c", "\n".join(script)], cwd=cwd)
    # fish prints "candidate<TAB>description"; directories end with "/".
    return {k: {v.split("\t")[0].rstrip("/") for v in vs} for k, vs in parse(out, lines).items()}


# Runs an interactive zsh in a pseudo-terminal, types each line and a TAB, and reports every
# word the completion functions offer (compadd is wrapped to print them and add nothing, so no
# list or menu gets in the way). Arguments: the completion file to source (or a directory on
# $fpath holding it as _tasksctl), then the command lines.
ZSH_DRIVER = r"""
zmodload zsh/zpty || exit 90
zpty z zsh -f -i
if [[ -d $1 ]]; then load="fpath=(${(q)1} \$fpath) && autoload -Uz compinit && compinit -u -D"
else load="autoload -Uz compinit && compinit -u -D && source ${(q)1}"; fi
hook='compadd() { local -a h; builtin compadd -A h "$@"
  (( $#h )) && print -rl -- @@HIT@@${^h}; return 1; }'
zpty -w z "$load && $hook; PS1='@@P%%R@@'"
local out l
zpty -r z out '*@@P%R@@*' || exit 91
shift
for query in "$@"; do
  zpty -w -n z "$query"$'\t\x15'
  zpty -w z 'print -r -- @@EN""D@@'
  # Wait for the next prompt: text typed while no line editor reads it would meet the
  # terminal's line discipline, where ^U erases it.
  zpty -r z out '*@@END@@*@@P%R@@*' || exit 92
  print -r -- "@@Q $query"
  for l in ${(f)out}; do
    [[ $l == *'@@HIT@@'* ]] && print -r -- "${${l##*@@HIT@@}%%$'\r'*}"
  done
done
zpty -d z
"""


def complete_zsh(
    lines: Iterable[str], cwd: Path | None = None, load: Path = COMPLETIONS / FILENAMES["zsh"]
) -> dict[str, set[str]]:
    lines = list(lines)
    zsh = need("zsh")
    if subprocess.run([zsh, "-f", "-c", "zmodload zsh/zpty"], capture_output=True).returncode:
        pytest.skip("zsh has no zsh/zpty module to drive a terminal")
    out = run(
        [zsh, "-f", "-c", ZSH_DRIVER, "zsh", str(load), *lines],
        cwd=cwd, env_extra={"TERM": "xterm"},
    )  # fmt: skip
    return parse(out, lines)


def run(argv: list[str], cwd: Path | None = None, env_extra: dict[str, str] | None = None) -> str:
    import os

    env = {**os.environ, **(env_extra or {})}
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=cwd, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def parse(out: str, lines: list[str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    current: set[str] | None = None
    for row in out.splitlines():
        if row.startswith("@@Q "):
            current = found.setdefault(row[4:], set())
        elif current is not None and row:
            current.add(row)
    assert set(found) == set(lines), f"answers missing for {set(lines) - set(found)}"
    return found


COMPLETERS = {"bash": complete_bash, "zsh": complete_zsh, "fish": complete_fish}


# -- the files are current ---------------------------------------------------------------------


@pytest.mark.parametrize("shell", SHELLS)
def test_committed_script_matches_the_live_cli(shell: str) -> None:
    path = COMPLETIONS / FILENAMES[shell]
    assert path.exists(), f"{path} is missing: run python scripts/gen_completions.py"
    assert path.read_text(encoding="utf-8") == render(shell, TREE), (
        f"{path.relative_to(REPO)} is out of date with the CLI: "
        "run python scripts/gen_completions.py and commit completions/"
    )


def test_generator_check_mode_reports_stale_files(tmp_path: Path) -> None:
    def generate(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, str(GENERATOR), "--dir", str(tmp_path), *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    missing = generate("--check")
    assert missing.returncode == 1
    assert "tasksctl.bash is out of date" in missing.stdout
    assert generate().returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILENAMES.values())
    current = generate("--check")
    assert current.returncode == 0, current.stdout
    fish = tmp_path / FILENAMES["fish"]
    fish.write_text(fish.read_text().replace("complete -c tasksctl -f\n", ""))
    stale = generate("--check")
    assert stale.returncode == 1
    assert "tasksctl.fish is out of date (+1 -0 lines)" in stale.stdout
    assert "+complete -c tasksctl -f" in stale.stdout
    assert "tasksctl.bash" not in stale.stdout


def test_completion_command_prints_the_committed_scripts() -> None:
    runner = CliRunner()
    for shell in SHELLS:
        result = runner.invoke(completion_cli.app, [shell])
        assert result.exit_code == 0, result.output
        assert result.output == (COMPLETIONS / FILENAMES[shell]).read_text(encoding="utf-8")


def test_rendering_is_deterministic() -> None:
    again = live_tree()
    assert again == TREE
    for shell in SHELLS:
        assert render(shell, again) == render(shell, TREE)


# -- the scripts cover the tree -------------------------------------------------------------------


def test_tree_has_the_always_present_pieces() -> None:
    root_options = {name for opt in TREE.options for name in opt.all_names}
    assert {"--version", "--help", "-h"} <= root_options
    assert "engine" in {sub.name for sub in TREE.subcommands}


@pytest.mark.parametrize("shell", SHELLS)
def test_every_command_and_option_is_named_in_the_script(shell: str) -> None:
    text = (COMPLETIONS / FILENAMES[shell]).read_text(encoding="utf-8")
    for cmd in COMMANDS:
        for word in cmd.path:
            assert re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text), word
        for opt in cmd.options:
            for name in opt.all_names:
                if shell == "fish":  # complete ... -s h -l help
                    spelled = f"-l {name[2:]}" if name.startswith("--") else f"-s {name[1:]}"
                else:
                    spelled = name
                assert re.search(rf"(?<![\w-]){re.escape(spelled)}(?![\w-])", text), name


# -- the scripts are valid and complete in the real shells ------------------------------------


@pytest.mark.parametrize("shell", SHELLS)
def test_script_syntax(shell: str) -> None:
    run([need(shell), "-n", str(COMPLETIONS / FILENAMES[shell])])


@pytest.mark.parametrize("shell", SHELLS)
def test_shell_offers_every_subcommand_and_option(shell: str) -> None:
    queries = {line_for(cmd, ""): {s.name for s in cmd.subcommands} for cmd in GROUPS}
    for cmd in COMMANDS:
        queries[line_for(cmd, "-")] = {n for opt in cmd.options for n in opt.all_names}
    answers = COMPLETERS[shell](queries)
    for line, expected in queries.items():
        assert answers[line] == expected, line


@pytest.mark.parametrize("shell", SHELLS)
def test_shell_offers_option_choices(shell: str) -> None:
    # One query per distinct (option, choices) so the zsh pseudo-terminal stays quick.
    queries: dict[str, set[str]] = {}
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for cmd in COMMANDS:
        for opt in cmd.value_options():
            key = (opt.names[-1], opt.values.choices)
            if opt.values.kind == "choice" and key not in seen:
                seen.add(key)
                queries[line_for(cmd, opt.names[-1] + " ")] = set(opt.values.choices)
    if not queries:
        pytest.skip("no option with fixed choices in the CLI yet")
    answers = COMPLETERS[shell](queries)
    for line, expected in queries.items():
        assert answers[line] == expected, line


@pytest.mark.parametrize("shell", SHELLS)
def test_shell_completes_paths_after_path_options(shell: str, tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text("{}\n")
    (tmp_path / "data").mkdir()
    queries: dict[str, str] = {}
    for cmd in COMMANDS:
        for opt in cmd.value_options():
            if opt.values.kind in ("file", "dir"):
                queries.setdefault(line_for(cmd, opt.names[-1] + " "), opt.values.kind)
    if not queries:
        pytest.skip("no path option in the CLI yet")
    answers = COMPLETERS[shell](queries, cwd=tmp_path)
    for line, kind in queries.items():
        assert "data" in answers[line], line
        if kind == "file":
            assert "policy.yaml" in answers[line], line
        elif shell != "zsh":  # zsh's _files -/ falls back to all files when we add no match
            assert "policy.yaml" not in answers[line], line


def test_bash_handles_equals_and_option_values() -> None:
    group = next(g for g in GROUPS if len(g.path) == 1)
    leaf = next(cmd for cmd in COMMANDS if not cmd.is_group and cmd.options)
    choice = next(
        ((cmd, opt) for cmd in COMMANDS for opt in cmd.value_options() if opt.values.choices),
        None,
    )
    text_value = next(
        (
            (cmd, opt)
            for cmd in COMMANDS
            for opt in cmd.value_options()
            if opt.values.kind == "text"
        ),
        None,
    )
    queries = [line_for(leaf, "--")]
    if choice:
        queries.append(line_for(choice[0], f"{choice[1].names[-1]}="))
    if text_value:
        # The word after a value-taking option is its value, not a subcommand or an option.
        queries.append(line_for(text_value[0], f"{text_value[1].names[-1]} "))
    if text_value and not text_value[0].path:
        queries.append(line_for(TREE, f"{text_value[1].names[-1]} x {group.path[0]} "))
    answers = complete_bash(queries)
    assert answers[queries[0]] == {n for o in leaf.options for n in o.all_names if n[:2] == "--"}
    if choice:
        assert answers[queries[1]] == set(choice[1].values.choices)
    if text_value:
        assert answers[queries[2]] == set()
    if len(queries) > 3:
        assert answers[queries[3]] == {s.name for s in group.subcommands}


def test_zsh_autoloads_the_script_from_fpath(tmp_path: Path) -> None:
    shutil.copy(COMPLETIONS / FILENAMES["zsh"], tmp_path / f"_{PROG}")
    top = {sub.name for sub in TREE.subcommands}
    root_options = {n for opt in TREE.options for n in opt.all_names}
    answers = complete_zsh([f"{PROG} ", f"{PROG} -"], load=tmp_path)
    assert answers[f"{PROG} "] == top
    assert answers[f"{PROG} -"] == root_options


@pytest.mark.parametrize("shell", SHELLS)
def test_option_values_are_not_taken_for_subcommands(shell: str) -> None:
    # "tasksctl queues --project create <TAB>": "create" is the project, so the queues
    # subcommands are still offered. zsh only knows the options shown in help.
    queries: dict[str, set[str]] = {}
    for group in GROUPS:
        options = group.value_options() if shell == "zsh" else group.parsed_value_options()
        if options:
            value = group.subcommands[0].name
            line = line_for(group, f"{options[0].names[-1]} {value} ")
            queries[line] = {sub.name for sub in group.subcommands}
    if not queries:
        pytest.skip("no group takes an option with a value")
    answers = COMPLETERS[shell](queries)
    for line, expected in queries.items():
        assert answers[line] == expected, line
