"""Schema version 2 on top of version 1: v1's DDL never changes, and a v1 database upgrades in place."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from server.db import migrations
from server.db.clock import as_utc, utcnow
from server.db.database import close_database, open_database
from server.db.tables import connections, schema_migrations, webhook_deliveries, webhook_endpoints, workspaces
from tests import harness

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize(
    "dialect",
    [sqlite.dialect(), postgresql.dialect()],  # type: ignore[no-untyped-call]  # SQLAlchemy leaves PGDialect_psycopg.__init__ unannotated
    ids=["sqlite", "postgresql"],
)
def test_version_1_ddl_is_unchanged_by_later_columns(dialect: Dialect) -> None:
    expected = (GOLDEN / f"schema_v1_{dialect.name}.sql").read_text()
    assert ";\n".join(s.strip() for s in migrations._v1(dialect)) + ";\n" == expected


async def test_a_version_1_database_upgrades_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = open_database(harness.test_database_url(tmp_path))
    await db.connect()
    try:
        every = list(migrations.MIGRATIONS)
        monkeypatch.setattr(migrations, "MIGRATIONS", every[:1])
        assert await migrations.migrate(db) == [1]
        then = utcnow().replace(microsecond=0)
        await db.execute(workspaces.insert().values(id="ws_1", name="Old", created_at=then))
        await db.execute(
            connections.insert().values(
                id="conn_1",
                workspace_id="ws_1",
                environment="sandbox",
                integration="hubspot",
                external_xref="u-1",
                status="healthy",
                credentials_enc="v1.x.y",
                created_at=then,
                updated_at=then,
                authorized_at=then,
            )
        )
        monkeypatch.setattr(migrations, "MIGRATIONS", every[:2])
        assert await migrations.migrate(db) == [2]
        assert await migrations.migrate(db) == []
        monkeypatch.undo()
        await migrations.migrate(db)  # and whatever came after version 2 applies on top

        row = await db.fetch_one(sa.select(connections).where(connections.c.id == "conn_1"))
        assert row is not None
        assert as_utc(row["status_changed_at"]) == then and row["refresh_failures"] == 0 and row["refreshable"] is None
        assert await db.fetch_val(sa.select(sa.func.count()).select_from(webhook_endpoints)) == 0
        assert await db.fetch_val(sa.select(sa.func.count()).select_from(webhook_deliveries)) == 0
        versions = [
            r["version"]
            for r in await db.fetch_all(sa.select(schema_migrations.c.version).order_by(schema_migrations.c.version))
        ]
        assert versions == [v for v, _ in migrations.MIGRATIONS]
    finally:
        await close_database(db)


async def test_processes_starting_at_once_apply_each_migration_exactly_once(tmp_path: Path) -> None:
    """`latchkey serve --workers N` and several instances start together on a fresh database."""
    import asyncio

    url = harness.test_database_url(tmp_path)
    handles = [open_database(url) for _ in range(4)]
    for handle in handles:
        await handle.connect()
    try:
        results = await asyncio.gather(*(migrations.migrate(handle) for handle in handles))
        applied = sorted(v for result in results for v in result)
        assert applied == [version for version, _ in migrations.MIGRATIONS]  # each once, by one of them
        rows = await handles[0].fetch_all(sa.select(schema_migrations.c.version))
        assert sorted(r["version"] for r in rows) == applied
        assert await migrations.pending(handles[1]) == []
    finally:
        for handle in handles:
            await close_database(handle)
