"""Flow rows: the server-side half of an authorization in progress.

The signed state travels through the browser; the row keeps what must not (the PKCE verifier)
and the single-use mark. Consuming is one UPDATE … WHERE consumed_at IS NULL RETURNING, so of two
concurrent callbacks with the same state exactly one gets the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from server.crypto import Sealer
from server.db.clock import utcnow
from server.db.database import Database
from server.db.tables import flows


@dataclass(frozen=True)
class ConsumedFlow:
    nonce: str
    pkce_verifier: str | None


def _aad(nonce: str) -> str:
    return f"flow:{nonce}:pkce_verifier"


async def create_flow(
    db: Database,
    sealer: Sealer,
    *,
    nonce: str,
    workspace_id: str,
    environment: str,
    integration: str,
    pkce_verifier: str | None,
    max_age: int,
) -> None:
    now = utcnow()
    await db.insert(
        flows,
        {
            "nonce": nonce,
            "workspace_id": workspace_id,
            "environment": environment,
            "integration": integration,
            "pkce_verifier_enc": sealer.seal(pkce_verifier.encode(), _aad(nonce)) if pkce_verifier else None,
            "created_at": now,
            "expires_at": now + timedelta(seconds=max_age),
        },
    )


_CONSUME = (
    flows.update()
    .where(
        flows.c.nonce == sa.bindparam("nonce"), flows.c.consumed_at.is_(None), flows.c.expires_at > sa.bindparam("now")
    )
    .values(consumed_at=sa.bindparam("now"))
    .returning(flows.c.nonce, flows.c.pkce_verifier_enc)
)


async def consume_flow(db: Database, sealer: Sealer, nonce: str) -> ConsumedFlow | None:
    """Mark the flow used; None when it is unknown, already used or expired."""
    row = await db.fetch_one(_CONSUME, {"nonce": nonce, "now": utcnow()})
    if row is None:
        return None
    enc = row["pkce_verifier_enc"]
    return ConsumedFlow(nonce=nonce, pkce_verifier=sealer.open(enc, _aad(nonce)).decode() if enc else None)


async def purge_expired(db: Database, older_than: timedelta = timedelta(days=1)) -> None:
    await db.execute(flows.delete().where(flows.c.expires_at < utcnow() - older_than))
