"""Rate limits at the web edge: who a request counts against, and the 429 once that budget is spent.

The client address is the TCP peer (`request.client.host`). Behind a reverse proxy that is the
proxy itself, so every client shares one budget; trusting forwarded headers is a later change.
"""

from __future__ import annotations

from starlette.requests import Request

from server.errors import RateLimited
from server.ratelimit import LimitName
from server.services import services_of


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def limit(request: Request, name: LimitName, key: str | None = None) -> None:
    """Count this request against `name` for `key` (the client address unless given); raise when over."""
    retry_after = await services_of(request).limiter.hit(name, client_address(request) if key is None else key)
    if retry_after is not None:
        raise RateLimited(retry_after)
