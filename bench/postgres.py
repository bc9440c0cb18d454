"""A fresh Postgres database for one bench run, dropped at the end (trust auth, user postgres)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator

import asyncpg

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


async def _admin(admin_url: str, sql: str) -> None:
    admin = await asyncpg.connect(admin_url, timeout=5)
    try:
        await admin.execute(sql)
    finally:
        await admin.close()


def unreachable(admin_url: str) -> str | None:
    """Why Postgres cannot be used, or None when it can."""
    try:
        asyncio.run(_admin(admin_url, "SELECT 1"))
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return f"{admin_url} did not answer ({type(exc).__name__}: {exc})"
    return None


@contextlib.contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    name = "latchkey_bench_" + secrets.token_hex(4)
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
