"""Bearer secret keys: each resolves to one workspace environment.

Each key has its own request budget (counted under its hash, never the key itself); requests
without a valid key count against their client address, so guessing keys is slowed down while a
valid key from the same address is still served within its own budget.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from starlette.requests import Request

from server.audit_actions import Actor
from server.crypto import hash_api_key
from server.db.database import Database
from server.db.workspaces import Environment, environment_for_key
from server.errors import Unauthorized
from server.services import services_of
from server.throttle import limit

Found = TypeVar("Found")


async def authenticate(request: Request) -> Environment:
    return await authenticate_with(request, environment_for_key)


async def authenticate_with(request: Request, read: Callable[[Database, str], Awaitable[Found | None]]) -> Found:
    """What `read(db, key)` finds with the request's key — its environment, or that and the row
    the request is about, in one query — once the key is valid and within its budget."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        await limit(request, "api_auth_failure")
        raise Unauthorized("Send your secret API key as 'Authorization: Bearer lk_…'.")
    found = await read(services_of(request).db, key.strip())
    if found is None:
        await limit(request, "api_auth_failure")
        raise Unauthorized("This API key is not valid (it may have been rotated).", invalid_token=True)
    await limit(request, "api", hash_api_key(key.strip()))
    return found


def key_actor(env: Environment) -> Actor:
    """Who the activity log says made an API change: the key, by its stored non-secret prefix (a
    rotated-out key still in its grace period by its own)."""
    if env.via_previous_key and env.previous_key_prefix:
        return Actor.api_key(env.previous_key_prefix)
    return Actor.api_key(env.api_key_prefix)
