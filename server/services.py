"""What the routes and the flow code share: built once by the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from databases import Database

from server.catalog.loader import Catalog
from server.crypto import Sealer
from server.flow.signing import Signer
from server.http import OutboundHTTP
from server.settings import Settings

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

    @property
    def sandbox_issuer(self) -> str:
        return f"{self.settings.base_url}/sandbox"

    def callback_url(self, slug: str) -> str:
        return f"{self.settings.base_url}/auth/{slug}/callback"
