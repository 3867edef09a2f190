"""Issue 14, standing suite: random API requests get the right status code (never INTERNAL or
UNKNOWN) and the engine keeps serving. Bounded: a few hundred requests on a private engine."""

from __future__ import annotations

from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import tasks_v2
from google.protobuf import field_mask_pb2
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.conftest import make_client

PARENT = "projects/fuzz/locations/here"
QueuePb: Any = tasks_v2.Queue.pb()
TaskPb: Any = tasks_v2.Task.pb()
EXPECTED = (
    gexc.InvalidArgument, gexc.NotFound, gexc.AlreadyExists, gexc.FailedPrecondition,
    gexc.OutOfRange,
)  # fmt: skip
INTS = st.sampled_from([0, 1, -1, 7, 65535, 65536, 2**31 - 1, -(2**31), 2**62, -(2**62)])
FLOATS = st.sampled_from([0.0, -1.0, 0.5, 1.0, 500.0, 501.0, 1e300, float("inf"), float("nan")])
TEXT = st.one_of(
    st.sampled_from(["", "x", "a b", "http://127.0.0.1:9/", "http://x:99999/", "\x00", "/p"]),
    st.text(max_size=20),
)
QUEUE_FIELDS = {
    "rate_limits.max_dispatches_per_second": FLOATS,
    "rate_limits.max_concurrent_dispatches": INTS,
    "rate_limits.max_burst_size": INTS,
    "retry_config.max_attempts": INTS,
    "retry_config.max_doublings": INTS,
    "retry_config.min_backoff.seconds": INTS,
    "retry_config.max_backoff.seconds": INTS,
    "retry_config.max_retry_duration.seconds": INTS,
    "retry_config.min_backoff.nanos": INTS,
    "stackdriver_logging_config.sampling_ratio": FLOATS,
    "http_target.uri_override.port": INTS,
    "http_target.uri_override.host": TEXT,
    "http_target.uri_override.path_override.path": TEXT,
    "http_target.http_method": st.integers(0, 9),
    "state": st.integers(0, 5),
    "app_engine_routing_override.service": TEXT,
}
TASK_FIELDS = {
    "http_request.url": TEXT,
    "http_request.http_method": st.integers(0, 9),
    "http_request.oidc_token.service_account_email": TEXT,
    "dispatch_deadline.seconds": INTS,
    "schedule_time.seconds": INTS,
    "schedule_time.nanos": INTS,
    "app_engine_http_request.relative_uri": TEXT,
    "dispatch_count": INTS,
    "name": TEXT,
}


def _build(pb_class: Any, values: dict[str, Any]) -> Any:
    message = pb_class()
    for path, value in values.items():
        *parents, leaf = path.split(".")
        target = message
        for part in parents:
            target = getattr(target, part)
        try:
            setattr(target, leaf, value)
        except (ValueError, TypeError):
            assume(False)  # not even encodable: the client could not send it
    return message


def _fields(table: dict[str, Any]) -> Any:
    return st.fixed_dictionaries({}, optional=table)


@pytest.fixture(scope="module")
def fuzz_engine(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.conftest import EngineProcess

    engine = EngineProcess(tmp_path_factory.mktemp("fuzz") / "data").start()
    yield engine
    engine.stop()


FUZZ = settings(
    max_examples=120, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip


@FUZZ
@given(values=_fields(QUEUE_FIELDS), suffix=st.integers(0, 3), op=st.sampled_from(["c", "u"]))
def test_random_queue_requests(
    fuzz_engine: Any, values: dict[str, Any], suffix: int, op: str
) -> None:
    client = make_client(fuzz_engine.address)
    queue = _build(QueuePb, {"name": f"{PARENT}/queues/f{suffix}", **values})
    try:
        if op == "c":
            client.create_queue(parent=PARENT, queue=tasks_v2.Queue.wrap(queue))
        else:
            mask = field_mask_pb2.FieldMask(paths=sorted({p.split(".")[0] for p in values}))
            client.update_queue(queue=tasks_v2.Queue.wrap(queue), update_mask=mask)
    except EXPECTED:
        pass
    listed = list(client.list_queues(parent=PARENT))  # still serving, still readable
    for item in listed:
        client.get_queue(name=item.name)


@FUZZ
@given(values=_fields(TASK_FIELDS))
def test_random_task_requests(fuzz_engine: Any, values: dict[str, Any]) -> None:
    client = make_client(fuzz_engine.address)
    queue = f"{PARENT}/queues/tasks"
    try:
        client.create_queue(parent=PARENT, queue={"name": queue})
        client.pause_queue(name=queue)  # nothing is dispatched anywhere
    except gexc.AlreadyExists:
        pass
    task = _build(TaskPb, values)
    try:
        client.create_task(parent=queue, task=tasks_v2.Task.wrap(task))
    except EXPECTED:
        pass
    for item in client.list_tasks(parent=queue):
        client.get_task(name=item.name)


def test_engine_log_has_no_traceback_after_the_fuzz(fuzz_engine: Any) -> None:
    log = fuzz_engine.data_dir.parent / f"{fuzz_engine.data_dir.name}-{fuzz_engine.port}.log"
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
