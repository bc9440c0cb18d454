"""The integration picker page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server.catalog.models import Integration
from server.db.activations import list_activations
from server.db.workspaces import get_environment
from server.flow.context import FlowContext
from server.flow.opening import context_from_picker_params
from server.flow.scopes import unsupported_scopes
from server.flow.signing import SALT_CONTEXT
from server.i18n import negotiate, requested_lang
from server.pages import render
from server.routes.common import services_of
from server.services import Services


async def offered_integrations(services: Services, ctx: FlowContext) -> list[Integration]:
    """Activated here, allowed by the filters, and able to grant every requested scope."""
    activated = await list_activations(services.db, ctx.workspace_id, ctx.environment)
    offered = []
    for integration in services.catalog:
        if integration.slug not in activated or not ctx.allows_integration(integration.slug):
            continue
        if integration.sandbox_only and ctx.environment != "sandbox":
            continue
        if ctx.categories and not set(ctx.categories) & set(integration.categories):
            continue
        if unsupported_scopes(integration, ctx.scopes):
            continue
        allowed = activated[integration.slug].scopes
        if allowed and any(s not in allowed for s in ctx.scopes):
            continue
        offered.append(integration)
    return offered


async def picker(request: Request) -> Response:
    services = services_of(request)
    ctx = await context_from_picker_params(services, request.query_params)
    # Without a usable `lang`, the browser's languages decide; the pages after the picker follow.
    lang = requested_lang(request.query_params.get("lang")) or negotiate(request.headers.get("accept-language"))
    ctx = ctx.with_(lang=lang)
    env = await get_environment(services.db, ctx.workspace_id, ctx.environment)
    integrations = await offered_integrations(services, ctx)
    ctx_token = services.signer.sign(SALT_CONTEXT, ctx.to_dict())
    categories = sorted({c for i in integrations for c in i.categories})
    return render(
        request,
        "picker.html",
        {
            "integrations": integrations,
            "categories": categories,
            "ctx_token": ctx_token,
            "ctx": ctx,
            "environment": env,
            "host_origin": ctx.origin or "",
            "own_origin": services.settings.origin,
            "base_url": services.settings.base_url,
            "theme": ctx.theme,
            "accent": ctx.accent,
            "lang": ctx.lang,
        },
        frame_ancestors=env.allowed_origins if ctx.mode == "inline" else (),
    )
