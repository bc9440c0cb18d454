"""Versioned schema migrations, applied in order on start and by `latchkey migrate`.

Each migration is a function of the dialect returning DDL statements. Applied versions are kept
in `schema_migrations`; a migration and its version row commit together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateColumn, CreateIndex, CreateTable

from server.db import tables
from server.db.database import Database

logger = logging.getLogger("latchkey.migrations")


def _since(item: sa.Column[Any] | sa.Index | sa.Table) -> int:
    """The schema version that added a column, index or table (`info={"since": N}` in tables.py)."""
    return int(item.info.get("since", 1))


def _create_table_as_of(table: sa.Table, version: int) -> CreateTable:
    """CREATE TABLE with only the columns that existed at `version`: later ones are ALTERed in."""
    create = CreateTable(table)
    create.columns = [c for c in create.columns if _since(c.element) <= version]
    return create


def _indexes_as_of(table: sa.Table, version: int) -> list[sa.Index]:
    return sorted((i for i in table.indexes if _since(i) <= version), key=lambda i: i.name or "")


def _v1(dialect: Dialect) -> list[str]:
    # tables.py is the schema as of the newest version; this is exactly the DDL version 1 ran
    # (pinned by tests/lifecycle/golden/schema_v1_*.sql).
    names = [
        "workspaces",
        "environments",
        "activations",
        "connections",
        "flows",
        "widget_results",
        "auth_events",
        "sandbox_codes",
    ]
    statements = [str(_create_table_as_of(tables.metadata.tables[n], 1).compile(dialect=dialect)) for n in names]
    for name in names:
        for index in _indexes_as_of(tables.metadata.tables[name], 1):
            statements.append(str(CreateIndex(index).compile(dialect=dialect)))
    return statements


def _added_in(version: int, dialect: Dialect) -> list[str]:
    """ALTER TABLE … ADD COLUMN and CREATE INDEX for what `version` added to older tables."""
    statements = []
    for table in tables.metadata.sorted_tables:
        if _since(table) >= version:
            continue
        for column in table.columns:
            if _since(column) == version:
                statements.append(
                    f"ALTER TABLE {table.name} ADD COLUMN {CreateColumn(column).compile(dialect=dialect)}"
                )
        for index in table.indexes:
            if _since(index) == version:
                statements.append(str(CreateIndex(index).compile(dialect=dialect)))
    return statements


def _new_tables(version: int, dialect: Dialect, *names: str) -> list[str]:
    """CREATE TABLE and CREATE INDEX for the tables `version` added, as they were in it."""
    statements = []
    for name in names:
        table = tables.metadata.tables[name]
        statements.append(str(CreateTable(table).compile(dialect=dialect)))
        statements.extend(str(CreateIndex(i).compile(dialect=dialect)) for i in _indexes_as_of(table, version))
    return statements


def _v2(dialect: Dialect) -> list[str]:
    """Connection lifecycle (refresh lease, health bookkeeping) and webhooks with their outbox."""
    statements = _added_in(2, dialect)
    statements.append("UPDATE connections SET status_changed_at = updated_at")
    return statements + _new_tables(2, dialect, "webhook_endpoints", "webhook_deliveries")


def _v3(dialect: Dialect) -> list[str]:
    """The dashboard: workspace members (hashed passwords, lockout), their sessions, embed settings."""
    return _added_in(3, dialect) + _new_tables(3, dialect, "members", "dashboard_sessions", "embed_settings")


def _v4(dialect: Dialect) -> list[str]:
    """Connect sessions and authorization links as server-side records (single use, browser-bound)."""
    return _added_in(4, dialect) + _new_tables(4, dialect, "connect_sessions")


def _v5(dialect: Dialect) -> list[str]:
    """The sign-in lockout keyed by member and client address together."""
    return _added_in(5, dialect) + _new_tables(5, dialect, "sign_in_failures")


def _v6(dialect: Dialect) -> list[str]:
    """The activity log: who changed an environment's configuration, and what changed."""
    return _added_in(6, dialect) + _new_tables(6, dialect, "audit_events")


def _v7(dialect: Dialect) -> list[str]:
    """Overlapping key rotation: the previous API key's hash, prefix and expiry on each environment."""
    return _added_in(7, dialect)


MIGRATIONS: list[tuple[int, Callable[[Dialect], list[str]]]] = [
    (1, _v1),
    (2, _v2),
    (3, _v3),
    (4, _v4),
    (5, _v5),
    (6, _v6),
    (7, _v7),
]


def dialect_for(database: Database) -> Dialect:
    if database.dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        # SQLAlchemy leaves the psycopg dialect's __init__ unannotated.
        return postgresql.dialect()  # type: ignore[no-untyped-call]
    from sqlalchemy.dialects import sqlite

    return sqlite.dialect()


# Any number of processes may start at once (`latchkey serve --workers N`, several instances): the
# whole run is one transaction, on Postgres under this advisory lock, on SQLite under its one
# writer lock (BEGIN IMMEDIATE), so the second process to get there finds the work done.
_MIGRATION_LOCK = 0x4C61_7463  # "Latc"


async def migrate(database: Database) -> list[int]:
    """Apply pending migrations, all in one transaction; return the versions applied."""
    dialect = dialect_for(database)
    applied = []
    async with database.transaction():
        if database.dialect == "postgresql":
            await database.execute(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        await database.execute(str(CreateTable(tables.schema_migrations, if_not_exists=True).compile(dialect=dialect)))
        rows = await database.fetch_all(sa.select(tables.schema_migrations.c.version))
        done = {row["version"] for row in rows}
        for version, build in MIGRATIONS:
            if version in done:
                continue
            for statement in build(dialect):
                await database.execute(statement)
            await database.execute(
                tables.schema_migrations.insert().values(version=version, applied_at=datetime.now(UTC))
            )
            applied.append(version)
    for version in applied:
        logger.info("applied schema migration %s", version)
    return applied


async def pending(database: Database) -> list[int]:
    """The migrations not applied yet (readiness: a process must not serve an older schema)."""
    rows = await database.fetch_all(sa.select(tables.schema_migrations.c.version))
    done = {row["version"] for row in rows}
    return [version for version, _ in MIGRATIONS if version not in done]
