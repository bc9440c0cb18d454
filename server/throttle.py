"""Rate limits at the web edge: who a request counts against, and the 429 once that budget is spent.

The client address is `request.client.host`: the TCP peer, or — for a request from a trusted
reverse proxy (LATCHKEY_TRUSTED_PROXIES) — the client it forwarded for, set once at the edge
(server/proxies.py). A client cannot pick its own budget by sending X-Forwarded-For itself.
"""

from __future__ import annotations

from starlette.requests import Request

from server import metrics
from server.errors import RateLimited
from server.ratelimit import LimitName
from server.services import services_of


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def limit(request: Request, name: LimitName, key: str | None = None) -> None:
    """Count this request against `name` for `key` (the client address unless given); raise when over."""
    retry_after = await services_of(request).limiter.hit(name, client_address(request) if key is None else key)
    if retry_after is not None:
        metrics.rate_limited(name)
        raise RateLimited(retry_after)
