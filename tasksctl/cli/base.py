"""The CLI framework: global flags everywhere, injected ``Cli``/``ListFlags``, one error funnel.

- :class:`TasksctlTyper` is the ``typer.Typer`` every command group uses. Its ``command()`` and
  ``callback()`` add the global flags (see :mod:`tasksctl.cli.options`) to the root, each group
  and each command, so ``tasksctl --project p queues list`` and ``tasksctl queues list
  --project p`` mean the same; a parameter annotated ``Cli`` or ``ListFlags`` is filled in
  rather than shown as an option.
- :class:`TasksctlGroup` is the click group class. At the root its ``main()`` is the one error
  funnel (STYLE section 4): every ``TasksctlError``, Google API error and usage error from any
  command, including ones mounted from other modules, ends here as ``ERROR: (tasksctl.queues.
  create) <message>`` on stderr with the documented exit code; tracebacks only with
  ``--verbosity debug``. It runs inside the click invocation, so ``CliRunner`` sees it too.

A new command group is a module with its own ``TasksctlTyper``, mounted in ``app.py``::

    app = TasksctlTyper(help="Manage tasks.")

    @app.command("list")
    def list_(cli: Cli, flags: ListFlags, queue: QueueOption = None) -> None:
        '''List the tasks of a queue.'''
        parent = cli.queue_name(queue or "")
        pager = cli.client.list_tasks(request={"parent": str(parent),
                                              "page_size": flags.page_size or 25})
        cli.render(TASKS_TABLE).resources((message_to_dict(t) for t in pager), flags)
"""

from __future__ import annotations

import copy
import inspect
import sys
import traceback
import typing
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import typer
from typer.core import TyperCommand, TyperGroup

from tasksctl.cli import coercion
from tasksctl.cli import options as o
from tasksctl.cli.context import COMMAND_KEY, GLOBALS_KEY, Cli, command_id, record_globals
from tasksctl.errors import EXIT_ERROR, EXIT_USAGE, TasksctlError, UsageError
from tasksctl.output import DEFAULT_VERBOSITY, VERBOSITIES, Output
from tasksctl.render import ListFlags, parse_limit

# Click's exception classes, found through typer's public BadParameter so this works whether
# typer vendors click (typer >= 0.2x) or depends on it.
_CLICK_EXCEPTION: type[Exception] = next(
    k for k in typer.BadParameter.__mro__ if k.__name__ == "ClickException"
)

_GLOBAL_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    ("project", o.ProjectOption, None),
    ("location", o.LocationOption, None),
    ("backend", o.BackendOption, None),
    ("endpoint", o.EndpointOption, None),
    ("format", o.FormatOption, None),
    ("quiet", o.QuietOption, False),
    ("verbosity", o.VerbosityOption, None),
)
_LIST_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    ("filter", o.FilterOption, None),
    ("limit", o.LimitOption, None),
    ("page_size", o.PageSizeOption, None),
    ("sort_by", o.SortByOption, None),
    ("uri", o.UriOption, False),
)
F = TypeVar("F", bound=Callable[..., Any])

_GLOBAL_PREFIX = "tasksctl_global_"
_LIST_PREFIX = "tasksctl_list_"
_CTX_PARAM = "tasksctl_ctx"


