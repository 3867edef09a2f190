"""engine/spans.py: how far `engine clock advance` moves time."""

from __future__ import annotations

import pytest

from tasksctl.engine.spans import parse_span


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10", 10.0),
        ("2.5", 2.5),
        ("250ms", 0.25),
        ("10m", 600.0),
        ("2d", 172_800.0),
        ("1d12h", 129_600.0),
        ("3h59m", 14_340.0),
        ("1h0.5s", 3600.5),
    ],
)
def test_spans_add_up_their_parts(text: str, seconds: float) -> None:
    assert parse_span(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "-5s", "soon", "10x", "1d 2h", "h", "5s3"])
def test_anything_else_is_refused_with_a_hint(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_span(text)
