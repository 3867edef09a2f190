"""A plain, shell-neutral model of the CLI's command tree, read from the live Click/Typer objects.

The completion renderers only ever see these frozen dataclasses, so the shape of Typer's parameter
objects (which changed between Typer releases: classic Click ``param.type`` versus Typer's own
``param.type_descriptor``) is handled in this one module, by duck typing, without importing Click.
"""

from __future__ import annotations

import enum
import inspect
import pathlib
import re
import typing
from dataclasses import dataclass
from typing import Any, Literal

ValueKind = Literal["text", "choice", "file", "dir"]

_HELP_LIMIT = 80
# A metavar such as "local|cloud" lists the accepted values.
_METAVAR_CHOICES = re.compile(r"[a-z0-9_.-]+(?:\|[a-z0-9_.-]+)+")
# Names or metavars such as POLICY_FILE, --body-file, --data-dir: complete paths for them even
# when the parameter is a plain string.
_FILE_NAME = re.compile(r"(?:^|[-_])(?:file|path|filename)$", re.IGNORECASE)
_DIR_NAME = re.compile(r"(?:^|[-_])(?:dir|directory)$", re.IGNORECASE)
# Rich console markup such as "[bold]" or "[/]" that Typer help strings may carry.
_RICH_TAG = re.compile(r"\[/?(?:bold|italic|dim|underline|strike|reverse|code|[a-z]+ on [a-z]+)?\]")


@dataclass(frozen=True)
class Values:
    """What a shell should offer for an option's or argument's value."""

    kind: ValueKind = "text"
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Option:
    """One option: its spellings, how many words it consumes and what those words are."""

    names: tuple[str, ...]
    """Spellings that set the option, short ones first, e.g. ``("-q", "--quiet")``."""
    negations: tuple[str, ...]
    """The ``--no-x`` spellings of a ``--x/--no-x`` boolean flag."""
    help: str
    nargs: int
    """Words that follow the option: 0 for flags."""
    values: Values
    repeatable: bool
    metavar: str

    @property
    def all_names(self) -> tuple[str, ...]:
        """Every spelling, positive and negative."""
        return self.names + self.negations


@dataclass(frozen=True)
class Argument:
    """One positional argument."""

    metavar: str
    values: Values
    nargs: int
    """Words taken: 1, or -1 for "all the rest"."""
    required: bool


@dataclass(frozen=True)
class Command:
    """A command or group with everything below it; ``path`` is ``()`` for the root."""

    path: tuple[str, ...]
    help: str
    options: tuple[Option, ...]
    arguments: tuple[Argument, ...]
    subcommands: tuple[Command, ...]
    is_group: bool
    hidden_options: tuple[Option, ...] = ()
    """Options left out of help (and so not offered), still parsed: walkers skip their values."""

    @property
    def name(self) -> str:
        """The last word of the path (empty for the root)."""
        return self.path[-1] if self.path else ""

    def walk(self) -> list[Command]:
        """This command and every command below it, depth first, in sorted order."""
        found = [self]
        for sub in self.subcommands:
            found.extend(sub.walk())
        return found

    def value_options(self) -> tuple[Option, ...]:
        """The visible options that consume at least one following word."""
        return tuple(opt for opt in self.options if opt.nargs > 0)

    def parsed_value_options(self) -> tuple[Option, ...]:
        """Every option that consumes words, hidden ones included."""
        hidden = tuple(opt for opt in self.hidden_options if opt.nargs > 0)
        return self.value_options() + hidden


def short_help(text: str | None) -> str:
    """The first sentence of a help text on one line, without Rich markup, at most 80 chars."""
    if not text:
        return ""
    text = inspect.cleandoc(text).partition("\f")[0]
    text = text.split("\n\n", 1)[0]
    text = " ".join(_RICH_TAG.sub("", text).split())
    match = re.search(r"(?<=[.!?])\s", text)
    if match:
        text = text[: match.start()]
    if len(text) > _HELP_LIMIT:
        text = text[: _HELP_LIMIT - 3].rsplit(" ", 1)[0].rstrip(",;:") + "..."
    return text


def _choice_text(choice: Any) -> str:
    if isinstance(choice, enum.Enum):
        return str(choice.value)
    return str(choice)


def _is_path_annotation(annotation: Any) -> bool:
    """``Path``, or ``list[Path]``/``tuple[Path, ...]`` which Typer's descriptor does not flag."""
    candidates = typing.get_args(annotation) if typing.get_origin(annotation) else (annotation,)
    return any(isinstance(c, type) and issubclass(c, pathlib.PurePath) for c in candidates)


