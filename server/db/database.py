"""Opening the database: SQLite (aiosqlite) by default, Postgres (asyncpg) by URL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from databases import Database

from server.db.sqlite_pool import install


def open_database(url: str) -> Database:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1].split("?", 1)[0]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # WAL lets readers run beside a writer; it is a property of the file, so set it once here.
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
        database = Database(url)
        install(database, path)
        return database
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    return Database(url, min_size=1, max_size=10)


async def close_database(database: Database) -> None:
    await database.disconnect()
    pool: object = getattr(database._backend, "_pool", None)
    if hasattr(pool, "close"):
        await pool.close()
