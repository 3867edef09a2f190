"""How far to move the manual clock: ``10m``, ``2d``, ``1d12h30m``, ``250ms`` or seconds.

Standard library only: the CLI imports it to check its argument before calling the engine.
"""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h|d)")
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
HINT = "use a duration such as 250ms, 10s, 10m, 2h, 2d or 1d12h"


def parse_span(text: str) -> float:
    """Seconds in ``text``; ValueError (with a hint) for anything else, negatives included."""
    value = str(text).strip()
    if _NUMBER.fullmatch(value):
        return float(value)
    pos, total = 0, 0.0
    for match in _PART.finditer(value):
        if match.start() != pos:
            break
        total += float(match[1]) * _UNIT_SECONDS[match[2]]
        pos = match.end()
    if pos != len(value) or not value:
        raise ValueError(f"{text!r} is not a duration ({HINT})")
    return total
