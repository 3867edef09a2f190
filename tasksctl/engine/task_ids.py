"""Generated task IDs: 19 random-looking digits that never repeat and map back to a row id.

The service gives unnamed tasks random numeric IDs (Google warns against sequential ones). We
derive ours from the task's row id with a keyed Feistel permutation of 62-bit numbers, plus
10^18 so every ID has 19 digits: IDs look random, are never sequential, can never collide (a
permutation is one-to-one) and decode back to the row id, so the database finds an unnamed
task by primary key instead of keeping a random-key index that costs a page write per insert.
The key is random per database (stored in its ``meta`` table).
"""

from __future__ import annotations

import secrets

_HALF_BITS = 31
_HALF_MASK = (1 << _HALF_BITS) - 1
DOMAIN = 1 << (2 * _HALF_BITS)  # row ids below 2^62
OFFSET = 10**18  # smallest 19-digit number
ROUNDS = 4


def new_key() -> str:
    """A fresh permutation key (hex text, for the ``meta`` table)."""
    return secrets.token_hex(4 * ROUNDS)


class TaskIdCodec:
    """Encode row ids as task IDs and decode them back."""

    def __init__(self, key: str) -> None:
        raw = bytes.fromhex(key)
        self._keys = tuple(int.from_bytes(raw[i * 4 : i * 4 + 4], "big") for i in range(ROUNDS))

    @staticmethod
    def _mix(value: int, key: int) -> int:
        value = (value * 0x2545F491 + key) & 0xFFFFFFFF
        value ^= value >> 13
        value = (value * 0x9E3779B1) & 0xFFFFFFFF
        return (value ^ (value >> 16)) & _HALF_MASK

    def encode(self, rowid: int) -> str:
        if not 0 < rowid < DOMAIN:
            raise ValueError(f"row id out of range: {rowid}")
        left, right = rowid >> _HALF_BITS, rowid & _HALF_MASK
        for key in self._keys:
            left, right = right, left ^ self._mix(right, key)
        return str(OFFSET + ((left << _HALF_BITS) | right))

    def decode(self, task_id: str) -> int | None:
        """The row id a generated ID stands for, or None if it cannot be one."""
        if len(task_id) != 19 or not task_id.isdigit():
            return None
        value = int(task_id) - OFFSET
        if not 0 <= value < DOMAIN:
            return None
        left, right = value >> _HALF_BITS, value & _HALF_MASK
        for key in reversed(self._keys):
            left, right = right ^ self._mix(left, key), left
        return (left << _HALF_BITS) | right
