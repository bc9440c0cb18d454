"""Flow rows: the single-use mark of an authorization, written when it is used, not when it starts.

The signed state travels through the browser and carries what a start knows, its PKCE verifier
sealed (AES-GCM, bound to the flow's nonce); so a start writes nothing. Consuming is one
INSERT … ON CONFLICT (nonce) DO UPDATE … WHERE consumed_at IS NULL RETURNING: the first callback
with a nonce inserts its row, a second finds it consumed and gets nothing, so of two concurrent
callbacks exactly one wins, in any process sharing the database.

An OAuth 1.0a start does write its row first (`create_flow`): it must keep the request token's
secret, which it only learns after the state is signed. Consuming such a row marks it and hands
back the sealed secret; rows written by earlier versions at start are consumed the same way.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from server.crypto import Sealer
from server.db.clock import utcnow
from server.db.database import Database
from server.db.tables import flows


@dataclass(frozen=True)
class ConsumedFlow:
    nonce: str
    secret: str | None  # what the start sealed in the row (OAuth 1.0a's request token), if it wrote one


def secret_aad(nonce: str) -> str:
    """Binds a flow's sealed secret to its nonce, in its row or in its state alike."""
    return f"flow:{nonce}:pkce_verifier"


async def create_flow(
    db: Database,
    sealer: Sealer,
    *,
    nonce: str,
    workspace_id: str,
    environment: str,
    integration: str,
    secret: str,
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
            "pkce_verifier_enc": sealer.seal(secret.encode(), secret_aad(nonce)),
            "created_at": now,
            "expires_at": now + timedelta(seconds=max_age),
        },
    )


@functools.cache
def _consume(dialect: str) -> sa.Insert:
    insert_fn = postgresql.insert if dialect == "postgresql" else sqlite.insert
    columns = ("nonce", "workspace_id", "environment", "integration", "created_at", "expires_at", "consumed_at")
    stmt = insert_fn(flows).values({name: sa.bindparam(f"v_{name}", type_=flows.c[name].type) for name in columns})
    return stmt.on_conflict_do_update(
        index_elements=["nonce"],
        set_={"consumed_at": stmt.excluded.consumed_at},
        where=sa.and_(flows.c.consumed_at.is_(None), flows.c.expires_at > stmt.excluded.consumed_at),
    ).returning(flows.c.nonce, flows.c.pkce_verifier_enc)


async def consume_flow(
    db: Database,
    sealer: Sealer,
    nonce: str,
    *,
    workspace_id: str,
    environment: str,
    integration: str,
    max_age: int,
) -> ConsumedFlow | None:
    """Mark the flow used; None when it was used already (or its row, written at start, expired).

    The state's own signature and age were checked before: a row is kept `max_age` past its use,
    longer than the state it marks can verify, and housekeeping deletes it a day after that."""
    now = utcnow()
    values = {
        "nonce": nonce,
        "workspace_id": workspace_id,
        "environment": environment,
        "integration": integration,
        "created_at": now,
        "expires_at": now + timedelta(seconds=max_age),
        "consumed_at": now,
    }
    row = await db.fetch_one(_consume(db.dialect), {f"v_{name}": value for name, value in values.items()})
    if row is None:
        return None
    enc = row["pkce_verifier_enc"]
    return ConsumedFlow(nonce=nonce, secret=sealer.open(enc, secret_aad(nonce)).decode() if enc else None)


async def purge_expired(db: Database, older_than: timedelta = timedelta(days=1)) -> None:
    await db.execute(flows.delete().where(flows.c.expires_at < utcnow() - older_than))