def _keyword(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


def _list_flags(values: dict[str, Any]) -> ListFlags:
    sort_by = tuple(
        part.strip() for item in values["sort_by"] or () for part in item.split(",") if part.strip()
    )
    return ListFlags(
        filter=values["filter"],
        limit=parse_limit(values["limit"], "--limit"),
        page_size=parse_limit(values["page_size"], "--page-size", maximum=2**31 - 1),
        sort_by=sort_by,
        uri=bool(values["uri"]),
    )


def _hidden(annotation: Any) -> Any:
    """The same ``Annotated[type, typer.Option(...)]`` with the option hidden from help."""
    base, info = typing.get_args(annotation)
    info = copy.copy(info)
    info.hidden = True
    return typing.Annotated[base, info]


def with_globals(
    func: Callable[..., Any], *, location: bool = True, hidden: bool = False
) -> Callable[..., Any]:
    """Wrap a command or callback: add the global flags, inject ``Cli`` and ``ListFlags``.

    ``hidden`` keeps the global flags working but out of the help page (used on groups, whose
    help should list commands rather than repeat the flags shown on the root and commands).
    """
    signature = inspect.signature(func, eval_str=True)
    visible: list[inspect.Parameter] = []
    inject_cli: list[str] = []
    inject_list: list[str] = []
    ctx_name = None
    for param in signature.parameters.values():
        if param.annotation is Cli:
            inject_cli.append(param.name)
        elif param.annotation is ListFlags:
            inject_list.append(param.name)
        else:
            if isinstance(param.annotation, type) and issubclass(param.annotation, typer.Context):
                ctx_name = param.name
            visible.append(param)
    globals_ = [g for g in _GLOBAL_OPTIONS if location or g[0] != "location"]
    extra = [] if ctx_name else [_keyword(_CTX_PARAM, typer.Context, inspect.Parameter.empty)]
    if inject_list:
        extra += [_keyword(_LIST_PREFIX + n, a, d) for n, a, d in _LIST_OPTIONS]
    extra += [_keyword(_GLOBAL_PREFIX + n, _hidden(a) if hidden else a, d) for n, a, d in globals_]

    def wrapper(**kwargs: Any) -> Any:
        ctx = kwargs[ctx_name] if ctx_name else kwargs.pop(_CTX_PARAM)
        record_globals(ctx.meta, {n: kwargs.pop(_GLOBAL_PREFIX + n) for n, _, _ in globals_})
        if inject_list:
            flags = _list_flags({n: kwargs.pop(_LIST_PREFIX + n) for n, _, _ in _LIST_OPTIONS})
            kwargs.update({name: flags for name in inject_list})
        if inject_cli:
            cli = Cli.create(ctx.command_path, ctx.meta)
            kwargs.update({name: cli for name in inject_cli})
        return func(**kwargs)

    params = visible + extra
    # Keyword-only parameters must follow the others; keep the command's own order first.
    params.sort(key=lambda p: p.kind == inspect.Parameter.KEYWORD_ONLY)
    wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(wrapper, attr, getattr(func, attr))
    return wrapper


def _group_callback() -> None:
    """Default group callback: only carries the global flags."""


def format_flag_sections(command: Any, ctx: Any, formatter: Any) -> None:
    """Plain-text help (rich's help renderer costs ~60 ms of start-up): arguments, then the
    command's own flags grouped by panel, then list flags, then global flags last, like gcloud.
    """
    arguments: list[tuple[str, str]] = []
    sections: dict[str, list[tuple[str, str]]] = {}
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        if param.param_type_name == "argument":
            arguments.append(record)
        else:
            panel = getattr(param, "rich_help_panel", None) or "Flags"
            sections.setdefault(panel, []).append(record)
    if arguments:
        with formatter.section("Arguments"):
            formatter.write_dl(arguments)
    last = (o.LIST_PANEL, o.GLOBAL_PANEL)
    for name in sorted(sections, key=lambda n: last.index(n) + 1 if n in last else 0):
        with formatter.section(name):
            formatter.write_dl(sections[name])


class TasksctlCommand(TyperCommand):
    """Click command with gcloud-like plain help sections and direct value coercion."""

    def format_options(self, ctx: Any, formatter: Any) -> None:
        format_flag_sections(self, ctx, formatter)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        coercion.install(self.get_params(ctx))
        return list(super().parse_args(ctx, args))


class TasksctlGroup(TyperGroup):
    """Click group that records the command path and, at the root, funnels every error."""

    _tasksctl_meta: dict[str, Any]

    def format_options(self, ctx: Any, formatter: Any) -> None:
        format_flag_sections(self, ctx, formatter)
        self.format_commands(ctx, formatter)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        coercion.install(self.get_params(ctx))
        return list(super().parse_args(ctx, args))

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        ctx = super().make_context(info_name, args, parent=parent, **extra)
        if parent is None:
            self._tasksctl_meta = ctx.meta  # shared by every context of this invocation
        return ctx

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[Any, Any, list[str]]:
        name, cmd, rest = super().resolve_command(ctx, args)
        if cmd is not None:
            ctx.meta[COMMAND_KEY] = f"{ctx.command_path} {name}"
        return name, cmd, rest

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        self._tasksctl_meta = {}
        try:
            result = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
            code = result if type(result) is int else 0
        except SystemExit:
            raise
        except BaseException as exc:
            code = report_error(exc, self._tasksctl_meta, prog_name or self.name or "tasksctl")
        if not standalone_mode:
            return code
        sys.exit(code)


def report_error(exc: BaseException, meta: dict[str, Any], prog: str) -> int:
    """The funnel: print one ``ERROR: (command) message`` line; return the exit code."""
    if isinstance(exc, KeyboardInterrupt):
        return 130
    verbosity = meta.get(GLOBALS_KEY, {}).get("verbosity") or DEFAULT_VERBOSITY
    out = Output(verbosity if verbosity in VERBOSITIES else DEFAULT_VERBOSITY)
    command = command_id(meta.get(COMMAND_KEY) or prog)
    if isinstance(exc, _CLICK_EXCEPTION):
        return _report_click(exc, out, command)
    if isinstance(exc, typer.Abort):
        out.error(command, "Aborted by user.")
        return EXIT_ERROR
    error = exc if isinstance(exc, TasksctlError) else _translate(exc)
    if error is None:
        message = f"{type(exc).__name__}: {exc}"
        if not out.debugging:
            message += " (run with --verbosity debug for the traceback)"
        out.error(command, _one_line(message))
        code = EXIT_ERROR
    elif isinstance(error, UsageError):
        _report_lines(out, command, error.cli_message())
        code = error.exit_code
    else:
        out.error(command, _one_line(error.cli_message()))
        code = error.exit_code
    if out.debugging:
        traceback.print_exception(exc, file=out.stderr)
    return code


def _report_click(exc: Any, out: Output, command: str) -> int:
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError":
        message = exc.format_message()
        if message and message.strip():  # typer's plain (non-rich) mode returns the help text
            out.stderr.write(message.rstrip("\n") + "\n")
        return int(getattr(exc, "exit_code", EXIT_USAGE))
    if ctx is not None:
        command = command_id(ctx.command_path)
    _report_lines(out, command, _click_message(exc, ctx))
    return int(getattr(exc, "exit_code", EXIT_USAGE))


def _report_lines(out: Output, command: str, message: str) -> None:
    """``ERROR: (command) message`` on one line; text after a blank line follows as it is
    (gcloud's usage errors add ``Valid choices are [...]`` that way)."""
    first, blank, rest = str(message).partition("\n\n")
    out.error(command, first if "\n" not in first else _one_line(first))
    if blank and out.verbosity != "none":
        out.stderr.write("\n" + rest.rstrip("\n") + "\n")


def _param_name(param: Any) -> str:
    if param is None:
        return "?"
    if getattr(param, "param_type_name", "") == "argument":
        return str(getattr(param, "metavar", None) or str(param.name).upper())
    opts = sorted(getattr(param, "opts", []) or [], key=len, reverse=True)
    return str(opts[0]) if opts else str(param.name)


def _click_message(exc: Any, ctx: Any) -> str:
    """Click's parse errors in gcloud's (argparse's) words."""
    kind = type(exc).__name__
    param = getattr(exc, "param", None)
    if kind == "MissingParameter":
        return f"argument {_param_name(param)}: Must be specified."
    if kind == "NoSuchOption":
        return f"unrecognized arguments: {exc.option_name} "
    if kind == "NoSuchCommand" or (kind == "UsageError" and "No such command" in exc.message):
        word = str(exc.message).split("'")[1] if "'" in str(exc.message) else "?"
        return f"Invalid choice: '{word}'."
    if kind == "BadOptionUsage" and "requires an argument" in str(exc.message):
        return f"argument {exc.option_name}: expected one argument"
    if kind == "UsageError" and "unexpected extra argument" in str(exc.message):
        extra = str(exc.message).rsplit(" (", 1)[-1].rsplit(")", 1)[0]
        return f"unrecognized arguments: {extra} "
    if kind == "BadParameter" and param is not None:
        text = str(exc.message)
        for scalar, word in (("integer", "int"), ("float", "float")):
            if text.endswith(f" is not a valid {scalar}."):
                value = text[: -len(f" is not a valid {scalar}.")]
                return f"argument {_param_name(param)}: invalid {word} value: {value}"
        return f"argument {_param_name(param)}: {text}"
    return _one_line(exc.format_message())


def _translate(exc: BaseException) -> TasksctlError | None:
    module = type(exc).__module__ or ""
    if not module.startswith(("google", "grpc", "proto")):
        return None
    from tasksctl.errors import from_api_exception

    return from_api_exception(exc)


def _one_line(message: str) -> str:
    return " ".join(line.strip() for line in str(message).splitlines() if line.strip())


class TasksctlTyper(typer.Typer):
    """``typer.Typer`` whose commands and callbacks carry the global flags.

    ``location=False`` leaves ``--location`` out (gcloud has it only where a queue or a
    location is involved); ``root=True`` shows the global flags on the group's own help page.
    """

    def __init__(self, *, location: bool = True, root: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("cls", TasksctlGroup)
        kwargs.setdefault("no_args_is_help", True)
        kwargs.setdefault("add_completion", False)
        kwargs.setdefault("pretty_exceptions_enable", False)
        kwargs.setdefault("rich_markup_mode", None)
        kwargs.setdefault("context_settings", {"help_option_names": ["-h", "--help"]})
        super().__init__(**kwargs)
        self._tasksctl_location = location
        self._tasksctl_root = root
        self.callback()(_group_callback)

    def command(self, *args: Any, location: bool = True, **kwargs: Any) -> Callable[[F], F]:
        kwargs.setdefault("cls", TasksctlCommand)
        decorator = super().command(*args, **kwargs)
        use_location = location and self._tasksctl_location

        def register(func: F) -> F:
            decorator(with_globals(func, location=use_location))
            return func

        return register

    def callback(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        decorator = super().callback(*args, **kwargs)

        def register(func: F) -> F:
            decorator(
                with_globals(func, location=self._tasksctl_location, hidden=not self._tasksctl_root)
            )
            return func

        return register
