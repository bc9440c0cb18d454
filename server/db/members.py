"""Workspace members (people who sign in to the dashboard), their lockout and their sessions.

The lockout is kept per member *and* client address: wrong passwords from one address lock only
that address out of that account, so a stranger who knows a member's email cannot lock the member
out from elsewhere. It lives in the database, so every process serving the dashboard shares it.

Passwords arrive here already hashed (server/dashboard/passwords.py); session IDs arrive hashed
too, so neither a password nor a usable session cookie can be read from the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from server.audit_actions import Actor
from server.crypto import random_id
from server.db.audit import record_audit
from server.db.clock import as_utc, required_utc, utcnow
from server.db.database import Database
from server.db.statements import Row
from server.db.tables import dashboard_sessions, members, sign_in_failures, workspaces
from server.errors import Conflict, InvalidRequest, NotFound


@dataclass(frozen=True)
class Member:
    id: str
    workspace_id: str
    workspace_name: str
    email: str
    created_at: datetime
    last_sign_in_at: datetime | None = None


@dataclass(frozen=True)
class SignInRecord:
    """What checking a password needs: the hash."""

    member: Member
    password_hash: str


@dataclass(frozen=True)
class SessionRecord:
    member: Member
    csrf_token: str
    expires_at: datetime


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or len(email) > 254 or any(c.isspace() for c in email):
        raise InvalidRequest("Enter an email address like you@example.com.", code="invalid_email")
    return email


def _member_query() -> sa.Select[*tuple[Any, ...]]:
    return sa.select(
        members.c.id,
        members.c.workspace_id,
        workspaces.c.name.label("workspace_name"),
        members.c.email,
        members.c.created_at,
        members.c.last_sign_in_at,
        members.c.password_hash,
    ).join(workspaces, workspaces.c.id == members.c.workspace_id)


def _member(row: Row) -> Member:
    return Member(
        id=row["id"],
        workspace_id=row["workspace_id"],
        workspace_name=row["workspace_name"],
        email=row["email"],
        created_at=required_utc(row["created_at"], "members.created_at"),
        last_sign_in_at=as_utc(row["last_sign_in_at"]),
    )


async def create_member(
    db: Database, workspace_id: str, email: str, password_hash: str, *, actor: Actor | None = None
) -> Member:
    """With an `actor`, the activity log of the workspace records the new member's e-mail."""
    email = normalise_email(email)
    member_id = random_id("mem", 9)
    async with db.transaction():
        if await db.fetch_one(sa.select(workspaces.c.id).where(workspaces.c.id == workspace_id)) is None:
            raise NotFound(f"No workspace {workspace_id!r}.")
        if await db.fetch_one(sa.select(members.c.id).where(members.c.email == email)) is not None:
            raise Conflict(f"{email} is already a member (of this or another workspace).", code="member_exists")
        await db.execute(
            members.insert().values(
                id=member_id,
                workspace_id=workspace_id,
                email=email,
                password_hash=password_hash,
                created_at=utcnow(),
            )
        )
        if actor is not None:
            await record_audit(
                db,
                workspace_id=workspace_id,
                environment=None,
                action="member.added",
                actor=actor,
                changes={"email": email},
            )
    found = await get_member(db, member_id)
    assert found is not None
    return found


async def get_member(db: Database, member_id: str) -> Member | None:
    row = await db.fetch_one(_member_query().where(members.c.id == member_id))
    return _member(row) if row else None


async def find_by_email(db: Database, email: str) -> SignInRecord | None:
    try:
        email = normalise_email(email)
    except InvalidRequest:
        return None
    row = await db.fetch_one(_member_query().where(members.c.email == email))
    if row is None:
        return None
    return SignInRecord(
        member=_member(row),
        password_hash=row["password_hash"],
    )


async def set_password(db: Database, member_id: str, password_hash: str) -> None:
    """A new password also ends every session and any lockout."""
    async with db.transaction():
        await db.execute(members.update().where(members.c.id == member_id).values(password_hash=password_hash))
        await db.execute(dashboard_sessions.delete().where(dashboard_sessions.c.member_id == member_id))
        await db.execute(sign_in_failures.delete().where(sign_in_failures.c.member_id == member_id))


