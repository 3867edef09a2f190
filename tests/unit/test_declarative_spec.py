"""queues.yaml loading: normalized values, defaults, one-line file:line errors, the schema."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from tasksctl.declarative.fields import (
    FIELD_TREE,
    FIELDS,
    NANOS,
    format_duration_nanos,
    parse_duration_nanos,
)
from tasksctl.declarative.schema import json_schema
from tasksctl.declarative.spec import QUEUE_KEYS, TOP_KEYS, load_file, load_text
from tasksctl.declarative.yamlsrc import SpecError
from tasksctl.errors import EXIT_USAGE, UsageError

FULL = """\
project: my-project
location: us-central1
queues:
  - name: email
    project: other
    location: europe-west1
    state: Paused
    rate_limits:
      max_dispatches_per_second: 10
      max_concurrent_dispatches: 5
    retry_config:
      max_attempts: unlimited
      max_retry_duration: 1h
      min_backoff: 100ms
      max_backoff: 10m
      max_doublings: 4
    stackdriver_logging_config:
      sampling_ratio: 0.5
    app_engine_routing_override: {service: api, version: 1.10, instance: 0123}
  - name: off
  - name: hooks
    http_target:
      uri_override:
        {scheme: HTTPS, host: example.com, port: 443, path: /x, query: "a=b", mode: always}
      http_method: post
      header_overrides: {X-Env: prod, A-Version: 2}
      oauth_token:
        service_account_email: sa@p.iam.gserviceaccount.com
        scope: https://www.googleapis.com/auth/cloud-platform
