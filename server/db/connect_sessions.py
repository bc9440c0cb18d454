"""Connect sessions and authorization links as server-side records.

The host's backend mints one for one end-user; whoever holds its token can open flows as that
end-user, so the token is a random secret kept only as its SHA-256, it expires, the host can
revoke it, and the first browser that starts a flow with it owns it: `bind` is one atomic UPDATE
that either claims an unbound record or matches the browser (or the picker page) that did.
An authorization link (kind `auth_url`, one integration) is consumed by its successful flow.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa

from server.crypto import random_id, sha256_hex
from server.db.clock import as_utc, required_utc, utcnow
from server.db.database import Database
from server.db.statements import Row
from server.db.tables import connect_sessions

Kind = Literal["session", "auth_url"]
Refusal = Literal["used", "expired"]
KEEP_FOR = timedelta(days=1)  # after expiry, for the audit of who used what


@dataclass(frozen=True)
class SessionRecord:
    id: str
    workspace_id: str
    environment: str
    kind: Kind
    context: dict[str, Any]
    expires_at: datetime
    bound: bool
    consumed: bool
    revoked: bool

    def refusal(self, now: datetime) -> Refusal | None:
        """Why no flow may start with it now (before any browser check), or None."""
        if self.revoked or self.expires_at <= now:
            return "expired"
        if self.consumed:
            return "used"
        return None


def _record(row: Row) -> SessionRecord:
    kind = str(row["kind"])
    if kind not in ("session", "auth_url"):
        raise ValueError(f"connect_sessions.kind {kind!r} is unknown")
    return SessionRecord(
        id=str(row["id"]),
        workspace_id=str(row["workspace_id"]),
        environment=str(row["environment"]),
        kind=kind,  # type: ignore[arg-type]  # checked just above
        context=json.loads(row["context"]),
        expires_at=required_utc(row["expires_at"], "connect_sessions.expires_at"),
        bound=row["bound_at"] is not None,
        consumed=row["consumed_at"] is not None,
        revoked=row["revoked_at"] is not None,
    )


async def create(
    db: Database, *, workspace_id: str, environment: str, kind: Kind, context: dict[str, Any], max_age: int
) -> tuple[SessionRecord, str]:
    """A new record and its token (shown once: only its hash is kept)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    record = SessionRecord(
        id=random_id("cs"),
        workspace_id=workspace_id,
        environment=environment,
        kind=kind,
        context=context,
        expires_at=now + timedelta(seconds=max_age),
        bound=False,
        consumed=False,
        revoked=False,
    )
    await db.execute(
        connect_sessions.insert().values(
            id=record.id,
            token_hash=sha256_hex(token),
            workspace_id=workspace_id,
            environment=environment,
            kind=kind,
            context=json.dumps(context, separators=(",", ":")),
            created_at=now,
            expires_at=record.expires_at,
        )
    )
    return record, token


async def find_by_token(db: Database, token: str) -> SessionRecord | None:
    row = await db.fetch_one(sa.select(connect_sessions).where(connect_sessions.c.token_hash == sha256_hex(token)))
    return _record(row) if row else None


async def find_by_id(db: Database, session_id: str) -> SessionRecord | None:
    row = await db.fetch_one(sa.select(connect_sessions).where(connect_sessions.c.id == session_id))
    return _record(row) if row else None


async def bind(db: Database, session_id: str, *, browser_hash: str, picker_id: str | None) -> Refusal | None:
    """Claim the record for this browser, or check it is the browser that did; None when allowed.

    A start matches by the binding cookie (first-party windows), or by the picker page it came
    from (an inline picker's own frame, where the cookie may not be sent).
    """
    now = utcnow()
    c = connect_sessions.c
    same_browser = sa.or_(c.browser_hash.is_(None), c.browser_hash == browser_hash)
    if picker_id is not None:
        same_browser = sa.or_(same_browser, c.picker_id == picker_id)
    claimed = await db.fetch_one(
        connect_sessions.update()
        .where(
            c.id == session_id,
            c.revoked_at.is_(None),
            c.consumed_at.is_(None),
            c.expires_at > now,
            same_browser,
        )
        .values(
            browser_hash=sa.func.coalesce(c.browser_hash, browser_hash),
            picker_id=sa.func.coalesce(c.picker_id, picker_id),
            bound_at=sa.func.coalesce(c.bound_at, now),
        )
        .returning(c.id)
    )
    if claimed is not None:
        return None
    record = await find_by_id(db, session_id)
    if record is None:
        return "expired"
    return record.refusal(now) or "used"


async def complete(db: Database, session_id: str) -> Refusal | None:
    """A flow started with it succeeded: None when it may be stored. An authorization link is
    used up by this (one UPDATE, so two flows cannot both use it); a connect session stays usable
    until it expires; a revoked one lets no flow complete."""
    c = connect_sessions.c
    allowed = await db.fetch_one(
        connect_sessions.update()
        .where(
            c.id == session_id,
            c.revoked_at.is_(None),
            sa.or_(c.kind == "session", c.consumed_at.is_(None)),
        )
        .values(consumed_at=sa.case((c.kind == "auth_url", utcnow()), else_=c.consumed_at))
        .returning(c.id)
    )
    if allowed is not None:
        return None
    record = await find_by_id(db, session_id)
    return "expired" if record is None or record.revoked else "used"


async def revoke(db: Database, workspace_id: str, environment: str, session_id: str) -> SessionRecord | None:
    """End it now: no flow starts, or completes, with it after this. None if not in this environment."""
    c = connect_sessions.c
    row = await db.fetch_one(
        connect_sessions.update()
        .where(c.id == session_id, c.workspace_id == workspace_id, c.environment == environment)
        .values(revoked_at=sa.func.coalesce(c.revoked_at, utcnow()))
        .returning(*connect_sessions.c)
    )
    return _record(row) if row else None


async def purge_expired(db: Database) -> None:
    await db.execute(connect_sessions.delete().where(connect_sessions.c.expires_at < utcnow() - KEEP_FOR))


def iso(value: datetime) -> str:
    utc = as_utc(value)
    assert utc is not None
    return utc.isoformat().replace("+00:00", "Z")
