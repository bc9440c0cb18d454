"""Connections through the REST API: list, get (optionally with credentials valid now), health
check, delete, and sandbox test connections."""

from __future__ import annotations

import secrets
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.api.auth import authenticate
from server.api.validation import int_param, only_fields, opt_str_list, read_json
from server.db import connections as connection_store
from server.db import events
from server.db.clock import utcnow
from server.errors import Forbidden, InvalidRequest, NotFound
from server.flow.opening import check_external_xref
from server.flow.scopes import parse_scope_list, provider_scopes_for
from server.lifecycle import refresh
from server.routes.common import services_of


async def list_connections(request: Request) -> Response:
    env = await authenticate(request)
    q = request.query_params
    limit = int_param(q.get("limit"), "limit", 50, 1, 200)
    items = await connection_store.list_connections(
        services_of(request).db,
        env.workspace_id,
        env.name,
        integration=q.get("integration"),
        external_xref=q.get("external_xref"),
        status=q.get("status"),
        limit=limit + 1,
        after=q.get("after"),
    )
    page = items[:limit]
    return JSONResponse(
        {
            "data": [c.as_json() for c in page],
            "next_after": page[-1].id if len(items) > limit else None,
        }
    )


async def get_connection(request: Request) -> Response:
    env = await authenticate(request)
    services = services_of(request)
    connection = await connection_store.get_connection(
        services.db, env.workspace_id, env.name, request.path_params["id"]
    )
    body = connection.as_json()
    include = {p.strip() for p in request.query_params.get("include", "").split(",") if p.strip()}
    if include - {"credentials"}:
        raise InvalidRequest("include accepts only 'credentials'.")
    if "credentials" in include:
        connection, credentials = await refresh.credentials_valid_now(services, connection)
        body = connection.as_json()
        body["credentials"] = credentials
    return JSONResponse({"data": body}, headers={"Cache-Control": "no-store"})


async def check_connection(request: Request) -> Response:
    """A health check now: refresh the tokens if they can be refreshed, report the status either way."""
    env = await authenticate(request)
    services = services_of(request)
    connection = await connection_store.get_connection(
        services.db, env.workspace_id, env.name, request.path_params["id"]
    )
    attempt = await refresh.check(services, connection)
    return JSONResponse(
        {"data": attempt.connection.as_json(), "check": attempt.as_json()}, headers={"Cache-Control": "no-store"}
    )


async def delete_connection(request: Request) -> Response:
    env = await authenticate(request)
    services = services_of(request)
    connection = await connection_store.delete_connection(
        services.db, env.workspace_id, env.name, request.path_params["id"]
    )
    await events.record_event(
        services.db,
        workspace_id=env.workspace_id,
        environment=env.name,
        integration=connection.integration,
        external_xref=connection.external_xref,
        connection_id=connection.id,
        type="connection.deleted",
    )
    return Response(status_code=204)


async def create_test_connection(request: Request) -> Response:
    """Sandbox only: a healthy connection with synthetic credentials, at once."""
    env = await authenticate(request)
    if not env.is_sandbox:
        raise Forbidden("Test connections exist only in the sandbox environment.", code="sandbox_only")
    services = services_of(request)
    data = await read_json(request)
    only_fields(data, {"integration", "external_xref", "scopes"})
    slug = data.get("integration")
    integration = services.catalog.get(slug) if isinstance(slug, str) else None
    if integration is None:
        raise NotFound(f"No integration {slug!r}.", code="integration_not_found")
    scopes = parse_scope_list(opt_str_list(data, "scopes") or [])
    provider = provider_scopes_for(integration, scopes)
    if integration.is_oauth2:
        credentials = {
            "type": "oauth2",
            "access_token": "sbx_at_" + secrets.token_urlsafe(24),
            "token_type": "bearer",
            "refresh_token": "sbx_rt_" + secrets.token_urlsafe(24),
            "expires_at": (utcnow() + timedelta(hours=1)).isoformat(),
        }
        expires_at = utcnow() + timedelta(hours=1)
    else:
        credentials = {"type": integration.kind, "fields": {f.name: f"sandbox-{f.name}" for f in integration.fields}}
        expires_at = None
    saved = await connection_store.save_connection(
        services.db,
        services.sealer,
        connection_store.NewConnection(
            workspace_id=env.workspace_id,
            environment=env.name,
            integration=integration.slug,
            external_xref=check_external_xref(data.get("external_xref")),
            credentials=credentials,
            scopes_requested=list(scopes),
            scopes_granted=list(scopes),
            provider_scopes=provider,
            metadata={"sandbox": True},
            expires_at=expires_at,
        ),
    )
    await events.record_event(
        services.db,
        workspace_id=env.workspace_id,
        environment=env.name,
        integration=integration.slug,
        external_xref=saved.connection.external_xref,
        connection_id=saved.connection.id,
        type="connection.created" if saved.created else "connection.updated",
    )
    return JSONResponse({"data": saved.connection.as_json()}, status_code=201 if saved.created else 200)
