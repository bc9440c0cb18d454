"""GET|PATCH /api/v1/environment: allowlists and public mode of the key's environment."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.api.auth import authenticate, key_actor
from server.api.validation import only_fields, opt_bool, opt_str_list, read_json
from server.db.workspaces import update_environment
from server.errors import InvalidRequest
from server.flow.allowlist import normalise_origin, valid_allowlist_entry
from server.services import services_of


async def get_environment(request: Request) -> Response:
    env = await authenticate(request)
    return JSONResponse({"data": env.as_json()})


async def patch_environment(request: Request) -> Response:
    env = await authenticate(request)
    data = await read_json(request)
    only_fields(data, {"allowed_origins", "allowed_redirect_urls", "public_mode"})
    origins = opt_str_list(data, "allowed_origins")
    urls = opt_str_list(data, "allowed_redirect_urls")
    for origin in origins or []:
        if not valid_allowlist_entry(origin, kind="origin"):
            raise InvalidRequest(f"{origin!r} is not an origin like https://app.example.com.")
    for url in urls or []:
        if not valid_allowlist_entry(url, kind="url"):
            raise InvalidRequest(f"{url!r} is not an absolute http(s) URL without query or fragment.")
    updated = await update_environment(
        services_of(request).db,
        env.workspace_id,
        env.name,
        allowed_origins=[normalise_origin(o) or o for o in origins] if origins is not None else None,
        allowed_redirect_urls=urls,
        public_mode=opt_bool(data, "public_mode"),
        actor=key_actor(env),
    )
    return JSONResponse({"data": updated.as_json()})
