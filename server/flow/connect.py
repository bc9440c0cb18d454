"""Writing the connection a flow produced (or a sandbox test connection), with its audit event.

The one place a connection is created or re-authorized: the connection row and its
`connection.created` / `connection.updated` event (and so its webhook) always go together, in one
transaction. When they cannot be written after the provider issued tokens, those tokens are
revoked at the provider (they would stay valid, held by nobody) and the host is told
`server_error`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from server import metrics
from server.catalog.models import Integration
from server.db import connections as connection_store
from server.db import events
from server.db.clock import utcnow
from server.db.connections import NewConnection, SavedConnection
from server.db.database import database_unavailable
from server.errors import ErrorCodeName, FlowError
from server.flow.context import FlowContext
from server.flow.opening import check_external_xref
from server.flow.revocation import Revocation
from server.flow.scopes import provider_scopes_for
from server.flow.sessions import complete_with
from server.sandbox.tokens import mint_tokens, new_account
from server.services import Services

logger = logging.getLogger("latchkey.flow")

TEST_TOKEN_LIFETIME = timedelta(hours=1)


async def _save(services: Services, new: NewConnection) -> SavedConnection:
    async with services.db.transaction():
        saved = await connection_store.save_connection(services.db, services.sealer, new)
        await events.record_event(
            services.db,
            workspace_id=new.workspace_id,
            environment=new.environment,
            integration=new.integration,
            external_xref=saved.connection.external_xref,
            connection_id=saved.connection.id,
            type="connection.created" if saved.created else "connection.updated",
        )
    return saved


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
    revoke: Callable[[], Awaitable[Revocation]] | None = None,
) -> str:
    """Create the end-user's connection, or re-authorize the existing one; return its ID.

    `revoke` undoes the grant at the provider when the connection cannot be stored.
    """
    new = NewConnection(
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
    )
    try:
        await complete_with(services, ctx)  # an authorization link is used up by its successful flow
        saved = await _save(services, new)
    except FlowError:
        if revoke is not None:
            logger.info("the %s tokens of a refused flow: revocation %s", integration.slug, await revoke())
        raise
    except Exception as exc:  # whatever failed, the fresh grant must not outlive it
        if database_unavailable(exc):
            logger.warning("storing a %s connection failed, the database is unavailable: %r", integration.slug, exc)
        else:
            logger.exception("storing a %s connection failed", integration.slug)
        revocation = await revoke() if revoke is not None else "not_supported"
        logger.warning("the %s tokens of the unsaved connection: revocation %s", integration.slug, revocation)
        raise FlowError(
            "The connection could not be saved, so the authorization was undone. Please try again.",
            code="server_error",
        ) from exc
    metrics.flow_completed(integration.slug)
    return saved.connection.id


async def store_test_connection(
    services: Services,
    *,
    workspace_id: str,
    environment: str,
    integration: Integration,
    external_xref: object,
    scopes: tuple[str, ...],
) -> SavedConnection:
    """Sandbox: a healthy connection with synthetic credentials, at once (the API's and the dashboard's)."""
    provider = provider_scopes_for(integration, scopes)
    now = utcnow()
    credentials: dict[str, Any]
    expires_at: datetime | None
    if integration.is_oauth2:
        expires_at = now + TEST_TOKEN_LIFETIME
        minted = mint_tokens(services.signer, new_account(), TEST_TOKEN_LIFETIME)
        credentials = {
            "type": "oauth2",
            "access_token": minted.access_token,
            "token_type": "bearer",
            "refresh_token": minted.refresh_token,
            "expires_at": expires_at.isoformat(),
        }
    else:
        expires_at = None
        credentials = {"type": integration.kind, "fields": {f.name: f"sandbox-{f.name}" for f in integration.fields}}
    return await _save(
        services,
        NewConnection(
            workspace_id=workspace_id,
            environment=environment,
            integration=integration.slug,
            external_xref=check_external_xref(external_xref),
            credentials=credentials,
            scopes_requested=list(scopes),
            scopes_granted=list(scopes),
            provider_scopes=provider,
            metadata={"sandbox": True},
            expires_at=expires_at,
        ),
    )


async def record_failure(
    services: Services, ctx: FlowContext, integration: Integration, code: ErrorCodeName, detail: str | None = None
) -> None:
    """The `auth.failed` event. Never raises: the host is told of the failure even when this cannot be written."""
    metrics.flow_failed(integration.slug, code)
    try:
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
    except Exception as exc:  # the failure still reaches the host; only its audit record is lost
        if not database_unavailable(exc):
            logger.exception("recording a %s auth.failed event failed", integration.slug)
        else:
            logger.warning("the %s auth.failed event was not recorded, the database is unavailable", integration.slug)
