"""Opening the database: SQLite (aiosqlite) by default, Postgres (asyncpg) by URL.

Also what counts as "the database is unavailable": a fault that passes (a lock held longer than
the lock timeout, a refused or terminated connection, a full disk), answered 503 with Retry-After
so clients retry, as opposed to a bug (a constraint violation, bad SQL), which stays a 500.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg
from databases import Database

from server.db.sqlite_pool import install

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


def open_database(url: str, *, lock_timeout: float = 15.0) -> Database:
    """`lock_timeout`: seconds a statement waits for a lock before it fails (then: unavailable)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1].split("?", 1)[0]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # WAL lets readers run beside a writer; it is a property of the file, so set it once here.
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
        database = Database(url)
        install(database, path, busy_timeout_ms=int(lock_timeout * 1000))
        return database
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    lock_ms = str(max(1, int(lock_timeout * 1000)))
    return Database(url, min_size=1, max_size=10, server_settings={"lock_timeout": lock_ms})


async def close_database(database: Database) -> None:
    await database.disconnect()
    pool: object = getattr(database._backend, "_pool", None)
    if hasattr(pool, "close"):
        await pool.close()
