"""Deleting a connection so that it really ends access: the REST API's and the dashboard's delete.

The tokens are revoked at the provider first (RFC 7009, best effort: a provider that is down or
lists no revocation endpoint does not stop the deletion), then the row is deleted and the
`connection.deleted` event — which records the revocation's outcome — written in one transaction.
"""

from __future__ import annotations

import logging

from server.audit_actions import Actor
from server.db import connections as store
from server.db import events
from server.db.audit import record_audit
from server.db.connections import Connection, CredentialsUnreadable
from server.errors import LatchkeyError
from server.flow.context import FlowContext
from server.flow.oauth2 import oauth2_spec
from server.flow.revocation import Revocation, revocation_url_for, revoke_tokens
from server.flow.steps import client_credentials
from server.services import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Services

logger = logging.getLogger("latchkey.lifecycle")


async def delete_connection(
    services: Services, workspace_id: str, environment: str, connection_id: str, *, actor: Actor
) -> tuple[Connection, Revocation]:
    """Revoke, then delete (404 for another environment's ID); returns the connection and the revocation.

    The activity log records who deleted it, in the transaction that deletes it.
    """
    connection = await store.get_connection(services.db, workspace_id, environment, connection_id)
    revocation = await revoke_at_provider(services, connection)
    async with services.db.transaction():
        deleted = await store.delete_connection(services.db, workspace_id, environment, connection_id)
        await events.record_event(
            services.db,
            workspace_id=workspace_id,
            environment=environment,
            integration=deleted.integration,
            external_xref=deleted.external_xref,
            connection_id=deleted.id,
            type="connection.deleted",
            detail=f"Revocation at the provider: {revocation}.",
            revocation=revocation,
        )
        await record_audit(
            services.db,
            workspace_id=workspace_id,
            environment=environment,
            action="connection.deleted",
            actor=actor,
            changes={
                "connection_id": deleted.id,
                "integration": deleted.integration,
                "external_xref": deleted.external_xref,
                "revocation": revocation,
            },
        )
    return deleted, revocation


async def revoke_at_provider(services: Services, connection: Connection) -> Revocation:
    """The connection's tokens revoked where the catalog lists a revocation endpoint. Never raises."""
    integration = services.catalog.get(connection.integration)
    sandbox = connection.environment == "sandbox"
    if integration is None or not (integration.is_redirect if sandbox else integration.oauth2 is not None):
        return "not_supported"
    spec = oauth2_spec(integration, sandbox)
    if sandbox:
        url: str | None = f"{services.sandbox_issuer}/oauth/revoke"
    else:
        names = {v.name for v in (*integration.variables, *spec.variables)}
        url = revocation_url_for(spec, {k: str(v) for k, v in connection.metadata.items() if k in names})
    if url is None:
        return "not_supported"
    try:
        credentials = await store.read_credentials(services.db, services.sealer, connection)
        client_id: str = SANDBOX_CLIENT_ID
        client_secret: str | None = SANDBOX_CLIENT_SECRET
        if not sandbox:
            ctx = FlowContext(connection.workspace_id, connection.environment, connection.external_xref)
            creds = await client_credentials(services, ctx, integration)
            client_id, client_secret = creds.client_id, creds.client_secret
    except (CredentialsUnreadable, LatchkeyError) as exc:
        # Unreadable tokens, or no client credentials any more (the integration was deactivated).
        logger.warning("not revoking the tokens of connection %s: %s", connection.id, exc)
        return "not_attempted"
    revocation = await revoke_tokens(
        services.http, spec, url, credentials, client_id=client_id, client_secret=client_secret
    )
    logger.info("revoking the tokens of connection %s (%s): %s", connection.id, connection.integration, revocation)
    return revocation
