"""What the picker offers one flow: activated here, allowed by the host's filters, and able to
grant every scope the flow asks for (the catalog's rule, `Catalog.unavailable_reason`)."""

from __future__ import annotations

from server.catalog.models import Integration
from server.db.activations import list_activations
from server.flow.context import FlowContext
from server.services import Services


async def offered_integrations(services: Services, ctx: FlowContext) -> list[Integration]:
    activated = await list_activations(services.db, ctx.workspace_id, ctx.environment)
    offered = []
    for integration in services.catalog.offered_in(ctx.environment):
        if not ctx.allows_integration(integration.slug):
            continue
        if ctx.categories and not set(ctx.categories) & set(integration.categories):
            continue
        activation = activated.get(integration.slug)
        enabled = tuple(activation.scopes) if activation else None
        if services.catalog.unavailable_reason(integration, enabled_scopes=enabled, requested=ctx.scopes) is None:
            offered.append(integration)
    return offered
