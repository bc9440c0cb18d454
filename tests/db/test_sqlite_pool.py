"""SQLite under concurrent writers: read-then-write transactions queue instead of failing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa

from server.db.clock import utcnow
from server.db.database import close_database, open_database
from server.db.migrations import migrate
from server.db.tables import workspaces


@pytest.fixture
def _database() -> None:
    """This test is about SQLite itself."""


async def test_concurrent_read_then_write_transactions_all_commit(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'pool.db'}")
    await db.connect()
    try:
        await migrate(db)

        async def read_then_write(i: int) -> None:
            async with db.transaction():
                await db.fetch_all(sa.select(workspaces.c.id))
                await asyncio.sleep(0.01)  # let another transaction write in between
                await db.execute(workspaces.insert().values(id=f"ws_{i}", name="n", created_at=utcnow()))

        await asyncio.gather(*(read_then_write(i) for i in range(8)))
        assert await db.fetch_val(sa.select(sa.func.count()).select_from(workspaces)) == 8
    finally:
        await close_database(db)