# How long a run of wrong passwords without a lock is remembered.
FAILURE_MEMORY = timedelta(days=1)


async def locked_until(db: Database, member_id: str, client_address: str, *, now: datetime) -> datetime | None:
    """The end of this address's lock on this member's sign-in, if one is in force."""
    until = as_utc(
        await db.fetch_val(
            sa.select(sign_in_failures.c.locked_until).where(
                sign_in_failures.c.member_id == member_id, sign_in_failures.c.client_address == client_address
            )
        )
    )
    return until if until is not None and until > now else None


async def record_failed_sign_in(
    db: Database, member_id: str, client_address: str, *, now: datetime, max_failures: int, lock_until: datetime
) -> datetime | None:
    """Count a wrong password from this address; at `max_failures` in a row, lock it out. Returns the lock's end.

    One upsert … RETURNING per attempt, so concurrent wrong guesses are all counted; the lock is set
    only where the count has reached the limit (one UPDATE … WHERE failures >= limit).
    """
    await db.execute(
        sign_in_failures.delete().where(
            sign_in_failures.c.last_failed_at < now - FAILURE_MEMORY,
            sa.or_(sign_in_failures.c.locked_until.is_(None), sign_in_failures.c.locked_until < now),
        )
    )
    key = (sign_in_failures.c.member_id == member_id) & (sign_in_failures.c.client_address == client_address)
    insert_fn = postgresql.insert if db.dialect == "postgresql" else sqlite.insert
    row = await db.fetch_one(
        insert_fn(sign_in_failures)
        .values(member_id=member_id, client_address=client_address, failures=1, last_failed_at=now)
        .on_conflict_do_update(
            index_elements=["member_id", "client_address"],
            set_={"failures": sign_in_failures.c.failures + 1, "last_failed_at": now},
        )
        .returning(sign_in_failures.c.failures)
    )
    if row is None or row["failures"] < max_failures:
        return None
    locked = await db.fetch_one(
        sign_in_failures.update()
        .where(key, sign_in_failures.c.failures >= max_failures)
        .values(failures=0, locked_until=lock_until)
        .returning(sign_in_failures.c.locked_until)
    )
    return lock_until if locked is not None else await locked_until(db, member_id, client_address, now=now)


async def record_sign_in(
    db: Database, member_id: str, client_address: str, *, now: datetime, password_hash: str | None = None
) -> None:
    """A right password: this address's run of wrong ones ends (others' locks stay)."""
    values: dict[str, Any] = {"last_sign_in_at": now}
    if password_hash:
        values["password_hash"] = password_hash
    await db.execute(members.update().where(members.c.id == member_id).values(**values))
    await db.execute(
        sign_in_failures.delete().where(
            sign_in_failures.c.member_id == member_id, sign_in_failures.c.client_address == client_address
        )
    )


async def create_session(db: Database, member_id: str, *, id_hash: str, csrf_token: str, expires_at: datetime) -> None:
    now = utcnow()
    await db.execute(dashboard_sessions.delete().where(dashboard_sessions.c.expires_at < now))
    await db.execute(
        dashboard_sessions.insert().values(
            id_hash=id_hash,
            member_id=member_id,
            csrf_token=csrf_token,
            created_at=now,
            expires_at=expires_at,
        )
    )


async def session_member(db: Database, id_hash: str, *, now: datetime) -> SessionRecord | None:
    row = await db.fetch_one(
        _member_query()
        .add_columns(dashboard_sessions.c.csrf_token, dashboard_sessions.c.expires_at)
        .join(dashboard_sessions, dashboard_sessions.c.member_id == members.c.id)
        .where(dashboard_sessions.c.id_hash == id_hash, dashboard_sessions.c.expires_at > now)
    )
    if row is None:
        return None
    return SessionRecord(
        member=_member(row),
        csrf_token=row["csrf_token"],
        expires_at=required_utc(row["expires_at"], "dashboard_sessions.expires_at"),
    )


async def delete_session(db: Database, id_hash: str) -> None:
    await db.execute(dashboard_sessions.delete().where(dashboard_sessions.c.id_hash == id_hash))
