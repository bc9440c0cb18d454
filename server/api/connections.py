"""Connections through the REST API: list, get (optionally with credentials valid now), health
check, delete, and sandbox test connections."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.api.auth import authenticate, authenticate_with, key_actor
from server.api.validation import int_param, only_fields, opt_str_list, read_json
from server.db import connections as connection_store
from server.errors import Forbidden, InvalidRequest, NotFound
from server.flow.connect import store_test_connection
from server.flow.scopes import parse_scope_list
from server.lifecycle import deletion, refresh
from server.services import services_of


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
    """The request a host makes before each call to a provider: the key and the connection (with
    its credentials) are one query."""
    services = services_of(request)
    connection_id = request.path_params["id"]
    include = {p.strip() for p in request.query_params.get("include", "").split(",") if p.strip()}
    whole = "credentials" in include
    keyed = await authenticate_with(
        request, lambda db, key: connection_store.read_with_key(db, key, connection_id, whole=whole)
    )
    if include - {"credentials"}:
        raise InvalidRequest("include accepts only 'credentials'.")
    if whole:
        connection, credentials = await refresh.credentials_valid_in(services, connection_id, keyed.row)
        body = connection.as_json()
        body["credentials"] = credentials
    elif keyed.row is None:
        raise connection_store.not_found(connection_id)
    else:
        body = connection_store.connection_of(keyed.row).as_json()
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
    """Revokes the tokens at the provider (best effort), then deletes: `connection.deleted` says how it went."""
    env = await authenticate(request)
    await deletion.delete_connection(
        services_of(request), env.workspace_id, env.name, request.path_params["id"], actor=key_actor(env)
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
    integration = services.catalog.offered(slug, env.name) if isinstance(slug, str) else None
    if integration is None:
        raise NotFound(f"No integration {slug!r}.", code="integration_not_found")
    saved = await store_test_connection(
        services,
        workspace_id=env.workspace_id,
        environment=env.name,
        integration=integration,
        external_xref=data.get("external_xref"),
        scopes=parse_scope_list(opt_str_list(data, "scopes") or []),
    )
    return JSONResponse({"data": saved.connection.as_json()}, status_code=201 if saved.created else 200)
