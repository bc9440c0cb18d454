"""What the routes and the flow code share: built once by the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from server.catalog.loader import Catalog
from server.crypto import Sealer
from server.db.database import Database
from server.http import OutboundHTTP
from server.ratelimit import RateLimiter
from server.settings import Settings
from server.signing import Signer


class HasApp(Protocol):
    """A Starlette request, seen without importing Starlette."""

    @property
    def app(self) -> Any: ...


SANDBOX_CLIENT_ID = "latchkey-sandbox"
SANDBOX_CLIENT_SECRET = "latchkey-sandbox-secret"


@dataclass
class Services:
    settings: Settings
    db: Database
    sealer: Sealer
    signer: Signer
    catalog: Catalog
    http: OutboundHTTP
    # For a host the end-user typed (an API-key integration's check): connects only to the
    # public address it checked (server/addresses.py).
    typed_host_http: OutboundHTTP
    limiter: RateLimiter

    @property
    def sandbox_issuer(self) -> str:
        return f"{self.settings.base_url}/sandbox"

    def callback_url(self, slug: str) -> str:
        return f"{self.settings.base_url}/auth/{slug}/callback"


def services_of(request: HasApp) -> Services:
    """The request's app's Services (built by the lifespan)."""
    services: Services = request.app.state.services
    return services
