"""Settings precedence, the config file and commands, backends, and the error funnel."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tasksctl import constants as c
from tasksctl.cli.app import app
from tasksctl.errors import Aborted, ConfigError, UsageError
from tasksctl.output import Output
from tasksctl.settings import Flags, load_config, resolve, save_config
from tests.conftest import free_port

CLEAN = {
    c.ENV_PROJECT: None,
    c.ENV_LOCATION: None,
    c.ENV_BACKEND: None,
    c.ENV_ENDPOINT: None,
    c.ENV_EMULATOR_HOST: None,
    c.ENV_NO_AUTOSTART: None,
    c.ENV_ENGINE_HOST: None,
    c.ENV_ENGINE_PORT: None,
    c.ENV_ENGINE_HTTP_PORT: None,
    c.ENV_DATA_DIR: None,
    "NO_COLOR": "1",
}


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return tmp_path / "config"


@pytest.fixture
def cli(config_dir: Path) -> Any:
    """Run tasksctl in-process with a clean environment and a private config dir."""
    runner = CliRunner()

    def run(*args: str, env: dict[str, str | None] | None = None, input: str | None = None) -> Any:
        full_env = {**CLEAN, c.ENV_CONFIG_DIR: str(config_dir), **(env or {})}
        return runner.invoke(app, list(args), env=full_env, input=input)

    return run


# -- resolution (pure) --------------------------------------------------------------------------


def test_local_backend_needs_no_setup() -> None:
    settings = resolve(env={}, config={})
    assert settings.backend == "local"
    assert (settings.project, settings.location) == (
        c.LOCAL_DEFAULT_PROJECT,
        c.LOCAL_DEFAULT_LOCATION,
    )
    assert settings.engine_address == f"{c.DEFAULT_ENGINE_HOST}:{c.DEFAULT_GRPC_PORT}"
    assert settings.autostart is True and settings.endpoint is None


@pytest.mark.parametrize(
    ("flag", "env", "config", "expected", "source"),
    [
        ("flag-p", "env-p", "file-p", "flag-p", "flag"),
        (None, "env-p", "file-p", "env-p", f"env {c.ENV_PROJECT}"),
        (None, None, "file-p", "file-p", "config"),
        (None, None, None, c.LOCAL_DEFAULT_PROJECT, "default"),
    ],
)
def test_precedence_flag_env_file_default(
    flag: str | None, env: str | None, config: str | None, expected: str, source: str
) -> None:
    settings = resolve(
        Flags(project=flag),
        env={c.ENV_PROJECT: env} if env else {},
        config={"project": config} if config else {},
    )
    assert settings.project == expected
    assert settings.sources["project"] == source


def test_cloud_backend_requires_project_and_location_with_a_hint() -> None:
    settings = resolve(Flags(backend="cloud"), env={}, config={})
    with pytest.raises(ConfigError) as project_error:
        _ = settings.project
    assert "--project" in str(project_error.value) and c.ENV_PROJECT in str(project_error.value)
    assert "tasksctl config set project VALUE" in str(project_error.value)
    with pytest.raises(ConfigError, match="tasksctl config set location VALUE"):
        _ = settings.location
    configured = resolve(env={c.ENV_BACKEND: "cloud"}, config={"project": "p", "location": "l1"})
    assert (configured.backend, configured.project, configured.location) == ("cloud", "p", "l1")


def test_endpoint_sources_and_emulator_host() -> None:
    assert resolve(env={c.ENV_EMULATOR_HOST: "localhost:9090"}, config={}).endpoint == (
        "localhost:9090"
    )
    both = {c.ENV_EMULATOR_HOST: "localhost:9090", c.ENV_ENDPOINT: "127.0.0.1:1"}
    assert resolve(env=both, config={}).endpoint == "127.0.0.1:1"
    assert resolve(Flags(endpoint="h:2"), env=both, config={}).endpoint == "h:2"
    # An endpoint is an emulator: the local defaults apply even with backend cloud.
    emulated = resolve(Flags(backend="cloud", endpoint="h:2"), env={}, config={})
    assert emulated.project == c.LOCAL_DEFAULT_PROJECT


def test_autostart_and_engine_address() -> None:
    assert resolve(env={c.ENV_NO_AUTOSTART: "1"}, config={}).autostart is False
    assert resolve(env={}, config={"autostart": False}).autostart is False
    settings = resolve(env={c.ENV_ENGINE_PORT: "9999"}, config={"engine_host": "0.0.0.0"})
    assert settings.engine_address == "0.0.0.0:9999"


@pytest.mark.parametrize(
    ("flags", "env", "message"),
    [
        (Flags(backend="aws"), {}, "choose from local, cloud"),
        (Flags(endpoint="nohostport"), {}, "not HOST:PORT"),
        (Flags(project="123456"), {}, "project number"),
        (Flags(location="US Central"), {}, "not a location"),
        (Flags(), {c.ENV_ENGINE_PORT: "99999"}, "not a port"),
    ],
)
def test_bad_values_are_usage_errors(flags: Flags, env: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        resolve(flags, env=env, config={})


def test_config_file_round_trip_and_bad_toml(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    save_config({"project": 'we"ird', "autostart": False, "engine_port": 9000}, path)
    assert load_config(path) == {"project": 'we"ird', "autostart": False, "engine_port": 9000}
    assert load_config(tmp_path / "missing.toml") == {}
    path.write_text("project = ", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


# -- config commands ----------------------------------------------------------------------------


def test_config_set_get_list_unset(cli: Any, config_dir: Path) -> None:
    result = cli("config", "set", "project", "my-proj")
    assert result.exit_code == 0, result.output
    assert result.stderr == "Updated property [project].\n"
    assert (config_dir / "config.toml").read_text().count('project = "my-proj"') == 1
    assert cli("config", "set", "autostart", "no").exit_code == 0
    got = cli("config", "get", "project")
    assert (got.exit_code, got.stdout) == (0, "my-proj\n")
    # precedence as commands see it: flag > env > file
    assert cli("config", "get", "project", env={c.ENV_PROJECT: "env-p"}).stdout == "env-p\n"
    assert cli("config", "get", "project", "--project", "flag-p").stdout == "flag-p\n"
    assert cli("--project", "root-p", "config", "get", "project").stdout == "root-p\n"
    listed = cli("config", "list")
    assert listed.stdout == "autostart = false\nproject = my-proj\n"
    every = cli("config", "list", "--all", env={c.ENV_LOCATION: "europe-west1"})
    assert "location         = europe-west1  [env TASKSCTL_LOCATION]" in every.stdout
    assert "backend          = local  [default]" in every.stdout
    assert cli("config", "list", "--format", "json").stdout.startswith("{\n")
    unset = cli("config", "unset", "project")
    assert (unset.exit_code, unset.stderr) == (0, "Unset property [project].\n")
    assert cli("config", "get", "project", env={c.ENV_BACKEND: "cloud"}).stderr == "(unset)\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("config", "set", "colour", "blue"),
            "Unknown property [colour]; valid properties: project",
        ),
        (("config", "get", "colour"), "Unknown property [colour]"),
        (("config", "set", "backend", "aws"), "Invalid value for [backend]"),
        (("config", "set", "engine_port", "http"), "Invalid value for [engine_port]"),
    ],
)
def test_config_errors_are_one_line(cli: Any, args: tuple[str, ...], message: str) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"ERROR: (tasksctl.config.{args[1]}) {message}")


# -- backends and the funnel --------------------------------------------------------------------


def test_cloud_backend_missing_location_is_one_line(cli: Any) -> None:
    result = cli("queues", "list", "--backend", "cloud", "--project", "p")
    assert result.exit_code == 1
    assert result.stderr == (
        "ERROR: (tasksctl.queues.list) The required property [location] is not set for the "
        "cloud backend; use --location, set TASKSCTL_LOCATION, or run "
        "`tasksctl config set location VALUE`.\n"
    )


@pytest.mark.parametrize("credentials", ["missing-file", "none-at-all"])
def test_cloud_backend_without_credentials_hints_at_adc(
    cli: Any, tmp_path: Path, credentials: str
) -> None:
    env: dict[str, str | None] = {
        "HOME": str(tmp_path),
        "CLOUDSDK_CONFIG": str(tmp_path / "gc"),
        "NO_GCE_CHECK": "True",
        "GOOGLE_APPLICATION_CREDENTIALS": None,
    }
    if credentials == "missing-file":
        env["GOOGLE_APPLICATION_CREDENTIALS"] = str(tmp_path / "nope.json")
    result = cli(
        "queues",
        "describe",
        "q",
        "--backend",
        "cloud",
        "--project",
        "p",
        "--location",
        "us-east1",
        env=env,
    )
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("ERROR: (tasksctl.queues.describe) Cannot load Application")
    assert "gcloud auth application-default login" in result.stderr
    assert "Traceback" not in result.output


def test_local_backend_without_autostart_says_how_to_start(cli: Any, tmp_path: Path) -> None:
    port = free_port()
    result = cli(
        "queues",
        "list",
        env={
            c.ENV_NO_AUTOSTART: "1",
            c.ENV_ENGINE_PORT: str(port),
            c.ENV_DATA_DIR: str(tmp_path / "data"),
        },
    )
    assert result.exit_code == 1
    assert result.stderr == (
        f"ERROR: (tasksctl.queues.list) No local engine answers at 127.0.0.1:{port} and "
        "autostart is off (env TASKSCTL_NO_AUTOSTART); run `tasksctl engine start` first.\n"
    )


def test_unreachable_endpoint_fails_fast(cli: Any) -> None:
    address = f"127.0.0.1:{free_port()}"
    result = cli("queues", "describe", "q", env={c.ENV_EMULATOR_HOST: address})
    assert result.exit_code == 1
    assert result.stderr == (
        f"ERROR: (tasksctl.queues.describe) Nothing answers at {address} (from env "
        "CLOUD_TASKS_EMULATOR_HOST); start the emulator there or unset the endpoint.\n"
    )


@pytest.mark.parametrize(
    ("args", "command", "start"),
    [
        # gcloud's (argparse's) words
        (("queues", "list", "--bogus"), "tasksctl.queues.list", "unrecognized arguments: --bogus"),
        (("--bogus", "queues", "list"), "tasksctl", "unrecognized arguments: --bogus"),
        (("queues", "describe", "a", "b"), "tasksctl.queues.describe", "unrecognized arguments: b"),
        (("queues", "lst"), "tasksctl.queues", "Invalid choice: 'lst'."),
        (("queues", "describe"), "tasksctl.queues.describe", "argument QUEUE: Must be specified."),
        (
            ("queues", "list", "--location"),
            "tasksctl.queues.list",
            "argument --location: expected one argument",
        ),
        (
            ("queues", "list", "--limit", "abc"),
            "tasksctl.queues.list",
            "argument --limit: Value must be an integer; received: abc",
        ),
        (
            ("queues", "list", "--limit", "0"),
            "tasksctl.queues.list",
            "argument --limit: Value must be greater than or equal to 1",
        ),
        (("queues", "list", "--format", "xml"), "tasksctl.queues.list", "Format [xml]"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    cli: Any, args: tuple[str, ...], command: str, start: str
) -> None:
    result = cli(*args, env={c.ENV_ENDPOINT: f"127.0.0.1:{free_port()}"})
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"ERROR: ({command}) {start}")


def test_debug_verbosity_shows_the_traceback(cli: Any) -> None:
    args = ("queues", "list", "--backend", "cloud", "--project", "p")
    assert "Traceback" not in cli(*args).stderr
    debug = cli(*args, "--verbosity", "debug")
    assert debug.exit_code == 1
    assert debug.stderr.startswith("ERROR: (tasksctl.queues.list) The required property")
    assert "Traceback (most recent call last)" in debug.stderr


def test_help_lists_groups_and_global_flags_everywhere(cli: Any) -> None:
    root = cli("--help")
    assert root.exit_code == 0
    for word in (
        "queues",
        "locations",
        "cmek-config",
        "config",
        "engine",
        "--project",
        "--verbosity",
    ):
        assert word in root.stdout
    leaf = cli("queues", "update", "--help")
    for flag in (
        "--clear-max-attempts",
        "--http-header-override",
        "--format",
        "--quiet",
        "--location",
        "--endpoint",
    ):
        assert flag in leaf.stdout


@pytest.mark.parametrize(
    ("args", "absent"),
    [
        (
            ["--help"],
            (
                "grpc",
                "google.protobuf",
                "google.cloud",
                "google.auth",
                "aiohttp",
                "yaml",
                "rich",
                "pydantic",
            ),
        ),
        # a real command parses every flag type without pydantic (tasksctl.cli.coercion)
        (
            [
                "queues",
                "create",
                "q",
                "--max-doublings",
                "3",
                "--max-dispatches-per-second",
                "2.5",
                "--http-header-override",
                "A: b",
                "--sort-by",
                "x",
                "--format",
                "json",
            ],
            ("pydantic",),
        ),
        (["--project", "p", "queues", "list", "--limit", "2", "--uri"], ("pydantic", "aiohttp")),
    ],
)
def test_start_up_imports_stay_light(args: list[str], absent: tuple[str, ...]) -> None:
    code = (
        "import sys\n"
        "from tasksctl.cli.app import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        f"print('LOADED', [m for m in {absent!r} if m in sys.modules])\n"
    )
    env = {**os.environ, "NO_COLOR": "1", c.ENV_ENDPOINT: f"127.0.0.1:{free_port()}"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert "LOADED []" in result.stdout, result.stdout + result.stderr


def test_direct_coercion_errors_read_like_typer(cli: Any) -> None:
    env = {c.ENV_ENDPOINT: f"127.0.0.1:{free_port()}"}
    bad_int = cli("queues", "create", "q", "--max-doublings", "two", env=env)
    assert bad_int.exit_code == 2
    assert bad_int.stderr == (
        "ERROR: (tasksctl.queues.create) argument --max-doublings: invalid int value: 'two'\n"
    )
    bad_float = cli("queues", "create", "q", "--log-sampling-ratio", "half", env=env)
    assert "argument --log-sampling-ratio: invalid float value: 'half'" in bad_float.stderr


def test_autostart_starts_the_engine_once_with_one_line(tmp_path: Path) -> None:
    port, http_port = free_port(), free_port()
    env = {
        **os.environ,
        c.ENV_ENGINE_PORT: str(port),
        c.ENV_ENGINE_HTTP_PORT: str(http_port),
        c.ENV_DATA_DIR: str(tmp_path / "data"),
        c.ENV_CONFIG_DIR: str(tmp_path / "cfg"),
        "NO_COLOR": "1",
    }
    for name in (
        c.ENV_ENDPOINT,
        c.ENV_EMULATOR_HOST,
        c.ENV_NO_AUTOSTART,
        c.ENV_BACKEND,
        c.ENV_PROJECT,
        c.ENV_LOCATION,
    ):
        env.pop(name, None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tasksctl", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    try:
        first = run("queues", "create", "auto-q")
        assert first.returncode == 0, first.stderr
        lines = first.stderr.splitlines()
        assert len(lines) == 2
        assert lines[0].startswith(f"Starting the local engine on 127.0.0.1:{port}")
        assert lines[1] == "Created queue [us-central1/auto-q]."
        second = run("queues", "list", "--format", "value(name)")
        assert second.stderr == ""
        assert second.stdout == "auto-q\n"  # value(name) inherits the list's basename()
    finally:
        stopped = run("engine", "stop")
        assert stopped.returncode == 0, stopped.stderr


# -- the output facade --------------------------------------------------------------------------


class TerminalIO(io.StringIO):
    """An in-memory stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("typed", "proceeds", "reprompted"),
    [
        ("\n", True, False),
        ("y\n", True, False),
        ("YES\n", True, False),
        ("n\n", False, False),
        ("maybe\nno\n", False, True),
        ("?\n\n", True, True),
        ("", False, False),
    ],
)
def test_confirm_on_a_terminal(typed: str, proceeds: bool, reprompted: bool) -> None:
    err = io.StringIO()
    out = Output(stdin=TerminalIO(typed), stderr=err, stdout=io.StringIO())
    if proceeds:
        out.confirm("Are you sure you want to purge: [l/q]")
    else:
        with pytest.raises(Aborted, match=r"Aborted by user\."):
            out.confirm("Are you sure you want to purge: [l/q]")
    assert err.getvalue().startswith("Are you sure you want to purge: [l/q] (Y/n)?  ")
    assert ("Please enter 'y' or 'n':  " in err.getvalue()) == reprompted


