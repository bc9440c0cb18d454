"""SQLite through the standard `sqlite3` module, on the event loop; a thread only to wait for a lock.

A short indexed statement takes microseconds; handing it to a thread and back costs more than
running it (and, on two cores, a GIL hand-off per query). So statements run where the request
runs, with no busy wait: a statement that meets a lock held by another process (SQLITE_BUSY) is
retried on the one helper thread, which may wait the full lock timeout without blocking the loop.

- Reads use their own connection: in WAL mode a reader never waits for a writer and never sees
  another task's open transaction.
- Writes use one writer connection, held by one task at a time (an asyncio lock with the lock
  timeout): SQLite has one writer at a time anyway, and this process's writers queue instead of
  failing against each other. Transactions begin IMMEDIATE, so a transaction that reads and then
  writes takes the write lock at BEGIN rather than failing when another writer came in between.
- The writer never checkpoints while committing (a checkpoint syncs the file, milliseconds on the
  loop): the helper thread runs a passive checkpoint every CHECKPOINT_EVERY commits.
  synchronous=NORMAL is durable across application crashes in WAL mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

from server.db.statements import Prepared, Row, Statements

T = TypeVar("T")

logger = logging.getLogger("latchkey.db")

PRAGMAS = ("PRAGMA synchronous = NORMAL", "PRAGMA foreign_keys = ON")
CHECKPOINT_EVERY = 500  # commits between passive checkpoints (SQLite's own default is 1000 pages)
_BUSY = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED: another connection holds the lock


def _fetch(connection: sqlite3.Connection, prepared: Prepared) -> list[Row]:
    cursor = connection.execute(prepared.shape.sql, prepared.args)
    raw = cursor.fetchall()
    return prepared.shape.rows(raw, lambda: [d[0] for d in cursor.description or ()])


def _busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in _BUSY


class SQLiteSession:
    """The writer connection inside one transaction: its reads see its own writes."""

    def __init__(self, backend: SQLite) -> None:
        self._backend = backend

    async def run(self, prepared: Prepared) -> list[Row]:
        return await self._backend.write(prepared)

    async def run_many(self, sql: str, args: list[list[Any]]) -> None:
        await self._backend.write_many(sql, args)


class SQLite:
    def __init__(self, path: str, *, lock_timeout: float) -> None:
        self.path = path
        self.statements = Statements(SQLiteDialect_pysqlite(paramstyle="qmark"))
        self._lock_timeout = lock_timeout
        self._timeout_ms = max(1, int(lock_timeout * 1000))
        self._reader: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None
        self._waiter: sqlite3.Connection | None = None  # the helper thread's: waits, checkpoints
        self._thread: ThreadPoolExecutor | None = None
        self._write_lock = asyncio.Lock()
        self._commits = 0
        self._checkpoint: Future[None] | None = None

    async def connect(self) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="latchkey-sqlite")
        # WAL is a property of the file: set once, patiently (another process may be starting too).
        self._waiter = await self._on_thread(self._open, self._timeout_ms, "PRAGMA journal_mode=WAL")
        self._writer = self._open(0, "PRAGMA wal_autocheckpoint = 0")
        self._reader = self._open(0)

    async def close(self) -> None:
        for name in ("_reader", "_writer"):
            connection = getattr(self, name)
            if connection is not None:
                connection.close()
                setattr(self, name, None)
        if self._waiter is not None:
            waiter, self._waiter = self._waiter, None
            await self._on_thread(waiter.close)
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None

    def _open(self, busy_timeout_ms: int, *pragmas: str) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        for pragma in (*pragmas, f"PRAGMA busy_timeout = {busy_timeout_ms}", *PRAGMAS):
            connection.execute(pragma)
        return connection

    async def run(self, prepared: Prepared) -> list[Row]:
        if not prepared.shape.is_read:
            async with self.writing():
                rows = await self.write(prepared)
            self._committed()
            return rows
        try:
            return _fetch(_connected(self._reader), prepared)
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
        return await self._on_thread(_fetch, _connected(self._waiter), prepared)

    async def write(self, prepared: Prepared) -> list[Row]:
        """A statement on the writer connection; the caller holds it (`writing`)."""
        writer = _connected(self._writer)
        try:
            return _fetch(writer, prepared)
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
        return await self._on_thread(self._patiently, _fetch, writer, prepared)

    async def write_many(self, sql: str, args: list[list[Any]]) -> None:
        """One statement for each parameter list, on the writer connection; the caller holds it."""
        writer = _connected(self._writer)
        try:
            writer.executemany(sql, args)
            return
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
        await self._on_thread(self._patiently, writer.executemany, sql, args)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[SQLiteSession]:
        async with self.writing():
            await self._writer_sql("BEGIN IMMEDIATE")
            try:
                yield SQLiteSession(self)
            except BaseException:
                self._rollback()
                raise
            try:
                await self._writer_sql("COMMIT")
            except BaseException:
                self._rollback()
                raise
        self._committed()

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """The writer connection for one task; waiting longer than the lock timeout is a locked database."""
        try:
            if self._write_lock.locked():  # else acquiring is immediate: no timer, no task
                await asyncio.wait_for(self._write_lock.acquire(), self._lock_timeout)
            else:
                await self._write_lock.acquire()
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked: the writer was busy past the lock timeout") from None
        try:
            yield
        finally:
            self._write_lock.release()

    async def _writer_sql(self, sql: str) -> None:
        await self.write(self.statements.prepare(sql))

    def _rollback(self) -> None:
        writer = _connected(self._writer)
        if writer.in_transaction:
            writer.execute("ROLLBACK")

    def _patiently(self, work: Callable[..., T], *args: Any) -> T:
        """On the helper thread: the writer waits for the lock up to the lock timeout."""
        writer = _connected(self._writer)
        writer.execute(f"PRAGMA busy_timeout = {self._timeout_ms}")
        try:
            return work(*args)
        finally:
            writer.execute("PRAGMA busy_timeout = 0")

    async def _on_thread(self, work: Callable[..., T], *args: Any) -> T:
        if self._thread is None:
            raise sqlite3.OperationalError("unable to open database: not connected")
        future = asyncio.get_running_loop().run_in_executor(self._thread, lambda: work(*args))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # The thread still uses the connection: keep it until the statement ends.
            with contextlib.suppress(BaseException):
                await asyncio.wait({future})
            raise

    def _committed(self) -> None:
        self._commits += 1
        if self._commits < CHECKPOINT_EVERY or self._thread is None or self._waiter is None:
            return
        if self._checkpoint is not None and not self._checkpoint.done():
            return
        self._commits = 0
        self._checkpoint = self._thread.submit(self._run_checkpoint, self._waiter)

    @staticmethod
    def _run_checkpoint(connection: sqlite3.Connection) -> None:
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:  # the next one will try again
            logger.warning("SQLite checkpoint failed: %s", exc)


def _connected(connection: sqlite3.Connection | None) -> sqlite3.Connection:
    if connection is None:
        raise sqlite3.OperationalError("unable to open database: not connected")
    return connection