"""


def write(tmp_path: Path, text: str, name: str = "queues.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def load_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, **defaults: Any) -> str:
    """Load from the current directory, as `-f queues.yaml` would; return the error."""
    write(tmp_path, text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as info:
        load_file("queues.yaml", defaults.get("project", "p"), defaults.get("location", "l1"))
    message = str(info.value)
    assert "\n" not in message
    return message


def test_full_example_is_normalized(tmp_path: Path) -> None:
    loaded = load_file(write(tmp_path, FULL), "default-project", "us-east1")
    assert loaded.format == "tasksctl"
    email, off, hooks = loaded.queues
    assert off.queue_id == "off"  # not YAML 1.1's false
    assert email.name == "projects/other/locations/europe-west1/queues/email"
    assert email.state == "paused"
    assert email.line == 4
    assert dict(email.values) == {
        "rate_limits.max_dispatches_per_second": 10.0,
        "rate_limits.max_concurrent_dispatches": 5,
        "retry_config.max_attempts": -1,
        "retry_config.max_retry_duration": 3600 * NANOS,
        "retry_config.min_backoff": NANOS // 10,
        "retry_config.max_backoff": 600 * NANOS,
        "retry_config.max_doublings": 4,
        "stackdriver_logging_config.sampling_ratio": 0.5,
        # names are kept as written, not read as the numbers 1.1 and 83
        "app_engine_routing_override.service": "api",
        "app_engine_routing_override.version": "1.10",
        "app_engine_routing_override.instance": "0123",
    }
    assert hooks.name == "projects/my-project/locations/us-central1/queues/hooks"
    assert hooks.state == "running"
    assert hooks.values["http_target.uri_override.scheme"] == "https"
    assert hooks.values["http_target.http_method"] == "POST"
    assert hooks.values["http_target.header_overrides"] == (("A-Version", "2"), ("X-Env", "prod"))
    assert hooks.effective("retry_config.max_attempts") == 100
    assert loaded.scope == {("other", "europe-west1"), ("my-project", "us-central1")}


def test_defaults_come_from_the_caller_and_the_file_wins(tmp_path: Path) -> None:
    text = "queues:\n  - name: a\n  - name: b\n    location: asia-east1\n"
    loaded = load_file(write(tmp_path, text), "cli-project", "us-central1")
    assert [q.name for q in loaded.queues] == [
        "projects/cli-project/locations/us-central1/queues/a",
        "projects/cli-project/locations/asia-east1/queues/b",
    ]
    loaded = load_file(write(tmp_path, "project: file-project\n" + text), "cli-project", "l")
    assert loaded.queues[0].project == "file-project"


def test_empty_queue_list_covers_the_default_location(tmp_path: Path) -> None:
    loaded = load_file(write(tmp_path, "queues: []\n"), "p", "us-central1")
    assert loaded.queues == ()
    assert loaded.scope == {("p", "us-central1")}
    assert load_file(write(tmp_path, "queues:\n"), "p", "l").queues == ()


def test_null_values_count_as_not_given(tmp_path: Path) -> None:
    text = """\
    queues:
      - name: a
        retry_config:
        rate_limits:
          max_dispatches_per_second:
        http_target:
          header_overrides: {}
    """
    (queue,) = load_file(write(tmp_path, text), "p", "l").queues
    assert dict(queue.values) == {}


def test_anchors_merge_keys_and_x_extensions(tmp_path: Path) -> None:
    text = """\
    x-slow: &slow
      rate_limits: {max_dispatches_per_second: 1}
      state: paused
    queues:
      - <<: *slow
        name: a
      - <<: *slow
        name: b
        state: running
    """
    a, b = load_file(write(tmp_path, text), "p", "l").queues
    assert a.values == {"rate_limits.max_dispatches_per_second": 1.0} == b.values
    assert (a.state, b.state) == ("paused", "running")


# ---------------------------------------------------------------------------------------------
# One-line errors: unknown key, wrong type, out of range, duplicates, syntax


def test_the_documented_example_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = """\
    project: p
    location: l1
    queues:
      - name: a
      - name: b
        rate_limits:
          max_dispatches_per_second: 5
      - name: c
        rate_limits:
          max_concurrent_dispatches: 3
        retry_config:
          max_attempts: lots
    """
    assert load_error(tmp_path, monkeypatch, text) == (
        "queues.yaml:12: queues[2].retry_config.max_attempts: "
        "expected an integer or \"unlimited\", got 'lots'"
    )


def test_error_is_a_usage_error_with_exit_code_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "queues: 3\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as info:
        load_file("queues.yaml", "p", "l")
    assert info.value.exit_code == EXIT_USAGE
    assert info.value.message == "queues.yaml:1: queues: expected a list, got 3"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # unknown keys, with a suggestion when one is close
        ("quues: []\n", "queues.yaml:1: quues: unknown key; did you mean 'queues'?"),
        ("queues:\n  - name: a\n    retry_config:\n      max_attempt: 3\n",
         "queues.yaml:4: queues[0].retry_config.max_attempt: unknown key; "
         "did you mean 'max_attempts'?"),
        ("queues:\n  - name: a\n    rate_limit: {}\n",
         "queues.yaml:3: queues[0].rate_limit: unknown key; did you mean 'rate_limits'?"),
        ("queues:\n  - name: a\n    http_target:\n      uri_override: {hots: x}\n",
         "queues.yaml:4: queues[0].http_target.uri_override.hots: unknown key; "
         "did you mean 'host'?"),
        ("queues:\n  - name: a\n    rate_limits: {max_burst_size: 3}\n",
         "queues.yaml:3: queues[0].rate_limits.max_burst_size: unknown key (expected one of: "
         "max_concurrent_dispatches, max_dispatches_per_second)"),
        # wrong types
        ("queues:\n  - name: a\n    rate_limits: {max_dispatches_per_second: fast}\n",
         "queues.yaml:3: queues[0].rate_limits.max_dispatches_per_second: expected a number, "
         "got 'fast'"),
        ("queues:\n  - name: a\n    rate_limits: {max_concurrent_dispatches: 2.5}\n",
         "queues.yaml:3: queues[0].rate_limits.max_concurrent_dispatches: expected an integer, "
         "got 2.5"),
        ("queues:\n  - name: a\n    rate_limits: [1]\n",
         "queues.yaml:3: queues[0].rate_limits: expected a mapping, got a list"),
        ("queues:\n  - name: a\n    retry_config: {min_backoff: soon}\n",
         "queues.yaml:3: queues[0].retry_config.min_backoff: expected a duration like 100ms, 10s, "
         "1.5m, 2h or 1d, got 'soon'"),
        ("queues:\n  - name: a\n    retry_config: {max_doublings: true}\n",
         "queues.yaml:3: queues[0].retry_config.max_doublings: expected an integer, got true"),
        ("queues:\n  - name: a\n    http_target: {http_method: FETCH}\n",
         "queues.yaml:3: queues[0].http_target.http_method: expected one of POST, GET, HEAD, PUT, "
         "DELETE, PATCH, OPTIONS, got 'FETCH'"),
        ("queues:\n  - name: a\n    http_target: {oidc_token: {service_account_email: [x]}}\n",
         "queues.yaml:3: queues[0].http_target.oidc_token.service_account_email: expected a "
         "string, "
         "got a list"),
        ("queues:\n  - name: a\n    state: stopped\n",
         "queues.yaml:3: queues[0].state: expected running or paused, got 'stopped'"),
        ("queues:\n  - a\n", "queues.yaml:2: queues[0]: expected a mapping, got 'a'"),
        # out of range, with the API's limits
        ("queues:\n  - name: a\n    rate_limits: {max_dispatches_per_second: 0}\n",
         "queues.yaml:3: queues[0].rate_limits.max_dispatches_per_second: 0 is out of range "
         "(must be > 0 and <= 500)"),
        ("queues:\n  - name: a\n    rate_limits: {max_dispatches_per_second: 500.5}\n",
         "queues.yaml:3: queues[0].rate_limits.max_dispatches_per_second: 500.5 is out of range "
         "(must be > 0 and <= 500)"),
        ("queues:\n  - name: a\n    rate_limits: {max_concurrent_dispatches: 5001}\n",
         "queues.yaml:3: queues[0].rate_limits.max_concurrent_dispatches: 5001 is out of range "
         "(must be between 1 and 5000)"),
        ("queues:\n  - name: a\n    retry_config: {max_attempts: -2}\n",
         "queues.yaml:3: queues[0].retry_config.max_attempts: -2 is out of range (must be >= -1, "
         "or unlimited)"),
        ("queues:\n  - name: a\n    retry_config: {max_attempts: 0}\n",
         "queues.yaml:3: queues[0].retry_config.max_attempts: 0 is out of range (must be >= 1, "
         "or -1/unlimited; Cloud Tasks reads 0 as the default, 100)"),
        ("queues:\n  - name: a\n    retry_config: {max_doublings: 0}\n",
         "queues.yaml:3: queues[0].retry_config.max_doublings: 0 is out of range (must be >= 1; "
         "Cloud Tasks reads 0 as the default, 16)"),
        ("queues:\n  - name: a\n    retry_config: {max_doublings: -1}\n",
         "queues.yaml:3: queues[0].retry_config.max_doublings: -1 is out of range (must be >= 1)"),
        ("queues:\n  - name: a\n    retry_config: {min_backoff: 0ms}\n",
         "queues.yaml:3: queues[0].retry_config.min_backoff: 0s is out of range (must be > 0; "
         "Cloud Tasks reads 0 as the default, 100ms)"),
        ("queues:\n  - name: a\n    retry_config: {max_retry_duration: -5}\n",
         "queues.yaml:3: queues[0].retry_config.max_retry_duration: -5 is out of range "
         "(a duration must be >= 0)"),
        ("queues:\n  - name: a\n    retry_config:\n      min_backoff: 2h\n",
         "queues.yaml:4: queues[0].retry_config.min_backoff: min_backoff (2h) must not exceed "
         "max_backoff (1h, the default)"),
        ("queues:\n  - name: a\n    retry_config:\n      min_backoff: 10s\n      max_backoff: 5s\n",
         "queues.yaml:4: queues[0].retry_config.min_backoff: min_backoff (10s) must not exceed "
         "max_backoff (5s)"),
        ("queues:\n  - name: a\n    retry_config:\n      max_backoff: 10ms\n",
         "queues.yaml:4: queues[0].retry_config.max_backoff: max_backoff (10ms) must not be less "
         "than min_backoff (100ms, the default)"),
        ("queues:\n  - name: a\n    stackdriver_logging_config: {sampling_ratio: 1.5}\n",
         "queues.yaml:3: queues[0].stackdriver_logging_config.sampling_ratio: 1.5 is out of range "
         "(must be between 0 and 1)"),
        ("queues:\n  - name: a\n    http_target: {uri_override: {port: 70000}}\n",
         "queues.yaml:3: queues[0].http_target.uri_override.port: 70000 is out of range "
         "(must be between 1 and 65535)"),
        ("queues:\n  - name: my_queue\n",
         "queues.yaml:2: queues[0].name: 'my_queue' is not a valid queue ID (letters, digits and "
         "hyphens, 1-100 characters)"),
        ("queues:\n  - name: " + "a" * 101 + "\n",
         f"queues.yaml:2: queues[0].name: '{'a' * 101}' is not a valid queue ID (letters, digits "
         "and hyphens, 1-100 characters)"),
        ("project: My_Project\nqueues: []\n",
         "queues.yaml:1: project: 'My_Project' is not a valid project ID"),
        # duplicates: same queue twice (reports both lines), same key twice
        ("queues:\n  - name: a\n  - name: b\n  - name: a\n",
         "queues.yaml:4: queues[2]: duplicate queue projects/p/locations/l1/queues/a "
         "(also at line 2, queues[0])"),
        ("queues:\n  - name: a\n    location: l2\n  - name: a\n    location: l2\n",
         "queues.yaml:4: queues[1]: duplicate queue projects/p/locations/l2/queues/a "
         "(also at line 2, queues[0])"),
        ("queues:\n  - name: a\n    rate_limits: {max_concurrent_dispatches: 1}\n"
         "    rate_limits: {max_concurrent_dispatches: 2}\n",
         "queues.yaml:4: queues[0].rate_limits: duplicate key (first given at line 3)"),
        # structure
        ("queues:\n  - rate_limits: {}\n",
         "queues.yaml:2: queues[0]: missing required key 'name' (the queue ID)"),
        ("project: p\n", "queues.yaml:1: missing top-level key 'queues' (a list of queues)"),
        ("", "queues.yaml:1: the file is empty; expected a top-level 'queues:' list"),
        ("queues:\n  - name: a\n    http_target:\n      oidc_token: {service_account_email: a@b}\n"
         "      oauth_token: {service_account_email: a@b}\n",
         "queues.yaml:5: queues[0].http_target: oidc_token and oauth_token are mutually exclusive "
         "(a queue sends one kind of token)"),
        ("queues:\n  - name: a\n    http_target:\n      oidc_token: {audience: x}\n",
         "queues.yaml:4: queues[0].http_target.oidc_token: missing required key "
         "'service_account_email'"),
        ("queue: []\nqueues: []\n",
         "queues.yaml:1: queue: a file has either 'queues:' (tasksctl format) or 'queue:' "
         "(App Engine queue.yaml), not both"),
        # YAML syntax: the parser's line
        ("queues:\n  - name: a\n    rate_limits: {max_dispatches_per_second: 1\n  - name: b\n",
         "queues.yaml:4: invalid YAML: expected ',' or '}', but got ':' "
         "(while parsing a flow mapping)"),
        ("queues:\n  - name: a\n   bad: indent\n",
         "queues.yaml:3: invalid YAML: expected <block end>, but found '<block mapping start>' "
         "(while parsing a block collection)"),
        ("queues: []\n---\nqueues: []\n",
         "queues.yaml:2: invalid YAML: but found another document (expected a single document in "
         "the stream)"),
    ],
)  # fmt: skip
def test_bad_files_fail_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: str
) -> None:
    assert load_error(tmp_path, monkeypatch, text) == expected


def test_missing_project_names_the_queue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    message = load_error(tmp_path, monkeypatch, "queues:\n  - name: a\n", project=None)
    assert message == (
        "queues.yaml:2: queues[0]: no project: set 'project:' in the file or a default "
        "project (--project)"
    )


def test_unreadable_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"cannot read .*missing.yaml: No such file"):
        load_file(tmp_path / "missing.yaml", "p", "l")


# ---------------------------------------------------------------------------------------------
# Durations


@pytest.mark.parametrize(
    ("nanos", "text"),
    [(0, "0s"), (NANOS // 10, "100ms"), (NANOS, "1s"), (90 * NANOS, "90s"), (60 * NANOS, "1m"),
     (5400 * NANOS, "90m"), (3600 * NANOS, "1h"), (86400 * NANOS, "1d"), (1_500_000, "0.0015s"),
     (1, "0.000000001s"), (10 * 86400 * NANOS + 1_000_000, "864000001ms")],
)  # fmt: skip
def test_durations_have_one_canonical_form_that_round_trips(nanos: int, text: str) -> None:
    assert format_duration_nanos(nanos) == text
    assert parse_duration_nanos(text) == nanos


def test_bare_numbers_are_seconds() -> None:
    assert parse_duration_nanos(1.5) == 1_500_000_000
    assert parse_duration_nanos("2") == 2 * NANOS


# ---------------------------------------------------------------------------------------------
# The JSON Schema stays in step with the loader


def schema_keys(schema: dict[str, Any]) -> set[str]:
    """Every key path the schema allows: queues[].retry_config.max_attempts, ..."""
    defs = schema["$defs"]

    def walk(node: dict[str, Any], prefix: str) -> set[str]:
        if "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[-1]]
        keys: set[str] = set()
        for key, sub in node.get("properties", {}).items():
            path = f"{prefix}{key}"
            keys.add(path)
            if sub.get("type") == "array":
                keys |= walk(sub["items"], path + "[].")
            elif "properties" in sub or "$ref" in sub:
                keys |= walk(sub, path + ".")
        return keys

    return walk(schema, "")


def loader_keys() -> set[str]:
    keys = {*TOP_KEYS} | {f"queues[].{k}" for k in QUEUE_KEYS}

    def walk(tree: dict[str, Any], prefix: str) -> None:
        for key, sub in tree.items():
            keys.add(prefix + key)
            if isinstance(sub, dict):
                walk(sub, prefix + key + ".")

    walk(FIELD_TREE, "queues[].")
    return keys


def test_schema_and_loader_accept_the_same_keys() -> None:
    assert schema_keys(json_schema()) == loader_keys()


def schema_for(path: str) -> dict[str, Any]:
    node = json_schema()["$defs"]["queue"]
    for part in path.split("."):
        node = node["properties"][part]
    return node


def test_schema_ranges_and_choices_match_the_field_table() -> None:
    for fdef in FIELDS:
        node = schema_for(fdef.path)
        if fdef.kind == "attempts":
            node = node["oneOf"][0]
        if fdef.kind in ("rate", "ratio", "count", "port", "attempts"):
            low_key = "exclusiveMinimum" if fdef.exclusive_minimum else "minimum"
            assert node[low_key] == fdef.minimum, fdef.path
            assert node["maximum"] == fdef.maximum, fdef.path
        if fdef.kind == "enum":
            assert node["enum"] == list(fdef.choices), fdef.path


def validate(instance: Any, schema: dict[str, Any], root: dict[str, Any]) -> list[str]:
    """A small JSON Schema checker covering the keywords our schema uses."""
    if "$ref" in schema:
        return validate(instance, root["$defs"][schema["$ref"].rsplit("/", 1)[-1]], root)
    errors: list[str] = []
    types = schema.get("type")
    if types is not None:
        allowed = [types] if isinstance(types, str) else types
        checks = {
            "object": lambda v: isinstance(v, dict), "array": lambda v: isinstance(v, list),
            "string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        }  # fmt: skip
        if not any(checks[t](instance) for t in allowed):
            return [f"type {instance!r}"]
    if "enum" in schema and instance not in schema["enum"]:
        errors.append(f"enum {instance!r}")
    if "const" in schema and instance != schema["const"]:
        errors.append(f"const {instance!r}")
    if (
        isinstance(instance, str)
        and "pattern" in schema
        and not re.search(schema["pattern"], instance)
    ):
        errors.append(f"pattern {instance!r}")
    if isinstance(instance, int | float) and not isinstance(instance, bool):
        if "minimum" in schema and instance < schema["minimum"]:
            errors.append(f"minimum {instance!r}")
        if "exclusiveMinimum" in schema and instance <= schema["exclusiveMinimum"]:
            errors.append(f"exclusiveMinimum {instance!r}")
        if "maximum" in schema and instance > schema["maximum"]:
            errors.append(f"maximum {instance!r}")
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in instance:
                errors.append(f"required {key}")
        for key, value in instance.items():
            if key in props:
                errors += validate(value, props[key], root)
            elif any(re.search(p, key) for p in schema.get("patternProperties", {})):
                continue
            elif schema.get("additionalProperties") is False:
                errors.append(f"additional {key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += validate(value, schema["additionalProperties"], root)
    if isinstance(instance, list) and "items" in schema:
        for item in instance:
            errors += validate(item, schema["items"], root)
    if "oneOf" in schema:
        passing = sum(1 for sub in schema["oneOf"] if not validate(instance, sub, root))
        if passing != 1:
            errors.append(f"oneOf {instance!r}")
    if "not" in schema and not validate(instance, schema["not"], root):
        errors.append(f"not {instance!r}")
    return errors


VALID_EXAMPLES = [
    FULL.replace("state: Paused", "state: paused")
    .replace("scheme: HTTPS", "scheme: https")
    .replace("http_method: post", "http_method: POST")
    .replace("name: off", "name: 'off'"),
    "queues: []\n",
    "x-anchor: {a: 1}\nqueues:\n  - name: q\n    retry_config: {max_attempts: -1, min_backoff: "
    "0.5}\n",
    "queues:\n  - name: q\n    retry_config: {max_retry_duration: 0, max_backoff: 0.5s, "
    "min_backoff: .25}\n",
]
INVALID_EXAMPLES = [
    "queues:\n  - name: q\n    rate_limits: {max_dispatches_per_second: 501}\n",
    "queues:\n  - name: q\n    rate_limits: {max_dispatches_per_second: 0}\n",
    "queues:\n  - name: q\n    rate_limits: {max_concurrent_dispatches: 0}\n",
    "queues:\n  - name: q\n    retry_config: {max_attempts: 0}\n",
    "queues:\n  - name: q\n    retry_config: {max_doublings: 0}\n",
    "queues:\n  - name: q\n    retry_config: {max_backoff: 0}\n",
    "queues:\n  - name: q\n    retry_config: {min_backoff: 0s}\n",
    "queues:\n  - name: q\n    retry_config: {max_attempts: lots}\n",
    "queues:\n  - name: q\n    retry_config: {max_backoff: 1 hour}\n",
    "queues:\n  - name: q\n    stackdriver_logging_config: {sampling_ratio: 2}\n",
    "queues:\n  - name: bad_name\n",
    "queues:\n  - name: q\n    colour: blue\n",
    "queues:\n  - name: q\n    http_target: {oidc_token: {audience: x}}\n",
    "queues:\n  - name: q\n    http_target: {http_method: FETCH}\n",
    "queues:\n  - name: q\n    http_target:\n      oidc_token: {service_account_email: a}\n"
    "      oauth_token: {service_account_email: a}\n",
    "project: p\n",
]


@pytest.mark.parametrize("text", VALID_EXAMPLES)
def test_valid_examples_pass_loader_and_schema(text: str) -> None:
    schema = json_schema()
    assert validate(yaml.safe_load(text), schema, schema) == []
    load_text(text, "queues.yaml", "p", "l")


@pytest.mark.parametrize("text", INVALID_EXAMPLES)
def test_invalid_examples_fail_loader_and_schema(text: str) -> None:
    schema = json_schema()
    assert validate(yaml.safe_load(text), schema, schema) != []
    with pytest.raises(SpecError):
        load_text(text, "queues.yaml", "p", "l")


def test_schema_is_draft_2020_12_and_a_fresh_copy() -> None:
    first = json_schema()
    assert first["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    first["properties"].clear()
    assert json_schema()["properties"]
