"""Webhook endpoints through the REST API: list, create (the secret shown once), delete, and
each endpoint's delivery log."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.api.auth import authenticate, key_actor
from server.api.validation import int_param, only_fields, opt_str, opt_str_list, read_json
from server.db import webhooks as webhook_store
from server.lifecycle.urls import check_webhook_url
from server.services import services_of


async def list_webhooks(request: Request) -> Response:
    env = await authenticate(request)
    endpoints = await webhook_store.list_endpoints(services_of(request).db, env.workspace_id, env.name)
    return JSONResponse({"data": [e.as_json() for e in endpoints]})


async def create_webhook(request: Request) -> Response:
    env = await authenticate(request)
    services = services_of(request)
    data = await read_json(request)
    only_fields(data, {"url", "events", "description"})
    url = check_webhook_url(data.get("url"), allow_loopback=services.settings.webhook_allow_loopback)
    events = webhook_store.check_events(opt_str_list(data, "events", max_items=20))
    created = await webhook_store.create_endpoint(
        services.db,
        services.sealer,
        env.workspace_id,
        env.name,
        url=url,
        events=events,
        description=opt_str(data, "description", max_len=200),
        actor=key_actor(env),
    )
    body = {**created.endpoint.as_json(), "secret": created.secret}
    return JSONResponse({"data": body}, status_code=201, headers={"Cache-Control": "no-store"})


async def delete_webhook(request: Request) -> Response:
    env = await authenticate(request)
    await webhook_store.delete_endpoint(
        services_of(request).db, env.workspace_id, env.name, request.path_params["id"], actor=key_actor(env)
    )
    return Response(status_code=204)


async def list_deliveries(request: Request) -> Response:
    env = await authenticate(request)
    q = request.query_params
    limit = int_param(q.get("limit"), "limit", 50, 1, 200)
    items = await webhook_store.list_deliveries(
        services_of(request).db,
        env.workspace_id,
        env.name,
        request.path_params["id"],
        status=q.get("status"),
        limit=limit + 1,
        after=q.get("after"),
    )
    page = items[:limit]
    return JSONResponse(
        {"data": [d.as_json() for d in page], "next_after": page[-1].id if len(items) > limit else None}
    )
