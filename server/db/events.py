"""Auth events: an audit trail of flows, for the host and the dashboard. Never holds secrets."""

from __future__ import annotations

import sqlalchemy as sa
from databases import Database

from server.db.clock import utcnow
from server.db.tables import auth_events


async def record_event(
    db: Database,
    *,
    workspace_id: str,
    environment: str,
    integration: str,
    type: str,
    external_xref: str | None = None,
    connection_id: str | None = None,
    error_code: str | None = None,
    detail: str | None = None,
) -> None:
    await db.execute(
        auth_events.insert().values(
            workspace_id=workspace_id,
            environment=environment,
            integration=integration,
            external_xref=external_xref,
            connection_id=connection_id,
            type=type,
            error_code=error_code,
            detail=(detail or "")[:500] or None,
            created_at=utcnow(),
        )
    )


async def list_events(db: Database, workspace_id: str, environment: str, limit: int = 50) -> list[dict]:
    rows = await db.fetch_all(
        sa.select(auth_events)
        .where(auth_events.c.workspace_id == workspace_id, auth_events.c.environment == environment)
        .order_by(auth_events.c.id.desc())
        .limit(limit)
    )
    return [dict(r._mapping) if hasattr(r, "_mapping") else {k: r[k] for k in r.keys()} for r in rows]
