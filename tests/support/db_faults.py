"""Real database faults for tests: another connection holding a lock, or Postgres refusing connections.

No mocks: the app under test meets the fault the way it would in production — its statements wait
for a lock until its lock timeout ends them, or its connections are terminated and new ones refused.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from tests.harness import _admin, _in_own_thread


class WriteLock:
    """Another connection holding a write lock: on SQLite the whole file (BEGIN IMMEDIATE), on
    Postgres the named tables (LOCK TABLE … IN ACCESS EXCLUSIVE MODE, which blocks reads too)."""

    def __init__(self, database_url: str, tables: tuple[str, ...] = ("connections",)) -> None:
        self.database_url = database_url
        self.tables = tables
        self._sqlite: sqlite3.Connection | None = None
        self._postgres: asyncpg.Connection[Any] | None = None

    async def acquire(self) -> None:
        if self.database_url.startswith("sqlite"):
            path = self.database_url.split("///", 1)[1]
            self._sqlite = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._sqlite.execute("BEGIN IMMEDIATE")
            return
        self._postgres = await asyncpg.connect(self.database_url)
        await self._postgres.execute("BEGIN")
        for table in self.tables:
            await self._postgres.execute(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')

    async def release(self) -> None:
        if self._sqlite is not None:
            self._sqlite.execute("ROLLBACK")
            self._sqlite.close()
            self._sqlite = None
        if self._postgres is not None:
            await self._postgres.execute("ROLLBACK")
            await self._postgres.close()
            self._postgres = None


@contextlib.asynccontextmanager
async def write_locked(database_url: str, tables: tuple[str, ...] = ("connections",)) -> AsyncIterator[WriteLock]:
    lock = WriteLock(database_url, tables)
    await lock.acquire()
    try:
        yield lock
    finally:
        await lock.release()


def admin_url_of(database_url: str) -> tuple[str, str]:
    """(the maintenance database's URL, the test database's name) of a Postgres test database."""
    base, name = database_url.rsplit("/", 1)
    return f"{base}/postgres", name


class PostgresOutage:
    """The test database refuses new connections and its open ones are terminated, until `end()`."""

    def __init__(self, database_url: str) -> None:
        self.admin_url, self.name = admin_url_of(database_url)

    def begin(self) -> None:
        _in_own_thread(_admin(self.admin_url, f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false'))
        _in_own_thread(
            _admin(
                self.admin_url,
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{self.name}'"
                " AND pid <> pg_backend_pid()",
            )
        )

    def end(self) -> None:
        _in_own_thread(_admin(self.admin_url, f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true'))
