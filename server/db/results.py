"""The server-side result channel (docs/protocol.md): results keyed by SHA-256 of the channel."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from databases import Database

from server.db.clock import utcnow
from server.db.tables import widget_results

RESULT_TTL = timedelta(minutes=15)


@dataclass(frozen=True)
class StoredResult:
    host_origin: str | None
    message: dict[str, Any]


async def store_result(db: Database, channel_hash: str, host_origin: str | None, message: dict[str, Any]) -> None:
    """First result wins: a channel belongs to one open() of the widget."""
    existing = await db.fetch_one(sa.select(widget_results.c.channel_hash).where(widget_results.c.channel_hash == channel_hash))
    if existing:
        return
    await db.execute(
        widget_results.insert().values(
            channel_hash=channel_hash, host_origin=host_origin, message=json.dumps(message), created_at=utcnow()
        )
    )


async def fetch_result(db: Database, channel_hash: str) -> StoredResult | None:
    row = await db.fetch_one(
        sa.select(widget_results).where(
            widget_results.c.channel_hash == channel_hash, widget_results.c.created_at > utcnow() - RESULT_TTL
        )
    )
    if row is None:
        return None
    return StoredResult(host_origin=row["host_origin"], message=json.loads(row["message"]))


async def purge_results(db: Database) -> None:
    await db.execute(widget_results.delete().where(widget_results.c.created_at < utcnow() - RESULT_TTL))
