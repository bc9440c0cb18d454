"""The server-side result channel (docs/protocol.md): results keyed by SHA-256 of the channel.

A row appears when a flow for the channel reaches `start` (so the embed knows the end-user is at
the provider even when a Cross-Origin-Opener-Policy hides the popup from it), and gets its message
when the flow ends. The first result wins: a channel belongs to one open() of the widget.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from server.db.clock import utcnow
from server.db.database import Database
from server.db.tables import widget_results

RESULT_TTL = timedelta(minutes=15)


@dataclass(frozen=True)
class StoredResult:
    host_origin: str | None
    message: dict[str, Any] | None

    @property
    def done(self) -> bool:
        return self.message is not None


async def _exists(db: Database, channel_hash: str) -> bool:
    row = await db.fetch_one(
        sa.select(widget_results.c.channel_hash).where(widget_results.c.channel_hash == channel_hash)
    )
    return row is not None


async def mark_started(db: Database, channel_hash: str, host_origin: str | None) -> None:
    if await _exists(db, channel_hash):
        return
    now = utcnow()
    await db.execute(
        widget_results.insert().values(
            channel_hash=channel_hash, host_origin=host_origin, message=None, created_at=now, started_at=now
        )
    )


async def store_result(db: Database, channel_hash: str, host_origin: str | None, message: dict[str, Any]) -> None:
    if await _exists(db, channel_hash):
        await db.execute(
            widget_results.update()
            .where(widget_results.c.channel_hash == channel_hash, widget_results.c.message.is_(None))
            .values(message=json.dumps(message), host_origin=host_origin)
        )
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
    return StoredResult(host_origin=row["host_origin"], message=json.loads(row["message"]) if row["message"] else None)


async def purge_results(db: Database) -> None:
    await db.execute(widget_results.delete().where(widget_results.c.created_at < utcnow() - RESULT_TTL))
