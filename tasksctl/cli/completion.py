"""``tasksctl completion bash|zsh|fish``: print a static shell completion script.

The script is rendered on the fly from the installed command tree by
:mod:`tasksctl.shell_completion` (the same renderer that writes the repository's
``completions/`` files), so it always matches the installed version. Mount it in the root app
with ``app.add_typer(completion.app, name="completion", cls=TasksctlGroup)``.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Print a shell completion script for bash, zsh or fish.",
    no_args_is_help=True,
)


def _print(shell: str) -> None:
    # Lazy: rendering imports the whole command tree, which only this command needs.
    from tasksctl.output import Output
    from tasksctl.shell_completion import render

    Output().data(render(shell))


@app.command("bash")
def bash() -> None:
    """Print the bash completion script.

    Try it in this shell, or install it for your user:

    \b
      source <(tasksctl completion bash)
      tasksctl completion bash > ~/.local/share/bash-completion/completions/tasksctl
    """
    _print("bash")


@app.command("zsh")
def zsh() -> None:
    """Print the zsh completion script.

    Install it as _tasksctl in a directory on $fpath that ~/.zshrc adds before compinit:

    \b
      mkdir -p ~/.zfunc && tasksctl completion zsh > ~/.zfunc/_tasksctl
      # ~/.zshrc:  fpath=(~/.zfunc $fpath); autoload -Uz compinit; compinit
    """
    _print("zsh")


@app.command("fish")
def fish() -> None:
    """Print the fish completion script.

    Install it for your user:

    \b
      tasksctl completion fish > ~/.config/fish/completions/tasksctl.fish
    """
    _print("fish")
