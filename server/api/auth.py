"""Bearer secret keys: each resolves to one workspace environment."""

from __future__ import annotations

from starlette.requests import Request

from server.db.workspaces import Environment, environment_for_key
from server.errors import Unauthorized
from server.services import services_of


async def authenticate(request: Request) -> Environment:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("Send your secret API key as 'Authorization: Bearer lk_…'.")
    env = await environment_for_key(services_of(request).db, key.strip())
    if env is None:
        raise Unauthorized("This API key is not valid (it may have been rotated).")
    return env
