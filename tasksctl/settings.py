"""Project, location, backend and endpoint resolution, and the config file.

Precedence for every setting: command-line flag > ``TASKSCTL_*`` environment variable > config
file > default. The config file is ``config.toml`` in :func:`tasksctl.constants.default_config_dir`
(``$TASKSCTL_CONFIG_DIR`` or ``$XDG_CONFIG_HOME/tasksctl``), a flat TOML table written by
``tasksctl config set KEY VALUE``::

    project = "my-project"
    location = "europe-west1"
    backend = "cloud"
    autostart = false

Backends:

- ``local`` (default): the bundled engine at ``engine_host:engine_port``; project and location
  default to ``local-project`` / ``us-central1`` so it works with no setup.
- ``cloud``: Cloud Tasks with Application Default Credentials; project and location required.
- an endpoint (``--endpoint``, ``TASKSCTL_ENDPOINT`` or Firebase's ``CLOUD_TASKS_EMULATOR_HOST``)
  overrides the backend: any emulator over insecure gRPC, with the local defaults.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasksctl import constants as c
from tasksctl.errors import ConfigError, UsageError

CONFIG_FILE_NAME = "config.toml"

_TRUE = ("1", "true", "yes", "on", "y", "t")
_FALSE = ("0", "false", "no", "off", "n", "f", "")
_HOST_PORT_RE = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")


def parse_bool(text: str, key: str) -> bool:
    value = str(text).strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise UsageError(f"Invalid value for [{key}]: {text!r} is not a boolean (use true or false).")


def parse_port(text: str, key: str) -> int:
    try:
        port = int(str(text).strip())
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise UsageError(f"Invalid value for [{key}]: {text!r} is not a port number (1-65535).")
    return port


def parse_endpoint(text: str, key: str = "endpoint") -> str:
    value = str(text).strip()
    for prefix in ("http://", "grpc://"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    value = value.rstrip("/")
    match = _HOST_PORT_RE.match(value)
    if not match or not 1 <= int(match.group(2)) <= 65535:
        raise UsageError(f"Invalid value for [{key}]: {text!r} is not HOST:PORT.")
    return value


def parse_backend(text: str, key: str = "backend") -> str:
    value = str(text).strip().lower()
    if value not in c.BACKENDS:
        raise UsageError(
            f"Invalid value for [{key}]: {text!r} (choose from {', '.join(c.BACKENDS)})."
        )
    return value


def _parse_project(text: str, key: str = "project") -> str:
    value = str(text).strip()
    if value.isdigit():
        raise UsageError(
            f"Invalid value for [{key}]: {value!r} is a project number; use the project ID."
        )
    from tasksctl.resources import PROJECT_ID_RE

    if not PROJECT_ID_RE.match(value):
        raise UsageError(f"Invalid value for [{key}]: {value!r} is not a project ID.")
    return value


def _parse_location(text: str, key: str = "location") -> str:
    from tasksctl.resources import LOCATION_ID_RE

    value = str(text).strip()
    if not LOCATION_ID_RE.match(value):
        raise UsageError(
            f"Invalid value for [{key}]: {value!r} is not a location such as us-central1."
        )
    return value


def _identity(text: str, key: str) -> str:
    return str(text).strip()


@dataclass(frozen=True)
class Property:
    """A config key: its parser and what it means (shown by ``config list --all``)."""

    name: str
    parse: Callable[[str, str], Any]
    help: str
    env: tuple[str, ...] = ()


PROPERTIES: dict[str, Property] = {
    p.name: p
    for p in (
        Property(
            "project", _parse_project, "Project ID for queue and task names.", (c.ENV_PROJECT,)
        ),
        Property(
            "location",
            _parse_location,
            "Location (region) of queues, e.g. us-central1.",
            (c.ENV_LOCATION,),
        ),
        Property(
            "backend", parse_backend, "local (bundled engine, default) or cloud.", (c.ENV_BACKEND,)
        ),
        Property(
            "endpoint",
            parse_endpoint,
            "HOST:PORT of an emulator (insecure gRPC).",
            (c.ENV_ENDPOINT, c.ENV_EMULATOR_HOST),
        ),
        Property(
            "engine_host", _identity, "Address the local engine listens on.", (c.ENV_ENGINE_HOST,)
        ),
        Property("engine_port", parse_port, "gRPC port of the local engine.", (c.ENV_ENGINE_PORT,)),
        Property(
            "engine_http_port",
            parse_port,
            "HTTP side port of the local engine.",
            (c.ENV_ENGINE_HTTP_PORT,),
        ),
        Property("data_dir", _identity, "Data directory of the local engine.", (c.ENV_DATA_DIR,)),
        Property("autostart", parse_bool, "Start the local engine when it is not running.", ()),
    )
}


# ---------------------------------------------------------------------------------------------
# Config file


def config_path() -> Path:
    return c.default_config_dir() / CONFIG_FILE_NAME


def load_config(path: Path | None = None) -> dict[str, Any]:
    """Read the config file; a missing file is an empty config."""
    path = path or config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"Cannot read the config file {path}: {exc.strerror}.") from None
    import tomllib

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"The config file {path} is not valid TOML: {exc}.") from None
    return {key: value for key, value in data.items() if not isinstance(value, dict)}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def save_config(values: Mapping[str, Any], path: Path | None = None) -> Path:
    """Write the config file atomically (temp file + rename)."""
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# tasksctl configuration; edit with `tasksctl config set|unset KEY`."]
    lines += [f"{key} = {_toml_value(values[key])}" for key in sorted(values)]
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def validate_property(key: str, value: str) -> Any:
    """Parse a ``config set`` value; unknown keys are a usage error naming the valid ones."""
    prop = PROPERTIES.get(key)
    if prop is None:
        raise UsageError(f"Unknown property [{key}]; valid properties: {', '.join(PROPERTIES)}.")
    return prop.parse(value, key)


# ---------------------------------------------------------------------------------------------
# Resolution


@dataclass(frozen=True)
class Flags:
    """Values given on the command line (None = not given)."""

    project: str | None = None
    location: str | None = None
    backend: str | None = None
    endpoint: str | None = None


@dataclass(frozen=True)
class Settings:
    """Resolved settings for one invocation; ``sources`` says where each value came from."""

    backend: str
    endpoint: str | None
    project_value: str | None
    location_value: str | None
    engine_host: str
    engine_port: int
    engine_http_port: int
    data_dir: Path
    autostart: bool
    sources: dict[str, str] = field(default_factory=dict)
    # Base URL of the engine's HTTP side port; None on the cloud backend (see engine_http_url).
    engine_http: str | None = None

    @property
    def uses_local_defaults(self) -> bool:
        return self.endpoint is not None or self.backend == c.BACKEND_LOCAL

    @property
    def project(self) -> str:
        """The project ID; a one-line :class:`ConfigError` with how to set it when missing."""
        if self.project_value:
            return self.project_value
        raise ConfigError(
            "The required property [project] is not set for the cloud backend; "
            f"use --project, set {c.ENV_PROJECT}, or run `tasksctl config set project VALUE`."
        )

    @property
    def location(self) -> str:
        if self.location_value:
            return self.location_value
        raise ConfigError(
            "The required property [location] is not set for the cloud backend; "
            f"use --location, set {c.ENV_LOCATION}, or run `tasksctl config set location VALUE`."
        )

    @property
    def engine_address(self) -> str:
        return f"{self.engine_host}:{self.engine_port}"


@dataclass(frozen=True)
class EngineSettings:
    """Where the local engine listens and keeps its data: the ``engine`` group's settings.

    Resolved alone (``resolve_engine``) so that ``tasksctl engine ...`` works whatever the
    project/backend settings say; :func:`resolve` uses the same values.
    """

    host: str
    port: int
    http_port: int
    data_dir: Path
    sources: dict[str, str] = field(default_factory=dict)


def _lookup(
    name: str, flag: str | None, env: Mapping[str, str], config: Mapping[str, Any]
) -> tuple[Any, str]:
    """(value, source) following flag > env > config; (None, "") when unset."""
    prop = PROPERTIES[name]
    if flag is not None and str(flag).strip() != "":
        return prop.parse(flag, f"--{name}"), "flag"
    for var in prop.env:
        if env.get(var, "").strip():
            return prop.parse(env[var], var), f"env {var}"
    if name in config and str(config[name]).strip() != "":
        return prop.parse(
            str(config[name])
            if not isinstance(config[name], bool)
            else ("true" if config[name] else "false"),
            name,
        ), "config"
    return None, ""


def parse_http_url(text: str, key: str) -> str:
    """An ``http(s)://HOST:PORT`` base URL (no trailing slash)."""
    value = str(text).strip().rstrip("/")
    if not re.match(r"^https?://[^/\s]+$", value):
        raise UsageError(f"Invalid value for [{key}]: {text!r} is not a URL like http://HOST:PORT.")
    return value


