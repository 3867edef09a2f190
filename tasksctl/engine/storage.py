"""The storage interface the servicer and the dispatcher depend on (``store.Store`` implements it).

Work is a function of a ``sqlite3.Connection`` (the functions in ``records`` and
``dispatch_records``): ``read`` runs one at once and sees every committed write; ``write``
queues one for the next group transaction and its awaitable resolves only once that
transaction is durable. How writes are batched and committed is the store's own business.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from tasksctl.engine.clock import Clock
from tasksctl.engine.task_ids import TaskIdCodec
from tasksctl.errors import EngineUnavailable

T = TypeVar("T")


class StoreClosed(EngineUnavailable):
    """The engine is shutting down: the store takes no more work."""


class Storage(Protocol):
    """An open engine database. Call every method from the event-loop thread that opened it."""

    clock: Clock
    # Encodes row ids as generated task IDs and back; the key is the database's own.
    task_ids: TaskIdCodec
    # Queue name -> row id, for write functions only; the store empties it whenever a
    # transaction fails, so it never holds an id that was rolled back.
    queue_ids: dict[str, int]

    def open(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Create or migrate the database and get ready for reads and writes."""
        ...

    async def close(self) -> None:
        """Make every write already submitted durable, then release the database."""
        ...

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` now; it sees every acknowledged write."""
        ...

    def write(
        self,
        fn: Callable[[sqlite3.Connection], T],
        savepoint: bool = True,
        background: bool = False,
    ) -> Awaitable[T]:
        """Run ``fn(conn)`` in a transaction; the result (or its error) once durable.

        With ``savepoint`` (the default) an error undoes only ``fn``'s own changes;
        ``savepoint=False`` is for a function whose only write is its last statement.
        ``background`` (delivery outcomes) yields to every API write waiting.
        """
        ...

    def allocate_task_rowid(self) -> int:
        """A fresh row id for a task insert (never handed out twice)."""
        ...
