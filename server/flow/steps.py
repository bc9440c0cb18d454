"""The steps every kind of flow shares: the activation and its developer credentials, the scopes
asked for, consuming the flow row once, and settling the outcome delivered to the host.

Framework-free: `oauth2`, `oauth1` and `credentials` call these; the routes get an Outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass

from server import metrics
from server.catalog.models import Integration
from server.db import activations as activation_store
from server.db import events
from server.db import flows as flow_store
from server.db.activations import Activation
from server.db.flows import ConsumedFlow
from server.errors import FlowError, LatchkeyError, UntrustedFlowError
from server.flow.connect import record_failure
from server.flow.context import FlowContext
from server.flow.result import FlowResult
from server.flow.scopes import provider_scopes_for
from server.services import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Services

logger = logging.getLogger("latchkey.flow")


@dataclass(frozen=True)
class Outcome:
    ctx: FlowContext
    result: FlowResult


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str | None


async def active(services: Services, ctx: FlowContext, integration: Integration) -> Activation:
    activation = await activation_store.get_activation(services.db, ctx.workspace_id, ctx.environment, integration.slug)
    if activation is None:
        raise FlowError(f"{integration.name} is not activated in this environment.", code="integration_not_active")
    return activation


async def client_credentials(
    services: Services, ctx: FlowContext, integration: Integration, activation: Activation | None = None
) -> ClientCredentials:
    """The workspace's developer credentials for this integration (synthetic in the sandbox)."""
    activation = activation or await active(services, ctx, integration)
    if ctx.environment == "sandbox":
        return ClientCredentials(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)
    if not activation.client_id:
        raise FlowError(f"{integration.name} has no client ID configured.", code="integration_not_active")
    secret = activation_store.client_secret(services.sealer, activation)
    return ClientCredentials(activation.client_id, secret)


async def requested_scopes(
    services: Services, ctx: FlowContext, integration: Integration, activation: Activation | None = None
) -> tuple[str, ...]:
    """The unified scopes this flow asks for: the host's, else what the activation allows."""
    activation = activation or await active(services, ctx, integration)
    if ctx.scopes and activation.scopes:
        outside = [s for s in ctx.scopes if s not in activation.scopes]
        if outside:
            raise FlowError(
                f"The scope {outside[0]!r} is not enabled for {integration.name} in this workspace.",
                code="invalid_scope",
            )
    scopes = ctx.scopes or tuple(s for s in activation.scopes if s in integration.scopes)
    provider_scopes_for(integration, scopes)  # raises invalid_scope naming the scope
    return scopes


async def open_flow(services: Services, ctx: FlowContext, integration: Integration, nonce: str, *, secret: str) -> None:
    """A start that must keep a secret it learns after signing the state (OAuth 1.0a's request
    token): the flow's row, sealing it, written before the browser leaves."""
    await flow_store.create_flow(
        services.db,
        services.sealer,
        nonce=nonce,
        workspace_id=ctx.workspace_id,
        environment=ctx.environment,
        integration=integration.slug,
        secret=secret,
        max_age=services.settings.state_max_age,
    )


async def record_started(services: Services, ctx: FlowContext, integration: Integration) -> None:
    metrics.flow_started(integration.slug)
    await events.record_event(
        services.db,
        workspace_id=ctx.workspace_id,
        environment=ctx.environment,
        integration=integration.slug,
        external_xref=ctx.external_xref,
        type="auth.started",
    )


async def consume_once(
    services: Services,
    ctx: FlowContext,
    integration: Integration,
    nonce: str,
    *,
    reused: str = "This authorization was already completed (or abandoned). Please start again.",
) -> ConsumedFlow:
    """Mark the flow used; a replayed or doubled callback (or form post) loses here with `reused`."""
    consumed = await flow_store.consume_flow(
        services.db,
        services.sealer,
        nonce,
        workspace_id=ctx.workspace_id,
        environment=ctx.environment,
        integration=integration.slug,
        max_age=services.settings.state_max_age,
    )
    if consumed is None:
        raise UntrustedFlowError(reused, code="state_reused")
    return consumed


async def settle(services: Services, ctx: FlowContext, integration: Integration, finishing: Awaitable[str]) -> Outcome:
    """Run the rest of a trusted flow: a FlowError becomes a failure delivered to the host."""
    try:
        result = FlowResult(integration=integration.slug, connection_id=await finishing)
    except FlowError as exc:
        logger.info("%s flow for %s failed: %s", integration.kind, integration.slug, exc.code)
        await record_failure(services, ctx, integration, exc.code, exc.message)
        result = FlowResult.failed(integration.slug, exc)
    return Outcome(ctx=ctx, result=result)


def succeeded(ctx: FlowContext, integration: str, connection_id: str) -> Outcome:
    return Outcome(ctx=ctx, result=FlowResult(integration=integration, connection_id=connection_id))


def failure_outcome(ctx: FlowContext, integration: str, error: LatchkeyError) -> Outcome:
    return Outcome(ctx=ctx, result=FlowResult.failed(integration, error))
