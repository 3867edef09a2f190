"""API first: how many delivery attempts may start per event-loop iteration.

The API (gRPC, REST, the side port) and the dispatcher share one event loop. A gRPC call needs
several loop iterations (gRPC's poller hands each of its events to the loop, the handler runs,
the group commit runs at the next iteration, the answer goes back through the poller), so its
latency is a multiple of how long an iteration takes, and while the dispatcher runs flat out
an iteration is as long as the work started in the ones before: every attempt launched now
comes back as a response to parse and an outcome to record.

So the dispatcher asks a ``LaunchGate`` before it starts attempts: at most ``LAUNCHES_PER_TURN``
per iteration across all queues, and only ``LAUNCHES_PER_TURN_API`` while an API call is in
progress or ended less than ``API_HOLD_S`` ago (a caller's next call is usually already on its
way). The iterations then shrink within a few turns and the call is answered at once; with no
API traffic the dispatcher keeps its full rate. A queue that finds no room waits in a FIFO and
is woken at a later iteration, in turn, instead of spinning.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

LAUNCHES_PER_TURN = 8
LAUNCHES_PER_TURN_API = 1
API_HOLD_S = 0.02


class ApiActivity:
    """Counts API calls in progress (the servicer's ``rpc`` wrapper, the side port)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.active = 0
        self._monotonic = monotonic
        self._last_end = -API_HOLD_S

    def begin(self) -> None:
        self.active += 1

    def end(self) -> None:
        self.active -= 1
        self._last_end = self._monotonic()

    def busy(self) -> bool:
        """An API call is in progress or ended less than ``API_HOLD_S`` ago."""
        return self.active > 0 or self._monotonic() - self._last_end < API_HOLD_S


class LaunchGate:
    """The per-iteration launch budget shared by every queue's scheduler."""

    def __init__(self, activity: ApiActivity | None = None) -> None:
        self.activity = activity or ApiActivity()
        self._used = 0
        self._turn_pending = False
        self._waiters: deque[asyncio.Future[None]] = deque()

    def budget(self) -> int:
        return LAUNCHES_PER_TURN_API if self.activity.busy() else LAUNCHES_PER_TURN

    def room(self) -> int:
        """How many more attempts may start in this iteration."""
        return self.budget() - self._used

    def take(self) -> None:
        """Count one attempt started in this iteration."""
        self._used += 1
        self._next_turn()

    async def wait(self) -> None:
        """Wait, in FIFO order, for an iteration with room."""
        future = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        self._next_turn()
        await future

    def _next_turn(self) -> None:
        if not self._turn_pending:
            self._turn_pending = True
            # call_soon from inside an iteration runs in the next one: a fresh budget there.
            asyncio.get_running_loop().call_soon(self._new_turn)

    def _new_turn(self) -> None:
        self._turn_pending = False
        self._used = 0
        woken, budget = 0, self.budget()
        while woken < budget and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # else its scheduler was cancelled
                waiter.set_result(None)
                woken += 1
        if self._waiters:
            self._next_turn()
