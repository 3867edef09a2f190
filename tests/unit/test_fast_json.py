"""The fast JSON printer gives exactly what protobuf's ``MessageToDict`` gives (issue 14: it
replaced MessageToDict on the list paths, where that printer cost most of the time)."""

from __future__ import annotations

from typing import Any

from google.cloud import tasks_v2
from google.iam.v1 import policy_pb2
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st

from tasksctl import fast_json

TaskPb: Any = tasks_v2.Task.pb()
QueuePb: Any = tasks_v2.Queue.pb()
INT64 = st.integers(-(2**63), 2**63 - 1)
SECONDS = st.integers(-62135596800, 253402300799)
TEXT = st.text(max_size=10)


def reference(message: Any) -> dict[str, Any]:
    return dict(
        json_format.MessageToDict(
            message, preserving_proto_field_name=False, use_integers_for_enums=False
        )
    )


timestamps = st.fixed_dictionaries({"seconds": SECONDS, "nanos": st.integers(0, 999_999_999)})
durations = st.fixed_dictionaries(
    {"seconds": st.integers(0, 315_576_000_000), "nanos": st.integers(0, 999_999_999)}
)
attempts = st.fixed_dictionaries(
    {},
    optional={
        "schedule_time": timestamps, "dispatch_time": timestamps, "response_time": timestamps,
        "response_status": st.fixed_dictionaries({"code": st.integers(0, 16), "message": TEXT}),
    },
)  # fmt: skip
http_requests = st.fixed_dictionaries(
    {},
    optional={
        "url": TEXT, "http_method": st.integers(0, 7),
        "headers": st.dictionaries(TEXT, TEXT, max_size=3), "body": st.binary(max_size=20),
        "oidc_token": st.fixed_dictionaries({"service_account_email": TEXT, "audience": TEXT}),
    },
)  # fmt: skip
tasks = st.fixed_dictionaries(
    {},
    optional={
        "name": TEXT, "http_request": http_requests, "schedule_time": timestamps,
        "create_time": timestamps, "dispatch_deadline": durations,
        "dispatch_count": st.integers(-(2**31), 2**31 - 1),
        "response_count": st.integers(0, 2**31 - 1), "first_attempt": attempts,
        "last_attempt": attempts, "view": st.integers(0, 5),
    },
)  # fmt: skip
DOUBLES = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 500.0]))
queues = st.fixed_dictionaries(
    {},
    optional={
        "name": TEXT,
        "rate_limits": st.fixed_dictionaries(
            {},
            optional={
                "max_dispatches_per_second": DOUBLES,
                "max_burst_size": st.integers(0, 10**6),
                "max_concurrent_dispatches": st.integers(-5, 5000),
            },
        ),
        "retry_config": st.fixed_dictionaries(
            {}, optional={"max_attempts": st.integers(-1, 100), "min_backoff": durations}
        ),
        "state": st.integers(0, 7),
        "purge_time": timestamps,
        "stackdriver_logging_config": st.fixed_dictionaries({"sampling_ratio": DOUBLES}),
        "http_target": st.fixed_dictionaries(
            {}, optional={"uri_override": st.fixed_dictionaries({"port": INT64, "host": TEXT})}
        ),
    },
)


@settings(max_examples=300, deadline=None)
@given(fields=tasks)
def test_tasks_print_as_message_to_dict_does(fields: dict[str, Any]) -> None:
    message = TaskPb(**fields)
    assert fast_json.message_to_dict(message) == reference(message)


@settings(max_examples=300, deadline=None)
@given(fields=queues)
def test_queues_print_as_message_to_dict_does(fields: dict[str, Any]) -> None:
    message = QueuePb(**fields)
    assert fast_json.message_to_dict(message) == reference(message)


def test_unsupported_messages_fall_back() -> None:
    policy = policy_pb2.Policy(version=3, etag=b"\x01", bindings=[{"role": "r", "members": ["m"]}])
    assert fast_json.message_to_dict(policy) == reference(policy)
