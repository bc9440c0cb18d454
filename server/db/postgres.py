"""Postgres through an asyncpg pool.

asyncpg prepares each statement once per connection and keeps it by its SQL text; the compiled
statement cache (server/db/statements.py) keeps that text stable, so a repeated query is one
round trip with no parse or plan. `lock_timeout` makes a statement that waits on a lock fail
(then: unavailable, 503) instead of hanging the request.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from sqlalchemy.dialects.postgresql.base import PGDialect

from server.db.statements import Prepared, Row, Statements

POOL_MIN, POOL_MAX = 1, 10


def _dialect() -> PGDialect:
    return PGDialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]


async def _fetch(connection: asyncpg.Connection[Any], prepared: Prepared) -> list[Row]:
    records = await connection.fetch(prepared.shape.sql, *prepared.args)
    return prepared.shape.rows(records, lambda: list(records[0].keys()) if records else [])


class PostgresSession:
    def __init__(self, connection: asyncpg.Connection[Any]) -> None:
        self._connection = connection

    async def run(self, prepared: Prepared) -> list[Row]:
        return await _fetch(self._connection, prepared)

    async def run_many(self, sql: str, args: list[list[Any]]) -> None:
        await self._connection.executemany(sql, args)


class Postgres:
    def __init__(self, url: str, *, lock_timeout: float) -> None:
        self.url = url
        self.statements = Statements(_dialect())
        self._settings = {"lock_timeout": str(max(1, int(lock_timeout * 1000)))}
        self._pool: asyncpg.Pool[Any] | None = None

    async def connect(self) -> None:
        self._pool = await asyncpg.create_pool(
            self.url, min_size=POOL_MIN, max_size=POOL_MAX, server_settings=self._settings
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> asyncpg.Pool[Any]:
        if self._pool is None:
            raise asyncpg.InterfaceError("pool is closing: not connected")
        return self._pool

    async def run(self, prepared: Prepared) -> list[Row]:
        async with self.pool.acquire() as connection:
            return await _fetch(connection, prepared)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresSession]:
        async with self.pool.acquire() as connection, connection.transaction():
            yield PostgresSession(connection)
