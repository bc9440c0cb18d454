"""The database: one small async interface over SQLite (`sqlite3`) and Postgres (asyncpg).

Why not the `databases` package, which this replaced: it compiled every SQLAlchemy statement on
every query (about 40 % of an API request), hopped to a thread for every SQLite query, and has had
no release since March 2024. SQLAlchemy Core stays the query language; statements compile once
per shape (server/db/statements.py); SQLite reads run on the loop (server/db/sqlite.py). The
surface is what the stores use: fetch_all, fetch_one, fetch_val, execute and transaction —
nested transactions are savepoints, and a transaction belongs to the task that opened it (a task
it starts does not write inside it).

Also what counts as "the database is unavailable": a fault that passes (a lock held longer than
the lock timeout, a refused or terminated connection, a full disk), answered 503 with Retry-After
so clients retry, as opposed to a bug (a constraint violation, bad SQL), which stays a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import asyncpg
import sqlalchemy as sa

from server.db.later import Later
from server.db.postgres import Postgres
from server.db.sqlite import SQLite
from server.db.statements import Prepared, Query, Row, Statements

DialectName = Literal["sqlite", "postgresql"]

# SQLite primary result codes that mean "not now" rather than "wrong": BUSY, LOCKED, NOMEM, IOERR,
# FULL, CANTOPEN, PROTOCOL (https://www.sqlite.org/rescode.html).
_SQLITE_UNAVAILABLE = frozenset({5, 6, 7, 10, 13, 14, 15})
# Postgres SQLSTATEs of the same kind: lock_not_available (a lock held past lock_timeout),
# query_canceled (statement_timeout), cannot_connect_now, admin / crash shutdown (a terminated
# backend); whole classes 08 (connection exception) and 53 (insufficient resources: too many
# connections, disk full).
_POSTGRES_UNAVAILABLE = frozenset({"55P03", "57014", "57P01", "57P02", "57P03"})
_POSTGRES_UNAVAILABLE_CLASSES = ("08", "53")


def database_unavailable(exc: BaseException) -> bool:
    """True for a database fault that passes by itself: worth a 503 and a retry, not a 500."""
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)
        if isinstance(code, int):
            return code & 0xFF in _SQLITE_UNAVAILABLE
        return str(exc).startswith(("database is locked", "database table is locked", "unable to open database"))
    if isinstance(exc, asyncpg.PostgresError):
        state = exc.sqlstate or ""
        if state == "55000":  # object_not_in_prerequisite_state: unavailable only when connecting is refused
            return "not currently accepting connections" in str(exc)
        return state in _POSTGRES_UNAVAILABLE or state.startswith(_POSTGRES_UNAVAILABLE_CLASSES)
    if isinstance(exc, asyncpg.InterfaceError):
        return "connection is closed" in str(exc) or "pool is closing" in str(exc)
    if isinstance(exc, asyncpg.InternalClientError):
        # How asyncpg reports a pooled connection whose backend was terminated while it was in use
        # (seen with ALTER DATABASE … ALLOW_CONNECTIONS false and pg_terminate_backend).
        return "another operation" in str(exc)
    # Connecting: refused, reset, unreachable, timed out (TimeoutError is an OSError).
    return isinstance(exc, OSError)


class Session(Protocol):
    async def run(self, prepared: Prepared) -> list[Row]: ...
    async def run_many(self, sql: str, args: list[list[Any]]) -> None: ...


class Backend(Protocol):
    statements: Statements

    async def connect(self) -> None: ...
    async def close(self) -> None: ...
    async def run(self, prepared: Prepared) -> list[Row]: ...
    def transaction(self) -> AbstractAsyncContextManager[Session]: ...


class TransactionFailed(Exception):
    """A transaction whose part (`Database.atomic`) failed and was caught inside it: nothing committed."""


@dataclass
class _Open:
    """The transaction open in one task."""

    session: Session
    task: asyncio.Task[Any] | None
    savepoints: int = 0
    # A failure inside `atomic` and the savepoint depth it happened at: unless a savepoint at that
    # depth or above rolled it back, the transaction commits nothing.
    failed: tuple[BaseException, int] | None = None


_ids = itertools.count()


class Database:
    def __init__(self, backend: Backend, dialect: DialectName) -> None:
        self.dialect: DialectName = dialect
        self._backend = backend
        self._open: contextvars.ContextVar[_Open | None] = contextvars.ContextVar(
            f"latchkey_transaction_{next(_ids)}", default=None
        )
        self.later = Later(self)  # rows written soon rather than now (server/db/later.py)

    async def connect(self) -> None:
        await self._backend.connect()

    async def disconnect(self) -> None:
        await self.later.close()
        await self._backend.close()

    async def fetch_all(self, query: Query, values: Mapping[str, Any] | None = None) -> list[Row]:
        """`values` names the parameters of a statement built once (`sa.bindparam("id")`, `:id`)."""
        return await self._run(self._backend.statements.prepare(query, values))

    async def fetch_one(self, query: Query, values: Mapping[str, Any] | None = None) -> Row | None:
        rows = await self.fetch_all(query, values)
        return rows[0] if rows else None

    async def fetch_val(self, query: Query, values: Mapping[str, Any] | None = None, column: int = 0) -> Any:
        row = await self.fetch_one(query, values)
        return None if row is None else row[column]

    async def execute(self, query: Query, values: Mapping[str, Any] | None = None) -> None:
        await self.fetch_all(query, values)

    async def insert(self, table: sa.Table, values: Mapping[str, Any]) -> None:
        """One row into `table`: the hot paths' insert (server/db/statements.py prepare_insert)."""
        await self._run(self._backend.statements.prepare_insert(table, values))

    async def insert_many(self, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Rows that name the same columns into `table`, in one transaction: one statement, its
        parameters sent as a batch (the drivers' executemany), about a tenth of a row-by-row insert."""
        if not rows:
            return
        prepared = [self._backend.statements.prepare_insert(table, row) for row in rows]
        if len({p.shape.sql for p in prepared}) != 1:
            raise ValueError("insert_many: every row must name the same columns")
        async with self.transaction():
            open_ = self._current()
            assert open_ is not None
            await open_.session.run_many(prepared[0].shape.sql, [p.args for p in prepared])

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """All or nothing; inside another transaction of the same task, a savepoint."""
        open_ = self._current()
        if open_ is not None:
            async with self._savepoint(open_):
                yield
            return
        async with self._backend.transaction() as session:
            open_ = _Open(session, asyncio.current_task())
            token = self._open.set(open_)
            try:
                yield
                if open_.failed is not None:
                    raise TransactionFailed("a write inside this transaction failed: none of it is kept") from (
                        open_.failed[0]
                    )
            finally:
                self._open.reset(token)

    @contextlib.asynccontextmanager
    async def atomic(self) -> AsyncIterator[None]:
        """All or nothing like `transaction`, with no savepoint of its own (two statements fewer):
        alone, a transaction; inside the task's open transaction, part of it — and a failure here
        fails all of it, even when a caller catches it (that transaction then commits nothing)."""
        open_ = self._current()
        if open_ is None:
            async with self.transaction():
                yield
            return
        try:
            yield
        except BaseException as exc:
            open_.failed = open_.failed or (exc, open_.savepoints)
            raise

    @contextlib.asynccontextmanager
    async def _savepoint(self, open_: _Open) -> AsyncIterator[None]:
        open_.savepoints += 1
        name = f"latchkey_{open_.savepoints}"
        await self.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            await self.execute(f"ROLLBACK TO SAVEPOINT {name}")
            if open_.failed is not None and open_.failed[1] >= open_.savepoints:
                open_.failed = None  # what failed is undone
            raise
        else:
            await self.execute(f"RELEASE SAVEPOINT {name}")
        finally:
            open_.savepoints -= 1

    async def _run(self, prepared: Prepared) -> list[Row]:
        """In this task's open transaction if there is one, else on its own."""
        open_ = self._current()
        return await (open_.session if open_ is not None else self._backend).run(prepared)

    def _current(self) -> _Open | None:
        open_ = self._open.get()
        if open_ is not None and open_.task is asyncio.current_task():
            return open_
        return None


def open_database(url: str, *, lock_timeout: float = 15.0) -> Database:
    """`lock_timeout`: seconds a statement waits for a lock before it fails (then: unavailable)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1].split("?", 1)[0]
        return Database(SQLite(path, lock_timeout=lock_timeout), "sqlite")
    for prefix in ("postgres://", "postgresql+asyncpg://"):
        if url.startswith(prefix):
            url = "postgresql://" + url[len(prefix) :]
    return Database(Postgres(url, lock_timeout=lock_timeout), "postgresql")


async def close_database(database: Database) -> None:
    await database.disconnect()