def _values_of(param: Any) -> Values:
    """Read the value kind from Typer's type descriptor, or from a classic Click ``ParamType``."""
    desc = getattr(param, "type_descriptor", None)
    if desc is not None:
        choices = desc.choices
        if choices:
            return Values("choice", tuple(_choice_text(c) for c in choices))
        if desc.is_file:
            return Values("file")
        if desc.is_path or _is_path_annotation(desc.annotation):
            info = desc.parameter_info
            dir_only = bool(info.dir_okay and not info.file_okay)
            return Values("dir" if dir_only else "file")
        return Values()
    ptype = getattr(param, "type", None)
    choices = getattr(ptype, "choices", None)
    if choices:
        return Values("choice", tuple(_choice_text(c) for c in choices))
    if ptype is not None and hasattr(ptype, "file_okay") and hasattr(ptype, "dir_okay"):
        return Values("dir" if ptype.dir_okay and not ptype.file_okay else "file")
    if type(ptype).__name__ == "File":
        return Values("file")
    return Values()


def _refine(values: Values, metavar: str, names: list[str]) -> Values:
    """Guess more than "free text" from a metavar or a name when the type says nothing."""
    if values.kind == "choice":
        return values
    if values.kind == "text" and _METAVAR_CHOICES.fullmatch(metavar):
        return Values("choice", tuple(metavar.split("|")))
    stems = [metavar, *(name.lstrip("-") for name in names)]
    if any(_DIR_NAME.search(stem) for stem in stems):
        return Values("dir")
    if values.kind == "text" and any(_FILE_NAME.search(stem) for stem in stems):
        return Values("file")
    return values


def _option(param: Any) -> Option:
    takes_value = not (getattr(param, "is_flag", False) or getattr(param, "count", False))
    nargs = max(int(param.nargs), 1) if takes_value else 0
    spellings = [*param.opts, *param.secondary_opts]
    name = param.metavar or max(spellings, key=len).lstrip("-") or "value"
    return Option(
        names=tuple(sorted(param.opts, key=lambda o: (o.startswith("--"), o))),
        negations=tuple(sorted(param.secondary_opts)),
        help=short_help(param.help),
        nargs=nargs,
        values=_refine(_values_of(param), name, spellings) if takes_value else Values(),
        repeatable=bool(getattr(param, "multiple", False) or getattr(param, "count", False)),
        metavar=name.lower(),
    )


def _argument(param: Any) -> Argument:
    name = param.metavar or (param.name or "arg").upper()
    return Argument(
        metavar=name,
        values=_refine(_values_of(param), name, [param.name or ""]),
        nargs=int(param.nargs),
        required=bool(param.required),
    )


def _option_key(opt: Option) -> str:
    return (opt.names or opt.negations)[-1].lstrip("-")


def _make_context(cmd: Any, name: str, parent: Any) -> Any:
    # Mirrors Command.make_context without parsing anything: the context only serves to resolve
    # inherited settings such as help_option_names ("-h/--help" set on the root app).
    return cmd.context_class(cmd, info_name=name, parent=parent, **dict(cmd.context_settings))


def _build(cmd: Any, path: tuple[str, ...], parent_ctx: Any) -> Command:
    ctx = _make_context(cmd, path[-1] if path else "", parent_ctx)
    options: list[Option] = []
    hidden: list[Option] = []
    arguments: list[Argument] = []
    for param in cmd.get_params(ctx):
        if getattr(param, "param_type_name", "") == "argument":
            arguments.append(_argument(param))  # a hidden argument still takes its position
        elif param.opts or param.secondary_opts:
            (hidden if getattr(param, "hidden", False) else options).append(_option(param))
    options.sort(key=_option_key)
    hidden.sort(key=_option_key)

    subcommands: list[Command] = []
    is_group = hasattr(cmd, "list_commands")
    if is_group:
        for sub_name in sorted(cmd.list_commands(ctx)):
            sub = cmd.get_command(ctx, sub_name)
            if sub is None or getattr(sub, "hidden", False):
                continue
            subcommands.append(_build(sub, (*path, sub_name), ctx))
    return Command(
        path=path,
        help=short_help(cmd.get_short_help_str(limit=_HELP_LIMIT) or cmd.help),
        options=tuple(options),
        arguments=tuple(arguments),
        subcommands=tuple(subcommands),
        is_group=is_group,
        hidden_options=tuple(hidden),
    )


def build_tree(root: Any) -> Command:
    """Model the Click command ``root`` (e.g. ``typer.main.get_command(app)``) and its subtree."""
    return _build(root, (), None)
