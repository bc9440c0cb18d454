"""Writing the connection a successful flow produced, with its audit event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from server.catalog.models import Integration
from server.db import connections as connection_store
from server.db import events
from server.flow.context import FlowContext
from server.services import Services


async def store_connection(
    services: Services,
    ctx: FlowContext,
    integration: Integration,
    credentials: dict[str, Any],
    *,
    scopes_granted: list[str],
    provider_scopes: list[str] | None = None,
    partial_grant: bool = False,
    metadata: dict[str, Any] | None = None,
    expires_at: datetime | None = None,
) -> str:
    """Create the end-user's connection, or re-authorize the existing one; return its ID."""
    saved = await connection_store.save_connection(
        services.db,
        services.sealer,
        connection_store.NewConnection(
            workspace_id=ctx.workspace_id,
            environment=ctx.environment,
            integration=integration.slug,
            external_xref=ctx.external_xref,
            credentials=credentials,
            scopes_requested=list(ctx.scopes),
            scopes_granted=scopes_granted,
            provider_scopes=provider_scopes or [],
            partial_grant=partial_grant,
            metadata=metadata or {},
            expires_at=expires_at,
        ),
    )
    await events.record_event(
        services.db,
        workspace_id=ctx.workspace_id,
        environment=ctx.environment,
        integration=integration.slug,
        external_xref=ctx.external_xref,
        connection_id=saved.connection.id,
        type="connection.created" if saved.created else "connection.updated",
    )
    return saved.connection.id


async def record_failure(
    services: Services, ctx: FlowContext, integration: Integration, code: str, detail: str | None = None
) -> None:
    await events.record_event(
        services.db,
        workspace_id=ctx.workspace_id,
        environment=ctx.environment,
        integration=integration.slug,
        external_xref=ctx.external_xref,
        type="auth.failed",
        error_code=code,
        detail=detail,
    )
