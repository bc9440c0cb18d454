"""GET /api/v1/audit-events: the key's environment's activity log, newest first, paged by `after`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.api.auth import authenticate
from server.api.validation import int_param
from server.db import audit as audit_store
from server.services import services_of


async def list_audit_events(request: Request) -> Response:
    env = await authenticate(request)
    q = request.query_params
    limit = int_param(q.get("limit"), "limit", 50, 1, 200)
    actions = [a.strip() for value in q.getlist("action") for a in value.split(",") if a.strip()]
    items = await audit_store.list_audit_events(
        services_of(request).db,
        env.workspace_id,
        env.name,
        limit=limit + 1,
        after=q.get("after") or None,
        actions=actions,
    )
    page = items[:limit]
    return JSONResponse(
        {"data": [e.as_json() for e in page], "next_after": page[-1].id if len(items) > limit else None},
        headers={"Cache-Control": "no-store"},
    )
