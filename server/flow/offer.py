"""What the picker offers one flow: activated here, allowed by the host's filters, and able to
grant every scope the flow asks for (the catalog's rule, `Catalog.unavailable_reason`)."""

from __future__ import annotations

from typing import Any

from server.catalog.models import Integration
from server.db.activations import list_activations
from server.db.workspaces import Environment
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


# How the catalog files its test integrations: not a category an end-user looks for.
HIDDEN_CATEGORIES = frozenset({"sandbox"})


def picker_view(
    services: Services, ctx: FlowContext, env: Environment, integrations: list[Integration], ctx_token: str
) -> dict[str, Any]:
    """What templates/picker.html is rendered with, for the picker and the dashboard's preview alike."""
    return {
        "integrations": integrations,
        "categories": sorted({c for i in integrations for c in i.categories} - HIDDEN_CATEGORIES),
        "hidden_categories": HIDDEN_CATEGORIES,
        # A session minted to re-authorize a connection offers that one integration: "Reconnect X".
        "reconnect": integrations[0] if ctx.connection_id is not None and len(integrations) == 1 else None,
        "ctx_token": ctx_token,
        "ctx": ctx,
        "environment": env,
        "host_origin": ctx.origin or "",
        "own_origin": services.settings.origin,
        "base_url": services.settings.base_url,
        "theme": ctx.theme,
        "accent": ctx.accent,
        "lang": ctx.lang,
    }
