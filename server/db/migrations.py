"""Versioned schema migrations, applied in order on start and by `latchkey migrate`.

Each migration is a function of the dialect returning DDL statements. Applied versions are kept
in `schema_migrations`; a migration and its version row commit together.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Callable

import sqlalchemy as sa
from databases import Database
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateIndex, CreateTable

from server.db import tables

logger = logging.getLogger("latchkey.migrations")


def _v1(dialect: Dialect) -> list[str]:
    names = ["workspaces", "environments", "activations", "connections", "flows", "widget_results",
             "auth_events", "sandbox_codes"]
    statements = [str(CreateTable(tables.metadata.tables[n]).compile(dialect=dialect)) for n in names]
    for name in names:
        for index in sorted(tables.metadata.tables[name].indexes, key=lambda i: i.name or ""):
            statements.append(str(CreateIndex(index).compile(dialect=dialect)))
    return statements


MIGRATIONS: list[tuple[int, Callable[[Dialect], list[str]]]] = [(1, _v1)]


def dialect_for(database: Database) -> Dialect:
    if database.url.dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.dialect()
    from sqlalchemy.dialects import sqlite

    return sqlite.dialect()


async def migrate(database: Database) -> list[int]:
    """Apply pending migrations; return the versions applied."""
    dialect = dialect_for(database)
    await database.execute(str(CreateTable(tables.schema_migrations, if_not_exists=True).compile(dialect=dialect)))
    rows = await database.fetch_all(sa.select(tables.schema_migrations.c.version))
    done = {row["version"] for row in rows}
    applied = []
    for version, build in MIGRATIONS:
        if version in done:
            continue
        async with database.transaction():
            for statement in build(dialect):
                await database.execute(statement)
            await database.execute(
                tables.schema_migrations.insert().values(version=version, applied_at=datetime.now(timezone.utc))
            )
        logger.info("applied schema migration %s", version)
        applied.append(version)
    return applied
