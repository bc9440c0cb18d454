"""Connect sessions (the secure way to open the widget) and authorization URLs (custom flow):
both server-side records (server/db/connect_sessions.py), single use where they should be."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.api.auth import authenticate
from server.api.validation import only_fields, opt_str, opt_str_list, read_json
from server.db import connect_sessions as session_store
from server.db import connections as connection_store
from server.errors import InvalidRequest, NotFound
from server.flow.opening import build_context, display_options
from server.services import services_of


async def create_connect_session(request: Request) -> Response:
    env = await authenticate(request)
    services = services_of(request)
    data = await read_json(request)
    only_fields(
        data,
        {
            "external_xref",
            "integrations",
            "scopes",
            "categories",
            "success_url",
            "failure_url",
            "origin",
            "state",
            "connection_id",
        },
    )
    connection_id = opt_str(data, "connection_id", max_len=64)
    external_xref = data.get("external_xref")
    integrations = opt_str_list(data, "integrations")
    if connection_id:
        existing = await connection_store.get_connection(services.db, env.workspace_id, env.name, connection_id)
        if external_xref not in (None, existing.external_xref):
            raise InvalidRequest("external_xref does not match the connection being re-authorized.")
        external_xref = existing.external_xref
        integrations = [existing.integration]
    origin = opt_str(data, "origin", max_len=300)
    ctx = build_context(
        services,
        env,
        external_xref=external_xref,
        scopes=opt_str_list(data, "scopes"),
        integrations=integrations,
        categories=opt_str_list(data, "categories"),
        success_url=opt_str(data, "success_url"),
        failure_url=opt_str(data, "failure_url"),
        origin=origin,
        via_session=True,
        connection_id=connection_id,
        display={"mode": "popup" if origin else "redirect", "host_state": opt_str(data, "state", max_len=512)},
    )
    record, token = await session_store.create(
        services.db,
        workspace_id=env.workspace_id,
        environment=env.name,
        kind="session",
        context={**ctx.to_dict(), "origin": ctx.origin},
        max_age=services.settings.connect_session_max_age,
    )
    return JSONResponse(
        {
            "data": {
                "id": record.id,
                "token": token,
                "expires_at": session_store.iso(record.expires_at),
                "url": f"{services.settings.base_url}/picker?{urlencode({'session': token, 'mode': 'redirect'})}",
            }
        },
        status_code=201,
    )


async def revoke_connect_session(request: Request) -> Response:
    """End a connect session or an authorization link now: no flow starts or completes with it."""
    env = await authenticate(request)
    revoked = await session_store.revoke(services_of(request).db, env.workspace_id, env.name, request.path_params["id"])
    if revoked is None:
        raise NotFound("No such connect session in this environment.")
    return Response(status_code=204)


async def create_auth_url(request: Request) -> Response:
    """A link straight to one integration's start, for hosts that build their own picker."""
    env = await authenticate(request)
    services = services_of(request)
    data = await read_json(request)
    only_fields(data, {"integration", "external_xref", "scopes", "success_url", "failure_url", "state"})
    slug = opt_str(data, "integration", max_len=63)
    integration = services.catalog.offered(slug, env.name)
    if integration is None:
        raise NotFound(f"No integration {slug!r}.", code="integration_not_found")
    success_url, failure_url = opt_str(data, "success_url"), opt_str(data, "failure_url")
    if not success_url or not failure_url:
        raise InvalidRequest("success_url and failure_url are required: the custom flow ends with a redirect.")
    display = display_options({"mode": "redirect", "state": opt_str(data, "state", max_len=512)})
    ctx = build_context(
        services,
        env,
        external_xref=data.get("external_xref"),
        scopes=opt_str_list(data, "scopes"),
        integrations=[integration.slug],
        success_url=success_url,
        failure_url=failure_url,
        display=display,
    )
    record, token = await session_store.create(
        services.db,
        workspace_id=env.workspace_id,
        environment=env.name,
        kind="auth_url",
        context=ctx.to_dict(),
        max_age=services.settings.connect_session_max_age,
    )
    url = f"{services.settings.base_url}/auth/{integration.slug}/start?{urlencode({'link': token})}"
    return JSONResponse(
        {"data": {"id": record.id, "url": url, "expires_at": session_store.iso(record.expires_at)}}, status_code=201
    )
