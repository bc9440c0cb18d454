"""Auth events: an audit trail of flows, for the host and the dashboard. Never holds secrets."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from server.db import webhooks
from server.db.clock import utcnow
from server.db.database import Database
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
    revocation: str | None = None,
) -> None:
    """Append to the audit trail; for webhook event types, also write the outbox in one transaction
    (the caller's, when it has one open).

    An event no webhook is sent for (`auth.started`) is written within a moment rather than now
    (server/db/later.py): a flow's start then commits nothing.

    `revocation`: a deletion's outcome at the provider (server/flow/revocation.py), for the webhook.
    """
    now = utcnow()
    row = {
        "workspace_id": workspace_id,
        "environment": environment,
        "integration": integration,
        "external_xref": external_xref,
        "connection_id": connection_id,
        "type": type,
        "error_code": error_code,
        "detail": (detail or "")[:500] or None,
        "created_at": now,
    }
    if type not in webhooks.EVENT_TYPES:
        db.later.insert(auth_events, row)
        return
    async with db.atomic():  # part of the caller's transaction if there is one: no savepoint
        # The write first: on SQLite it takes the write lock for the whole transaction.
        await db.insert(auth_events, row)
        queued = await webhooks.enqueue(
            db,
            workspace_id=workspace_id,
            environment=environment,
            event_type=type,
            now=now,
            data=webhook_data(
                type,
                integration=integration,
                environment=environment,
                external_xref=external_xref,
                connection_id=connection_id,
                error_code=error_code,
                detail=detail,
                revocation=revocation,
            ),
        )
    if queued:
        webhooks.notify(db)


def webhook_data(
    type: str,
    *,
    integration: str,
    environment: str,
    external_xref: str | None,
    connection_id: str | None,
    error_code: str | None,
    detail: str | None,
    revocation: str | None = None,
) -> dict[str, Any]:
    """An event's webhook `data`: identifiers and codes only — never credentials or provider text."""
    data: dict[str, Any] = {"integration": integration, "environment": environment, "external_xref": external_xref}
    if connection_id:
        data["connection_id"] = connection_id
    if type == "auth.failed":
        data["error_code"] = error_code
    if type == "connection.unhealthy":
        data["error_code"] = error_code
        data["status"] = "unhealthy"
        data["status_reason"] = detail
    if type == "connection.deleted":
        data["revocation"] = revocation  # revoked | failed | not_supported | not_attempted: a code, no provider text
    return data


async def list_events(
    db: Database,
    workspace_id: str,
    environment: str,
    limit: int = 50,
    *,
    connection_id: str | None = None,
    integration: str | None = None,
    external_xref: str | None = None,
    types: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """Newest first; the keyword filters narrow it (the dashboard's connection page uses them).

    By time, then by ID: an event written later (server/db/later.py), or by another process,
    keeps its place."""
    await db.later.write()
    query = sa.select(auth_events).where(
        auth_events.c.workspace_id == workspace_id, auth_events.c.environment == environment
    )
    if connection_id is not None:
        query = query.where(auth_events.c.connection_id == connection_id)
    if integration is not None:
        query = query.where(auth_events.c.integration == integration)
    if external_xref is not None:
        query = query.where(auth_events.c.external_xref == external_xref)
    if types:
        query = query.where(auth_events.c.type.in_(types))
    rows = await db.fetch_all(query.order_by(auth_events.c.created_at.desc(), auth_events.c.id.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]
