"""Rows written soon rather than now: the inserts a hot path should not wait for.

A flow's start records `auth.started`, a row nothing reads back in the same request; writing it
at once cost a commit per start, about an eighth of a start on SQLite. So such rows queue here
and are written together, one transaction per batch, at most DELAY later, before this process
lists them, and when the database is closed: a clean shutdown loses none. A crash of the process
loses the last DELAY's rows, so only rows that are a record and nothing more come this way
(events no webhook is sent for), never a connection, a flow's single-use mark or the outbox.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    from server.db.database import Database

logger = logging.getLogger("latchkey.db")

DELAY = 0.2  # seconds a queued row waits at most (while the database accepts writes)
RETRY_DELAY = 5.0  # after a failed write (the database is down): the rows stay queued
BATCH = 500  # rows per transaction
LIMIT = 10_000  # rows kept while the database refuses them; beyond that the oldest are dropped, logged


class Later:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._rows: list[tuple[sa.Table, Mapping[str, Any]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._dropped = 0  # rows dropped since the last write that worked

    @property
    def pending(self) -> int:
        return len(self._rows)

    def insert(self, table: sa.Table, values: Mapping[str, Any]) -> None:
        """Queue one row; it is written within DELAY."""
        self._rows.append((table, values))
        if len(self._rows) > LIMIT:
            del self._rows[0]
            if not self._dropped:  # once per outage; the count comes when writing works again
                logger.warning("dropping the oldest queued rows: %d are waiting to be written", LIMIT)
            self._dropped += 1
        self._schedule(DELAY)

    async def write(self) -> None:
        """Write every queued row now, in this task (inside its transaction, if one is open)."""
        while self._rows:
            batch, self._rows = self._rows[:BATCH], self._rows[BATCH:]
            try:
                async with self._db.transaction():
                    for (table, _), rows in itertools.groupby(batch, key=lambda r: (r[0], tuple(r[1]))):
                        await self._db.insert_many(table, [values for _, values in rows])
            except BaseException:
                self._rows[:0] = batch  # kept for the next write
                raise
        if self._dropped:
            logger.warning("%d queued rows were dropped while the database refused writes", self._dropped)
            self._dropped = 0

    async def close(self) -> None:
        """Cancel the timer and write what is queued (the database is about to close)."""
        if self._task is not None:
            await asyncio.wait({self._task})
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            await self.write()
        except Exception:
            logger.exception("could not write %d queued rows before closing the database", len(self._rows))

    def _schedule(self, delay: float) -> None:
        if self._timer is not None or self._task is not None:
            return
        # An empty context: the writer task must not inherit the request's (its open transaction).
        self._timer = asyncio.get_running_loop().call_later(delay, self._start, context=contextvars.Context())

    def _start(self) -> None:
        self._timer = None
        self._task = asyncio.get_running_loop().create_task(self._write_in_background())

    async def _write_in_background(self) -> None:
        delay = DELAY
        try:
            await self.write()
        except Exception as exc:  # noqa: BLE001 - nobody awaits this task: log, keep the rows, retry
            delay = RETRY_DELAY
            logger.warning("could not write %d queued rows (%s); retrying", len(self._rows), type(exc).__name__)
        finally:
            self._task = None
        if self._rows:
            self._schedule(delay)
