"""Per-invocation state: the merged global flags, settings, output, client and command id.

A command asks for it by taking a parameter annotated ``Cli`` (injected by
:mod:`tasksctl.cli.base`, never shown as an option)::

    @app.command("describe")
    def describe(cli: Cli, queue: QueueArgument) -> None:
        name = cli.queue_name(queue)
        cli.render("yaml").resource(message_to_dict(cli.client.get_queue(name=str(name))))

Settings and the client are built on first use, so a command that fails on its input never
resolves settings or imports the Google client. List commands take a ``ListFlags`` parameter
(``--filter/--limit/--page-size/--sort-by/--uri``) and print with
``cli.render(DEFAULT_TABLE).resources(dicts, flags)``; destructive ones call
``cli.out.confirm(prompt)`` first; errors are raised (``tasksctl.errors``), never printed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from tasksctl.errors import TasksctlError, UsageError
from tasksctl.output import DEFAULT_VERBOSITY, Output

if TYPE_CHECKING:
    from tasksctl.render import Renderer
    from tasksctl.resources import LocationName, QueueName, TaskName
    from tasksctl.settings import Settings

GLOBALS_KEY = "tasksctl.globals"
COMMAND_KEY = "tasksctl.command"


@dataclass(frozen=True)
class GlobalFlags:
    """The global flags as given (None = not given), merged from root, group and command."""

    project: str | None = None
    location: str | None = None
    backend: str | None = None
    endpoint: str | None = None
    format: str | None = None
    quiet: bool = False
    verbosity: str | None = None

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> GlobalFlags:
        return cls(**meta.get(GLOBALS_KEY, {}))


def record_globals(meta: dict[str, Any], values: dict[str, Any]) -> None:
    """Merge flags given at one level; a deeper level (the command) wins over the root."""
    store = meta.setdefault(GLOBALS_KEY, {})
    for key, value in values.items():
        if value is not None and value is not False:
            store[key] = value


def command_id(command_path: str) -> str:
    """``tasksctl queues create`` -> ``tasksctl.queues.create`` (gcloud's error prefix)."""
    return ".".join(command_path.split())


@dataclass
class Cli:
    """What a command needs: settings, output, the API client, name helpers."""

    command: str
    flags: GlobalFlags
    out: Output

    @classmethod
    def create(cls, command_path: str, meta: dict[str, Any]) -> Cli:
        flags = GlobalFlags.from_meta(meta)
        out = Output(flags.verbosity or DEFAULT_VERBOSITY, quiet=flags.quiet)
        if flags.format:
            from tasksctl.projection import parse_format

            parse_format(flags.format)  # a bad --format fails before any request is made
        return cls(command=command_id(command_path), flags=flags, out=out)

    @cached_property
    def settings(self) -> Settings:
        from tasksctl.settings import Flags, resolve

        flags = self.flags
        return resolve(Flags(flags.project, flags.location, flags.backend, flags.endpoint))

    @cached_property
    def client(self) -> Any:
        """Google's ``CloudTasksClient`` for the chosen backend (built on first use)."""
        from tasksctl.client import build_client

        return build_client(self.settings, self.out)

    def render(self, default_format: str) -> Renderer:
        """A renderer for ``--format`` with this command's default (``yaml``, ``table(...)``)."""
        from tasksctl.render import Renderer

        return Renderer(self.out, self.flags.format, default_format)

    def print_resource(self, message: Any, default_format: str = "yaml") -> None:
        """Print one API message as the user asked (``describe`` defaults to YAML)."""
        from tasksctl.render import message_to_dict

        self.render(default_format).resource(message_to_dict(message))

    # -- names -----------------------------------------------------------------------------

    def location_name(self) -> LocationName:
        from tasksctl.resources import LOCATION_ID_RE, LocationName

        settings = self.settings
        project, location = settings.project, settings.location
        if not LOCATION_ID_RE.match(location):
            raise UsageError(f"Invalid location [{location}]: use a region such as us-central1.")
        return LocationName(project, location)

    def queue_name(self, queue: str) -> QueueName:
        """A queue given as a short ID (project/location from settings) or a full name."""
        from tasksctl.resources import QUEUE_ID_RE, QueueName, parse_queue_name

        queue = queue.strip()
        if "/" in queue:
            try:
                return parse_queue_name(queue)
            except TasksctlError:
                raise UsageError(
                    f"Invalid queue [{queue}]: use a queue ID (letters, digits and hyphens, "
                    "1-100 characters) or projects/PROJECT/locations/LOCATION/queues/QUEUE_ID."
                ) from None
        if not QUEUE_ID_RE.match(queue):
            raise UsageError(
                f"Invalid queue ID [{queue}]: use letters, digits and hyphens (1-100 characters)."
            )
        parent = self.location_name()
        return QueueName(parent.project, parent.location, queue)

    def task_name(self, task: str, queue: str | None) -> TaskName:
        """A task given as a full name, or as an ID with ``--queue`` (gcloud's ParseTask)."""
        from tasksctl.resources import TASK_ID_RE, TaskName, parse_task_name

        task = task.strip()
        if "/" in task:
            try:
                return parse_task_name(task)
            except TasksctlError:
                raise UsageError(
                    f"Invalid task [{task}]: use a task ID (letters, digits, hyphens and "
                    "underscores, 1-500 characters) or "
                    "projects/PROJECT/locations/LOCATION/queues/QUEUE_ID/tasks/TASK_ID."
                ) from None
        if not queue:
            # gcloud's FullTaskUnspecifiedError (a client error: exit 1)
            raise TasksctlError(
                "Must specify either the fully qualified task path or the queue flag."
            )
        if not TASK_ID_RE.match(task):
            raise UsageError(
                f"Invalid task ID [{task}]: use letters, digits, hyphens and underscores "
                "(1-500 characters)."
            )
        parent = self.queue_name(queue)
        return TaskName(parent.project, parent.location, parent.queue, task)