def engine_http_url(
    env: Mapping[str, str], backend: str, endpoint: str | None, host: str, http_port: int
) -> tuple[str | None, str]:
    """The engine's side-port URL and where it came from.

    The cloud backend has none (None). Otherwise ``TASKSCTL_ENGINE_HTTP`` wins, then the local
    engine's ``engine_host:engine_http_port``, or, with an endpoint, that endpoint's host on
    ``engine_http_port`` (a tasksctl engine pointed at by ``engine env-init``).
    """
    if endpoint is None and backend != c.BACKEND_LOCAL:
        return None, ""
    explicit = env.get(c.ENV_ENGINE_HTTP, "").strip()
    if explicit:
        return parse_http_url(explicit, c.ENV_ENGINE_HTTP), f"env {c.ENV_ENGINE_HTTP}"
    if endpoint is not None:
        host = endpoint.rpartition(":")[0]
    return f"http://{host}:{http_port}", "default"


def resolve_engine(
    env: Mapping[str, str] | None = None, config: Mapping[str, Any] | None = None
) -> EngineSettings:
    """engine_host, engine_port, engine_http_port and data_dir (env > config > default)."""
    env = os.environ if env is None else env
    config = load_config() if config is None else config
    sources: dict[str, str] = {}

    def get(name: str) -> Any:
        value, source = _lookup(name, None, env, config)
        if source:
            sources[name] = source
        return value

    data_dir = get("data_dir")
    return EngineSettings(
        host=get("engine_host") or c.DEFAULT_ENGINE_HOST,
        port=get("engine_port") or c.DEFAULT_GRPC_PORT,
        http_port=get("engine_http_port") or c.DEFAULT_HTTP_PORT,
        data_dir=Path(data_dir).expanduser() if data_dir else c.default_data_dir(),
        sources=sources,
    )


