"""Issue 14, standing suite: property-based tests of request validation and the retry schedule,
each against a plain reference written from the documentation, not from the code under test."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from google.cloud import tasks_v2
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tasksctl.engine import backoff
from tasksctl.engine.task_validation import prepare_new_task
from tasksctl.engine.validation import (
    MAX_DURATION_S,
    check_retry_config,
    prepare_new_queue,
)
from tasksctl.errors import InvalidArgument, UsageError
from tasksctl.limits import MAX_DURATION_SECONDS
from tasksctl.resources import parse_duration, parse_queue_name

PARENT = "projects/p/locations/l"
QUEUE = parse_queue_name(f"{PARENT}/queues/q")
QueuePb: Any = tasks_v2.Queue.pb()
TaskPb: Any = tasks_v2.Task.pb()
RetryPb: Any = tasks_v2.RetryConfig.pb()
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------------------------
# The retry schedule


def reference_delays(count: int, low: float, high: float, doublings: int) -> list[float]:
    """The documented sequence, built step by step: start at min_backoff, double max_doublings
    times, then grow by the last doubled step each time, never above max_backoff."""
    delays: list[float] = []
    interval = low
    step = None
    for k in range(count):
        if k == 0:
            interval = low
        elif k <= doublings:
            interval = interval * 2
        else:
            if step is None:
                step = low * 2**doublings
            interval = interval + step
        delays.append(min(interval, high))
    return delays


def test_reference_reproduces_the_documented_examples() -> None:
    assert reference_delays(8, 10, 300, 3) == [10, 20, 40, 80, 160, 240, 300, 300]
    assert reference_delays(4, 10, 200, 0) == [10, 20, 30, 40]


@FAST
@given(
    low=st.floats(0.1, 3600, allow_nan=False),
    span=st.floats(0, 86400, allow_nan=False),
    doublings=st.integers(0, 20),
    count=st.integers(1, 40),
)
def test_retry_delays_match_the_reference(
    low: float, span: float, doublings: int, count: int
) -> None:
    high = low + span
    got = list(backoff.retry_delays(count, low, high, doublings))
    want = reference_delays(count, low, high, doublings)
    assert got == pytest.approx(want, rel=1e-9)
    assert all(low - 1e-9 <= d <= high + 1e-9 for d in got)
    assert all(a <= b + 1e-9 for a, b in itertools.pairwise(got))  # never shrinks


@FAST
@given(
    retries=st.integers(-10, 10**12),
    low=st.floats(0, MAX_DURATION_S),
    high=st.floats(0, MAX_DURATION_S),
    doublings=st.integers(-5, 2**31 - 1),
)
def test_retry_delay_is_finite_and_capped_for_every_accepted_config(
    retries: int, low: float, high: float, doublings: int
) -> None:
    delay = backoff.retry_delay(retries, low, high, doublings)
    assert math.isfinite(delay) and 0 <= delay <= max(0.0, high)


@FAST
@given(
    start=st.integers(0, backoff.MAX_SCHEDULE_US),
    delay=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True), st.floats(0, 10.0 * MAX_DURATION_S)
    ),
)
def test_schedule_after_never_overflows(start: int, delay: float) -> None:
    at = backoff.schedule_after(start, delay)
    assert isinstance(at, int) and at <= backoff.MAX_SCHEDULE_US < 2**63
    if delay > 0 and start + delay * 1e6 < backoff.MAX_SCHEDULE_US - 1:
        assert at == start + int(delay * 1_000_000)


def reference_give_up(
    attempts: int, max_attempts: int, first: float | None, now: float, max_duration: float
) -> bool:
    """RetryConfig: stop when both limits that are set are reached; nothing set = never."""
    limits = []
    if max_attempts >= 0:
        limits.append(attempts >= max_attempts)
    if max_duration > 0:
        limits.append(first is not None and now - first >= max_duration)
    return bool(limits) and all(limits)


@FAST
@given(
    attempts=st.integers(1, 500),
    max_attempts=st.integers(-1, 500),
    first=st.one_of(st.none(), st.floats(0, 1e6)),
    elapsed=st.floats(0, 1e6),
    max_duration=st.floats(0, 1e6),
)
def test_give_up_matches_the_reference(
    attempts: int, max_attempts: int, first: float | None, elapsed: float, max_duration: float
) -> None:
    now = (first or 0.0) + elapsed
    assert backoff.should_give_up(attempts, max_attempts, first, now, max_duration) == (
        reference_give_up(attempts, max_attempts, first, now, max_duration)
    )


# ---------------------------------------------------------------------------------------------
# Validation


def _duration(seconds: int, nanos: int = 0) -> dict[str, int]:
    return {"seconds": seconds, "nanos": nanos}


durations = st.tuples(
    st.integers(-(2**40), 2**62), st.sampled_from([0, 1, 500_000_000, 999_999_999, -1, 10**9])
)


def reference_duration_ok(seconds: int, nanos: int) -> bool:
    return 0 <= seconds <= 315_576_000_000 and 0 <= nanos < 1_000_000_000


@FAST
@given(
    min_b=durations, max_b=durations, retry=durations,
    attempts=st.integers(-(2**31), 2**31 - 1), doublings=st.integers(-(2**31), 2**31 - 1),
)  # fmt: skip
def test_retry_config_accepted_exactly_when_in_range(
    min_b: tuple[int, int], max_b: tuple[int, int], retry: tuple[int, int], attempts: int,
    doublings: int,
) -> None:  # fmt: skip
    config = RetryPb(
        max_attempts=attempts, max_doublings=doublings, min_backoff=_duration(*min_b),
        max_backoff=_duration(*max_b), max_retry_duration=_duration(*retry),
    )  # fmt: skip
    in_range = (
        attempts >= -1 and doublings >= 0
        and all(reference_duration_ok(*d) for d in (min_b, max_b, retry))
    )  # fmt: skip
    if in_range:
        # The engine keeps durations to the microsecond (a sub-microsecond part is dropped, so
        # 1 ns is "unset"), and compares the backoffs at that resolution.
        low, high = min_b[0] * 10**6 + min_b[1] // 1000, max_b[0] * 10**6 + max_b[1] // 1000
        in_range = not (low and high and low > high)
    try:
        check_retry_config(config, "queue.retry_config")
    except InvalidArgument as exc:
        assert not in_range, exc
        assert str(exc).startswith("queue.retry_config.")
    else:
        assert in_range


@FAST
@given(port=st.integers(-(2**63), 2**63 - 1))
def test_uri_override_port_accepted_exactly_in_range(port: int) -> None:
    queue = QueuePb(name=f"{PARENT}/queues/q", http_target={"uri_override": {"port": port}})
    try:
        prepare_new_queue(PARENT, queue)
    except InvalidArgument as exc:
        assert not 0 <= port <= 65535
        assert "queue.http_target.uri_override.port" in str(exc)
    else:
        assert 0 <= port <= 65535


host_chars = st.characters(min_codepoint=0, max_codepoint=0x7F)
# A host made of these cannot end the authority early ("?", "#", "/") or hide the port
# behind userinfo or brackets ("@", "[", "]", ":"), so the port the test writes is the
# port the URL has.
authority_chars = st.characters(min_codepoint=0, max_codepoint=0x7F, exclude_characters="/?#@[]:")


@FAST
@given(
    host=st.text(authority_chars, min_size=1, max_size=12),
    port=st.one_of(st.none(), st.integers(0, 200_000)),
    path=st.text(host_chars, max_size=12),
)
def test_task_urls_never_pass_with_control_characters_or_bad_ports(
    host: str, port: int | None, path: str
) -> None:
    url = f"http://{host}" + (f":{port}" if port is not None else "") + "/" + path
    task = TaskPb(http_request={"url": url})
    try:
        prepare_new_task(QUEUE, str(QUEUE), task, 1_700_000_000_000_000)
    except InvalidArgument as exc:
        assert str(exc).startswith("task.http_request.url")
        return
    assert not any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url)
    assert port is None or port <= 65535


@FAST
@given(
    number=st.floats(0, 1e30, allow_nan=False, allow_infinity=False),
    unit=st.sampled_from(["", "ms", "s", "m", "h", "d"]),
)
def test_cli_durations_accepted_exactly_up_to_the_duration_limit(number: float, unit: str) -> None:
    text = f"{number:f}{unit}"
    factor = {"": 1, "ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    assume(abs(number * factor - MAX_DURATION_SECONDS) > 1)  # away from float rounding
    try:
        seconds = parse_duration(text, "--x")
    except UsageError:
        assert number * factor > MAX_DURATION_SECONDS
    else:
        assert seconds <= MAX_DURATION_SECONDS
