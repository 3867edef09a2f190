"""Per-queue attempt outcome rates for ``/v1/stats`` (``engine top``), at any dispatch rate.

The stats once derived rates from the last 1,000 attempts; over a 5 s window that capped every
rate it showed at 200/s while a queue really ran at 500/s. Counting into 50 ms buckets has
no such ceiling and costs O(1) per attempt and O(buckets) per read.
"""

from __future__ import annotations

from collections import Counter, deque

BUCKET_S = 0.05


class OutcomeRates:
    """Counts of attempt outcomes ("done", "retry", "gave_up", ...) in ``BUCKET_S`` buckets."""

    def __init__(self, keep_s: float = 10.0, bucket_s: float = BUCKET_S) -> None:
        self.bucket_s = bucket_s
        self.keep = int(keep_s / bucket_s) + 1
        self._buckets: deque[tuple[int, Counter[str]]] = deque()

    def add(self, kind: str, now: float) -> None:
        """Count one outcome at monotonic time ``now``."""
        index = int(now / self.bucket_s)
        if not self._buckets or self._buckets[-1][0] != index:
            self._buckets.append((index, Counter()))
            while self._buckets and self._buckets[0][0] <= index - self.keep:
                self._buckets.popleft()
        self._buckets[-1][1][kind] += 1

    def per_second(
        self, window_s: float, now: float, kinds: tuple[str, ...] | None = None
    ) -> float:
        """Outcomes of ``kinds`` (all when None) per second over the last ``window_s`` seconds.

        Counts whole buckets from the one holding ``now - window_s`` on (so at most one bucket,
        50 ms, more than the window) and divides by ``window_s``.
        """
        if window_s <= 0:
            return 0.0
        first = int((now - window_s) / self.bucket_s)
        total = 0
        for index, counts in self._buckets:
            if index < first:
                continue
            total += sum(counts.values()) if kinds is None else sum(counts[k] for k in kinds)
        return total / window_s
