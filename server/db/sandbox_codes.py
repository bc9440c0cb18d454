"""The sandbox provider's authorization codes: stored hashed, single use, five minutes.

Redeeming is one `UPDATE … WHERE used_at IS NULL AND created_at > now - ttl RETURNING`, so two
token requests with the same code cannot both succeed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from server.crypto import sha256_hex
from server.db.clock import utcnow
from server.db.database import Database
from server.db.tables import sandbox_codes

CODE_TTL = timedelta(minutes=5)
KEEP_FOR = timedelta(days=1)


@dataclass(frozen=True)
class RedeemedCode:
    redirect_uri: str
    code_challenge: str
    scope: str


async def store_code(
    db: Database, code: str, *, client_id: str, redirect_uri: str, code_challenge: str, scope: str
) -> None:
    await db.execute(
        sandbox_codes.insert().values(
            code_hash=sha256_hex(code),
            client_id=client_id,
            redirect_uri=redirect_uri,
            code_challenge=code_challenge,
            scope=scope,
            created_at=utcnow(),
        )
    )


async def redeem_code(db: Database, code: str) -> RedeemedCode | None:
    """Mark the code used and return what it was issued for; None if unknown, used or expired."""
    now = utcnow()
    row = await db.fetch_one(
        sandbox_codes.update()
        .where(
            sandbox_codes.c.code_hash == sha256_hex(code),
            sandbox_codes.c.used_at.is_(None),
            sandbox_codes.c.created_at > now - CODE_TTL,
        )
        .values(used_at=now)
        .returning(sandbox_codes.c.redirect_uri, sandbox_codes.c.code_challenge, sandbox_codes.c.scope)
    )
    if row is None:
        return None
    return RedeemedCode(str(row["redirect_uri"]), str(row["code_challenge"]), str(row["scope"]))


async def purge_codes(db: Database) -> None:
    await db.execute(sandbox_codes.delete().where(sandbox_codes.c.created_at < utcnow() - KEEP_FOR))
