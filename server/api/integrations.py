"""GET /api/v1/integrations, PUT|DELETE /api/v1/integrations/{slug}, GET /api/v1/scopes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.api.auth import authenticate, key_actor
from server.api.validation import only_fields, opt_str, opt_str_list, read_json
from server.catalog.models import Integration
from server.catalog.scopes import UNIFIED_SCOPES
from server.db import activations as activation_store
from server.errors import InvalidRequest, NotFound
from server.flow.scopes import parse_scope_list, unsupported_scopes
from server.services import services_of


def _integration_or_404(request: Request, environment: str) -> Integration:
    integration = services_of(request).catalog.offered(request.path_params["slug"], environment)
    if integration is None:
        raise NotFound(f"No integration {request.path_params['slug']!r}.", code="integration_not_found")
    return integration


async def list_integrations(request: Request) -> Response:
    env = await authenticate(request)
    services = services_of(request)
    scopes = parse_scope_list(request.query_params.get("scopes"))
    activated = await activation_store.list_activations(services.db, env.workspace_id, env.name)
    items = []
    for integration in services.catalog.offered_in(env.name):
        activation = activated.get(integration.slug)
        reason = services.catalog.unavailable_reason(
            integration, enabled_scopes=tuple(activation.scopes) if activation else None, requested=scopes
        )
        items.append(
            {
                **integration.summary(),
                "active": activation is not None,
                "activation": activation.as_json() if activation else None,
                "redirect_uri": services.callback_url(integration.slug) if integration.is_redirect else None,
                "available": reason is None,
                "unavailable_reason": reason,
            }
        )
    return JSONResponse({"data": items})


async def activate(request: Request) -> Response:
    env = await authenticate(request)
    services = services_of(request)
    integration = _integration_or_404(request, env.name)
    data = await read_json(request)
    only_fields(data, {"client_id", "client_secret", "scopes"})
    client_id = opt_str(data, "client_id", max_len=512)
    client_secret = opt_str(data, "client_secret", max_len=2048)
    scopes = parse_scope_list(opt_str_list(data, "scopes") or [])
    missing = unsupported_scopes(integration, scopes)
    if missing:
        raise InvalidRequest(f"{integration.name} cannot grant the scope {missing[0]!r}.", code="invalid_scope")
    if integration.is_redirect and not env.is_sandbox and not (client_id and client_secret):
        raise InvalidRequest(f"Activating {integration.name} in production needs client_id and client_secret.")
    activation = await activation_store.activate(
        services.db,
        services.sealer,
        env.workspace_id,
        env.name,
        integration.slug,
        client_id=client_id,
        client_secret=client_secret,
        scopes=list(scopes),
        actor=key_actor(env),
    )
    return JSONResponse({"data": activation.as_json()})


async def deactivate(request: Request) -> Response:
    env = await authenticate(request)
    services = services_of(request)
    integration = _integration_or_404(request, env.name)
    if not await activation_store.deactivate(
        services.db, env.workspace_id, env.name, integration.slug, actor=key_actor(env)
    ):
        raise NotFound(f"{integration.name} is not activated.", code="integration_not_active", status=404)
    return Response(status_code=204)


async def list_scopes(request: Request) -> Response:
    await authenticate(request)
    return JSONResponse({"data": [{"name": k, "description": v} for k, v in UNIFIED_SCOPES.items()]})
