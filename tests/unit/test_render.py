"""--format, --filter, --sort-by, --limit: parsing and rendering, no engine needed."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
import yaml

from tasksctl.cli.queues import LIST_FORMAT
from tasksctl.errors import UsageError
from tasksctl.filter_expr import parse_filter
from tasksctl.output import Output
from tasksctl.projection import parse_format, parse_key
from tasksctl.render import ListFlags, Renderer, message_to_dict, parse_limit, select

QUEUES: list[dict[str, Any]] = [
    {
        "name": "projects/p/locations/us-central1/queues/emails",
        "state": "RUNNING",
        "rateLimits": {
            "maxBurstSize": 100,
            "maxConcurrentDispatches": 1000,
            "maxDispatchesPerSecond": 500.0,
        },
        "retryConfig": {"maxAttempts": 100, "minBackoff": "0.100s", "maxBackoff": "3600s"},
    },
    {
        "name": "projects/p/locations/us-central1/queues/Reports-2",
        "state": "PAUSED",
        "rateLimits": {"maxConcurrentDispatches": 5, "maxDispatchesPerSecond": 2.5},
        "retryConfig": {"maxAttempts": -1, "minBackoff": "10s", "maxBackoff": "60s"},
        "httpTarget": {"headerOverrides": [{"header": {"key": "X-Env", "value": "prod"}}]},
    },
    {
        "name": "projects/p/locations/us-central1/queues/zeta",
        "state": "DISABLED",
        "rateLimits": {},
        "retryConfig": {"maxAttempts": 3},
    },
]


def names(items: list[dict[str, Any]]) -> list[str]:
    return [item["name"].rsplit("/", 1)[-1] for item in items]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("", ["emails", "Reports-2", "zeta"]),
        ("state=PAUSED", ["Reports-2"]),
        ("state=paused", ["Reports-2"]),  # = is case-insensitive, as in gcloud
        ("state!=RUNNING", ["Reports-2", "zeta"]),
        ("name:reports", ["Reports-2"]),  # : is a case-insensitive substring match
        ("name:EMAIL", ["emails"]),
        ("name:q*s/e", ["emails"]),  # * is a wildcard inside the substring
        ("name:q*s/x", []),
        ("name:queues/*s", ["emails", "Reports-2"]),
        ("name.basename()=zeta", ["zeta"]),
        ("name.basename()=z*", ["zeta"]),
        ("rateLimits.maxDispatchesPerSecond<10", ["Reports-2"]),
        ("rateLimits.maxDispatchesPerSecond>=500", ["emails"]),
        ("retryConfig.maxAttempts=-1", ["Reports-2"]),
        ("retryConfig.minBackoff>5s", ["Reports-2"]),  # durations compare as seconds
        ("retryConfig.maxBackoff<=60s", ["Reports-2"]),
        ("state=RUNNING OR state=DISABLED", ["emails", "zeta"]),
        ("state:(RUNNING DISABLED)", ["emails", "zeta"]),
        ("state=(PAUSED, DISABLED)", ["Reports-2", "zeta"]),
        ("state=RUNNING AND rateLimits.maxConcurrentDispatches=1000", ["emails"]),
        ("state=PAUSED rateLimits.maxConcurrentDispatches=5", ["Reports-2"]),  # implicit AND
        ("NOT state=RUNNING", ["Reports-2", "zeta"]),
        ("-state=RUNNING", ["Reports-2", "zeta"]),
        ("NOT (state=RUNNING OR state=PAUSED)", ["zeta"]),
        ("httpTarget:*", ["Reports-2"]),
        ("-httpTarget:*", ["emails", "zeta"]),
        ("httpTarget.headerOverrides.header.key=x-env", ["Reports-2"]),  # list: any item
        ("name~^.*s$", ["emails"]),
        ("name!~s$", ["Reports-2", "zeta"]),
        ("prod", ["Reports-2"]),  # a bare word matches any field
        ("'DISABLED'", ["zeta"]),
        ('name:"reports-2"', ["Reports-2"]),
        ("missing.field=1", []),
        ("missing.field!=1", ["emails", "Reports-2", "zeta"]),
    ],
)
def test_filter(expression: str, expected: list[str]) -> None:
    predicate = parse_filter(expression)
    assert names([q for q in QUEUES if predicate(q)]) == expected


@pytest.mark.parametrize(
    "expression",
    ["state=", "(state=RUNNING", "state=RUNNING)", "name.nosuch()=x", "a:(b", "name=(", "NOT"],
)
def test_filter_syntax_errors_are_usage_errors(expression: str) -> None:
    with pytest.raises(UsageError, match="filter expression"):
        parse_filter(expression)


def test_sort_limit_and_order_of_application() -> None:
    flags = ListFlags(filter="NOT state=DISABLED", sort_by=("~name",), limit=1)
    assert names(select(QUEUES, flags)) == ["emails"]  # "emails" > "Reports-2" as text
    by_rate = ListFlags(sort_by=("rateLimits.maxDispatchesPerSecond",))
    assert names(select(QUEUES, by_rate)) == ["zeta", "Reports-2", "emails"]  # missing first
    two_keys = ListFlags(sort_by=("state", "~name"))
    assert names(select(QUEUES, two_keys)) == ["zeta", "Reports-2", "emails"]


@pytest.mark.parametrize(
    ("text", "expected"), [(None, None), ("unlimited", None), ("3", 3), (" 10 ", 10)]
)
def test_parse_limit(text: str | None, expected: int | None) -> None:
    assert parse_limit(text) == expected


@pytest.mark.parametrize("text", ["0", "-1", "x"])
def test_parse_limit_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="--limit"):
        parse_limit(text)


def test_parse_format_spec() -> None:
    spec = parse_format('table[no-heading](name.basename():label="QUEUE NAME", state)')
    assert spec.name == "table" and not spec.heading
    assert [c.heading(True) for c in spec.columns] == ["QUEUE NAME", "STATE"]
    key = parse_key('retryConfig.maxAttempts.yesno(no="unlimited").format("{0}").sub("-1", "x")')
    assert key.path == ("retryConfig", "maxAttempts")
    assert [t.name for t in key.transforms] == ["yesno", "format", "sub"]
    assert key.evaluate({"retryConfig": {"maxAttempts": -1}}) == "x"
    assert key.evaluate({"retryConfig": {}}) == "unlimited"
    assert (
        parse_key("bindings[1].role").evaluate({"bindings": [{"role": "a"}, {"role": "b"}]}) == "b"
    )
    assert parse_format("text").name == "flattened"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("xml", "not supported"),
        ("table(name", r"expected '\)'"),
        ("table[box](name)", "unknown format attribute"),
        ("table(name:width=3)", "unknown column attribute"),
        ("value(name.frobnicate())", "unknown transform"),
        ("json extra", "unexpected text"),
    ],
)
def test_bad_formats(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_format(text)


def render(
    fmt: str | None,
    items: list[dict[str, Any]],
    flags: ListFlags | None = None,
    default: str = LIST_FORMAT,
) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    Renderer(Output(stdout=out, stderr=err), fmt, default).resources(items, flags)
    return out.getvalue(), err.getvalue()


def test_default_queue_table_matches_gcloud() -> None:
    stdout, stderr = render(None, QUEUES)
    assert stdout.splitlines() == [
        "QUEUE_NAME  STATE     MAX_NUM_OF_TASKS  MAX_RATE (/sec)  MAX_ATTEMPTS",
        "emails      RUNNING   1000              500.0            100",
        "Reports-2   PAUSED    5                 2.5              unlimited",
        "zeta        DISABLED  unlimited         unlimited        3",
    ]
    assert stderr == ""


def test_each_format_parses() -> None:
    as_json = json.loads(render("json", QUEUES)[0])
    assert as_json == QUEUES
    as_yaml = list(yaml.safe_load_all(render("yaml", QUEUES)[0]))
    assert as_yaml == QUEUES
    rows = list(csv.reader(io.StringIO(render("csv(name.basename(),state)", QUEUES)[0])))
    assert rows == [
        ["queue_name", "state"],
        ["emails", "RUNNING"],
        ["Reports-2", "PAUSED"],
        ["zeta", "DISABLED"],
    ]
    default_csv = list(csv.reader(io.StringIO(render("csv", QUEUES)[0])))
    assert default_csv[0] == [  # gcloud lower-cases every csv heading
        "queue_name",
        "state",
        "max_num_of_tasks",
        "max_rate (/sec)",
        "max_attempts",
    ]
    assert render("value(name.basename(), retryConfig.maxAttempts)", QUEUES)[0] == (
        "emails\t100\nReports-2\tunlimited\nzeta\t3\n"  # inherits the default sub("-1", ...)
    )
    projected = json.loads(render("json(name.basename(), rateLimits.maxBurstSize)", QUEUES)[0])
    assert projected[0] == {"name": "emails", "rateLimits": {"maxBurstSize": 100}}
    flat = render("flattened", QUEUES[:1])[0]
    # gcloud: `---` before each listed record, values aligned in one column
    assert flat.startswith("---\nname:                               projects/")
    assert "rateLimits.maxDispatchesPerSecond:  500.0\n" in flat
    assert render("flattened(name, state)", QUEUES[:2])[0] == (
        "---\nqueue_name: projects/p/locations/us-central1/queues/emails\nstate:      RUNNING\n"
        "---\nqueue_name: projects/p/locations/us-central1/queues/Reports-2\nstate:      PAUSED\n"
    )
    assert render("none", QUEUES) == ("", "")
    assert render("table[no-heading](name.basename())", QUEUES)[0].splitlines()[0] == "emails"
    uris = render(None, QUEUES[:1], ListFlags(uri=True))[0]
    assert (
        uris
        == "https://cloudtasks.googleapis.com/v2/projects/p/locations/us-central1/queues/emails\n"
    )


def test_empty_lists() -> None:
    assert render(None, []) == ("", "Listed 0 items.\n")
    assert render("json", []) == ("[]\n", "")
    # gcloud's "Listed 0 items." epilog belongs to the default format only
    assert render("value(name)", QUEUES, ListFlags(filter="state=NOPE")) == ("", "")


def test_describe_yaml_is_gcloud_shaped() -> None:
    from google.cloud import tasks_v2

    queue = tasks_v2.Queue(
        name="projects/p/locations/l/queues/q",
        rate_limits={"max_dispatches_per_second": 500.0, "max_concurrent_dispatches": 1000},
        retry_config={
            "max_attempts": 100,
            "min_backoff": {"nanos": 100_000_000},
            "max_backoff": {"seconds": 3600},
        },
        purge_time={"seconds": 1700000000, "nanos": 500_000_000},
        state=tasks_v2.Queue.State.RUNNING,
    )
    resource = message_to_dict(queue)
    out = io.StringIO()
    Renderer(Output(stdout=out), None, "yaml").resource(resource)
    assert out.getvalue() == (
        "name: projects/p/locations/l/queues/q\n"
        "purgeTime: '2023-11-14T22:13:20.500Z'\n"
        "rateLimits:\n"
        "  maxConcurrentDispatches: 1000\n"
        "  maxDispatchesPerSecond: 500.0\n"
        "retryConfig:\n"
        "  maxAttempts: 100\n"
        "  maxBackoff: 3600s\n"
        "  minBackoff: 0.100s\n"
        "state: RUNNING\n"
    )


def test_table_and_value_need_columns_for_single_resources() -> None:
    with pytest.raises(UsageError, match="needs columns"):
        Renderer(Output(stdout=io.StringIO()), "table", "yaml").resource(QUEUES[0])


def test_user_format_inherits_the_default_columns() -> None:
    """gcloud composes `--format` after the command's default: same key, same transform/label."""
    assert render("value(name)", QUEUES[:2])[0] == "emails\nReports-2\n"
    assert render("table(name, state)", QUEUES[:1])[0] == "QUEUE_NAME  STATE\nemails      RUNNING\n"
    assert render("table(QUEUE_NAME, MAX_ATTEMPTS)", QUEUES[1:2])[0] == (
        "QUEUE_NAME  MAX_ATTEMPTS\nReports-2   unlimited\n"
    )
    assert render("csv(rateLimits.maxBurstSize)", QUEUES[:1])[0] == "max_burst_size\n100\n"
    assert render('value[separator=","](name, state)', QUEUES[:1])[0] == "emails,RUNNING\n"
    assert render("table(name:label=Q)", QUEUES[:1])[0] == "Q\nemails\n"


def test_page_size_prints_one_table_per_page() -> None:
    out = render("table(name)", QUEUES, ListFlags(page_size=2))[0]
    assert out == "QUEUE_NAME\nemails\nReports-2\n\nQUEUE_NAME\nzeta\n"
    assert render("value(name)", QUEUES, ListFlags(page_size=2))[0] == "emails\nReports-2\nzeta\n"