def test_quiet_skips_the_prompt_even_without_a_terminal() -> None:
    Output(quiet=True, stdin=io.StringIO(""), stderr=io.StringIO()).confirm("Delete?")
    with pytest.raises(UsageError, match="use --quiet to proceed without a prompt"):
        Output(stdin=io.StringIO("y\n"), stderr=io.StringIO()).confirm("Delete?")


def test_colour_only_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    tty, pipe = TerminalIO(), io.StringIO()
    Output(stderr=tty).error("tasksctl.x", "boom")
    Output(stderr=pipe).error("tasksctl.x", "boom")
    assert "\x1b[" in tty.getvalue()
    assert pipe.getvalue() == "ERROR: (tasksctl.x) boom\n"
    monkeypatch.setenv("NO_COLOR", "1")
    plain = TerminalIO()
    Output(stderr=plain).error("tasksctl.x", "boom")
    assert plain.getvalue() == "ERROR: (tasksctl.x) boom\n"


def test_verbosity_levels() -> None:
    err = io.StringIO()
    out = Output("error", stderr=err)
    out.warning("w")
    out.info("i")
    out.status("Created queue [l/q].")
    assert err.getvalue() == "Created queue [l/q].\n"  # status lines show at every level
    debug = io.StringIO()
    Output("debug", stderr=debug).info("i")
    assert debug.getvalue() == "INFO: i\n"


def test_every_command_has_help_text() -> None:
    import typer.main

    root = typer.main.get_command(app)
    missing = []
    for group_name in ("queues", "locations", "cmek-config", "config"):
        group = root.commands[group_name]  # type: ignore[attr-defined]
        assert group.help, group_name
        for name, command in group.commands.items():
            if not (command.help or "").strip():
                missing.append(f"{group_name} {name}")
    assert missing == []