def resolve(
    flags: Flags | None = None,
    env: Mapping[str, str] | None = None,
    config: Mapping[str, Any] | None = None,
) -> Settings:
    """Resolve every setting; pass ``env``/``config`` explicitly in tests."""
    flags = flags or Flags()
    env = os.environ if env is None else env
    config = load_config() if config is None else config
    sources: dict[str, str] = {}

    def get(name: str, flag: str | None = None) -> Any:
        value, source = _lookup(name, flag, env, config)
        if source:
            sources[name] = source
        return value

    backend = get("backend", flags.backend) or c.BACKEND_LOCAL
    endpoint = get("endpoint", flags.endpoint)
    project = get("project", flags.project)
    location = get("location", flags.location)
    if endpoint is not None or backend == c.BACKEND_LOCAL:
        if project is None:
            project, sources["project"] = c.LOCAL_DEFAULT_PROJECT, "default"
        if location is None:
            location, sources["location"] = c.LOCAL_DEFAULT_LOCATION, "default"
    autostart = get("autostart")
    if env.get(c.ENV_NO_AUTOSTART, "").strip() and parse_bool(
        env[c.ENV_NO_AUTOSTART], c.ENV_NO_AUTOSTART
    ):
        autostart, sources["autostart"] = False, f"env {c.ENV_NO_AUTOSTART}"
    engine = resolve_engine(env, config)
    sources.update(engine.sources)
    engine_http, http_source = engine_http_url(
        env, backend, endpoint, engine.host, engine.http_port
    )
    if engine_http is not None:
        sources["engine_http"] = http_source
    return Settings(
        backend=backend,
        endpoint=endpoint,
        project_value=project,
        location_value=location,
        engine_host=engine.host,
        engine_port=engine.port,
        engine_http_port=engine.http_port,
        data_dir=engine.data_dir,
        autostart=True if autostart is None else bool(autostart),
        sources=sources,
        engine_http=engine_http,
    )
