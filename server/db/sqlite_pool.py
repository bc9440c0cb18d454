"""A reusing connection pool for `databases`' SQLite backend.

`databases` 0.9 opens a fresh aiosqlite connection — a new thread and a new file handle — for
every query, which caps a flow at a few hundred requests per second and defeats per-connection
settings. This pool keeps connections open, hands them out one task at a time, and applies the
settings every connection needs: a busy timeout (concurrent writers wait instead of failing with
"database is locked") and synchronous=NORMAL, which is durable across application crashes in
WAL mode.

Transactions begin IMMEDIATE: a deferred transaction that reads and then writes fails at once
with "database is locked" when another connection wrote in between (SQLite cannot wait there
without risking a deadlock). Taking the write lock at BEGIN makes concurrent writers queue on the
busy timeout instead.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiosqlite
from aiosqlite.context import Result
from databases import Database

PRAGMAS = ("PRAGMA synchronous = NORMAL", "PRAGMA foreign_keys = ON")


class _ImmediateTransactions:
    """An aiosqlite connection whose `BEGIN` (issued by `databases`) is `BEGIN IMMEDIATE`."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Result[aiosqlite.Cursor]:
        return self._connection.execute("BEGIN IMMEDIATE" if sql == "BEGIN" else sql, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


class ReusingSQLitePool:
    def __init__(self, path: str, max_size: int = 8, *, busy_timeout_ms: int = 15000, **options: Any) -> None:
        self._path = path
        self._pragmas = (f"PRAGMA busy_timeout = {int(busy_timeout_ms)}", *PRAGMAS)
        self._options = options
        self._idle: list[_ImmediateTransactions] = []
        self._slots = asyncio.Semaphore(max_size)
        self._memref = None  # read by databases' SQLiteBackend.disconnect

    async def acquire(self) -> Any:
        await self._slots.acquire()
        try:
            if self._idle:
                return self._idle.pop()
            connection = aiosqlite.connect(database=self._path, isolation_level=None, **self._options)
            await connection.__aenter__()
            for pragma in self._pragmas:
                await connection.execute(pragma)
            return _ImmediateTransactions(connection)
        except BaseException:
            self._slots.release()
            raise

    async def release(self, connection: Any) -> None:
        try:
            if connection.in_transaction:
                await connection.rollback()
            self._idle.append(connection)
        except Exception:  # noqa: BLE001 - whatever broke the rollback, the connection is not reusable
            await connection.close()
        finally:
            self._slots.release()

    async def close(self) -> None:
        while self._idle:
            await self._idle.pop().close()


def install(database: Database, path: str, *, busy_timeout_ms: int = 15000) -> ReusingSQLitePool:
    pool = ReusingSQLitePool(path, busy_timeout_ms=busy_timeout_ms)
    database._backend._pool = pool
    return pool
