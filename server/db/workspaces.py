"""Workspaces, their environments, API keys and allowlists."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from server.audit_actions import Actor
from server.crypto import hash_api_key, new_api_key, random_id
from server.db.audit import diff, record_audit
from server.db.clock import as_utc, utcnow
from server.db.database import Database
from server.db.statements import Row
from server.db.tables import environments, workspaces
from server.errors import Conflict, InvalidRequest, NotFound

ENVIRONMENTS = ("sandbox", "production")

# How long a rotated-out key may keep working: long enough for any deploy, short enough that a
# leaked key cannot be kept alive by "rotating" it.
MAX_GRACE = timedelta(days=30)
_DURATION = re.compile(r"^(\d{1,9})([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Environment:
    workspace_id: str
    workspace_name: str
    name: str
    api_key_prefix: str
    allowed_origins: tuple[str, ...]
    allowed_redirect_urls: tuple[str, ...]
    public_mode: bool
    # The key a rotation replaced, while it still works (None otherwise); and whether the request
    # being served authenticated with it (the activity log then names that key).
    previous_key_prefix: str | None = None
    previous_key_expires_at: datetime | None = None
    via_previous_key: bool = False

    @property
    def is_sandbox(self) -> bool:
        return self.name == "sandbox"

    def as_json(self) -> dict[str, Any]:
        return {
            "workspace_id": self.workspace_id,
            "workspace_name": self.workspace_name,
            "environment": self.name,
            "api_key_prefix": self.api_key_prefix,
            "allowed_origins": list(self.allowed_origins),
            "allowed_redirect_urls": list(self.allowed_redirect_urls),
            "public_mode": self.public_mode,
        }


@dataclass(frozen=True)
class CreatedWorkspace:
    id: str
    name: str
    api_keys: dict[str, str]


def _row_to_env(row: Row, *, now: datetime | None = None, via_previous_key: bool = False) -> Environment:
    expires = as_utc(row["previous_key_expires_at"])
    still_valid = expires is not None and expires > (now or utcnow())
    return Environment(
        workspace_id=row["workspace_id"],
        workspace_name=row["workspace_name"],
        name=row["name"],
        api_key_prefix=row["api_key_prefix"],
        allowed_origins=tuple(json.loads(row["allowed_origins"])),
        allowed_redirect_urls=tuple(json.loads(row["allowed_redirect_urls"])),
        public_mode=bool(row["public_mode"]),
        previous_key_prefix=row["previous_key_prefix"] if still_valid else None,
        previous_key_expires_at=expires if still_valid else None,
        via_previous_key=via_previous_key,
    )


def _env_query() -> sa.Select[*tuple[Any, ...]]:
    return sa.select(
        environments.c.workspace_id,
        workspaces.c.name.label("workspace_name"),
        environments.c.name,
        environments.c.api_key_prefix,
        environments.c.allowed_origins,
        environments.c.allowed_redirect_urls,
        environments.c.public_mode,
        environments.c.previous_key_prefix,
        environments.c.previous_key_expires_at,
    ).join(workspaces, workspaces.c.id == environments.c.workspace_id)


async def create_workspace(
    db: Database,
    name: str,
    *,
    allowed_origins: list[str] | None = None,
    allowed_redirect_urls: list[str] | None = None,
    workspace_id: str | None = None,
    actor: Actor | None = None,
) -> CreatedWorkspace:
    """Create a workspace with both environments; the API keys are returned once, stored hashed.

    With an `actor`, the activity log records who created it (`workspace.created`).
    """
    now = utcnow()
    ws_id = workspace_id or random_id("ws", 9)
    keys: dict[str, str] = {}
    async with db.transaction():
        await db.execute(workspaces.insert().values(id=ws_id, name=name, created_at=now))
        for env in ENVIRONMENTS:
            key = new_api_key(env)
            keys[env] = key
            await db.execute(
                environments.insert().values(
                    workspace_id=ws_id,
                    name=env,
                    api_key_hash=hash_api_key(key),
                    api_key_prefix=key[:12],
                    allowed_origins=json.dumps(allowed_origins or []),
                    allowed_redirect_urls=json.dumps(allowed_redirect_urls or []),
                    public_mode=(env == "sandbox"),
                    updated_at=now,
                )
            )
        if actor is not None:
            await record_audit(
                db,
                workspace_id=ws_id,
                environment=None,
                action="workspace.created",
                actor=actor,
                changes={
                    "name": name,
                    "allowed_origins": list(allowed_origins or []),
                    "allowed_redirect_urls": list(allowed_redirect_urls or []),
                },
            )
    return CreatedWorkspace(id=ws_id, name=name, api_keys=keys)


async def list_workspaces(db: Database) -> list[dict[str, str]]:
    rows = await db.fetch_all(sa.select(workspaces).order_by(workspaces.c.created_at))
    return [{"id": str(r["id"]), "name": str(r["name"])} for r in rows]


# Every API request resolves its key: one statement built once (server/db/statements.py), one
# query, each side of the OR on a unique index. A previous key past its expiry matches nothing.
def by_key(*columns: sa.ColumnElement[Any]) -> sa.Select[*tuple[Any, ...]]:
    """The environment a key (`:key_hash`, at `:now`) opens, with `columns` of rows the caller joins
    to it (`.outerjoin(…)`): a host's read of one connection is then one query, not two."""
    return (
        _env_query()
        .add_columns((environments.c.api_key_hash == sa.bindparam("key_hash")).label("by_current_key"), *columns)
        .where(
            sa.or_(
                environments.c.api_key_hash == sa.bindparam("key_hash"),
                sa.and_(
                    environments.c.previous_key_hash == sa.bindparam("key_hash"),
                    environments.c.previous_key_expires_at > sa.bindparam("now"),
                ),
            )
        )
    )


_BY_KEY_HASH = by_key()


def key_values(api_key: str) -> dict[str, Any]:
    """The parameters of a `by_key` statement."""
    return {"key_hash": hash_api_key(api_key), "now": utcnow()}


def environment_of(row: Row, values: Mapping[str, Any]) -> Environment:
    """The environment of a `by_key` row read with `values`."""
    return _row_to_env(row, now=values["now"], via_previous_key=not row["by_current_key"])


async def environment_for_key(db: Database, api_key: str) -> Environment | None:
    values = key_values(api_key)
    row = await db.fetch_one(_BY_KEY_HASH, values)
    return None if row is None else environment_of(row, values)


# Built once: every picker, start result and delivery reads an environment (server/db/statements.py).
_BY_NAME = _env_query().where(
    environments.c.workspace_id == sa.bindparam("workspace_id"), environments.c.name == sa.bindparam("name")
)


async def get_environment(db: Database, workspace_id: str, name: str) -> Environment:
    if name not in ENVIRONMENTS:
        raise InvalidRequest(f"Unknown environment {name!r}: use sandbox or production.")
    row = await db.fetch_one(_BY_NAME, {"workspace_id": workspace_id, "name": name})
    if row is None:
        raise NotFound("No such workspace.")
    return _row_to_env(row)


@dataclass(frozen=True)
class RotatedKey:
    """A rotation's outcome: the new key (shown once), until when the replaced key still works
    (None: it stopped at once), and the prefix of an older previous key the rotation cut off."""

    key: str
    previous_key_expires_at: datetime | None
    cut_off_prefix: str | None


def grace_text(grace: timedelta) -> str:
    """`timedelta(hours=36)` → "36 hours", `timedelta(hours=48)` → "2 days": the largest unit that divides it."""
    seconds = int(grace.total_seconds())
    if seconds <= 0:
        return "none"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    raise AssertionError("unreachable: every whole number of seconds divides by 1")


def check_grace(grace: timedelta) -> timedelta:
    if grace < timedelta(0) or grace > MAX_GRACE:
        raise InvalidRequest(f"A grace period is at most {grace_text(MAX_GRACE)} (0: the old key stops at once).")
    return grace


def parse_grace(text: str) -> timedelta:
    """`30m`, `24h`, `7d` (or `90s`), `0`: how long a rotated-out key keeps working."""
    value = text.strip().lower()
    if value == "0":
        return timedelta(0)
    match = _DURATION.match(value)
    if match is None:
        raise InvalidRequest(
            f"{text!r} is not a grace period: use a number and s, m, h or d, like 30m, 24h or 7d (0: none)."
        )
    return check_grace(timedelta(seconds=int(match[1]) * _UNIT_SECONDS[match[2]]))


def _this_environment(workspace_id: str, env: str) -> sa.ColumnElement[bool]:
    return sa.and_(environments.c.workspace_id == workspace_id, environments.c.name == env)


async def _key_state(db: Database, workspace_id: str, env: str) -> Row:
    if env not in ENVIRONMENTS:
        raise InvalidRequest(f"Unknown environment {env!r}: use sandbox or production.")
    row = await db.fetch_one(
        sa.select(
            environments.c.api_key_hash,
            environments.c.api_key_prefix,
            environments.c.previous_key_hash,
            environments.c.previous_key_prefix,
            environments.c.previous_key_expires_at,
        ).where(_this_environment(workspace_id, env))
    )
    if row is None:
        raise NotFound("No such workspace.")
    return row


async def rotate_key(
    db: Database, workspace_id: str, env: str, *, grace: timedelta = timedelta(0), actor: Actor | None = None
) -> RotatedKey:
    """A new key for the environment (returned once, stored hashed). The replaced key keeps working
    for `grace` (0: it stops at once). There is one previous key at most: a previous key still in
    its grace period stops at once.

    One UPDATE swaps the keys, and only if the key read for the activity log is still the current
    one: a rotation racing this one makes it a Conflict, never two half-recorded swaps."""
    check_grace(grace)
    key, now = new_api_key(env), utcnow()
    keeps_until = now + grace if grace else None
    async with db.transaction():
        seen = await _key_state(db, workspace_id, env)
        seen_expiry = as_utc(seen["previous_key_expires_at"])
        cut_off = (
            seen["previous_key_prefix"] if seen["previous_key_hash"] and seen_expiry and seen_expiry > now else None
        )
        same_previous = (
            environments.c.previous_key_hash.is_(None)
            if seen["previous_key_hash"] is None
            else environments.c.previous_key_hash == seen["previous_key_hash"]
        )
        swapped = await db.fetch_one(
            environments.update()
            .where(
                _this_environment(workspace_id, env),
                environments.c.api_key_hash == seen["api_key_hash"],
                same_previous,
            )
            .values(
                api_key_hash=hash_api_key(key),
                api_key_prefix=key[:12],
                previous_key_hash=environments.c.api_key_hash if grace else None,
                previous_key_prefix=environments.c.api_key_prefix if grace else None,
                previous_key_expires_at=keeps_until,
                updated_at=now,
            )
            .returning(environments.c.api_key_prefix)
        )
        if swapped is None:
            raise Conflict("The key was rotated by someone else at the same moment: nothing changed here.")
        if actor is not None:
            changes: dict[str, Any] = {
                "api_key_prefix": {"before": seen["api_key_prefix"], "after": key[:12]},
                "grace_seconds": int(grace.total_seconds()),
            }
            if keeps_until is not None:
                changes["previous_key_valid_until"] = keeps_until.isoformat(timespec="seconds")
            if cut_off is not None:
                changes["previous_key_stopped"] = cut_off
            await record_audit(
                db,
                workspace_id=workspace_id,
                environment=env,
                action="api_key.rotated",
                actor=actor,
                changes=changes,
            )
    return RotatedKey(key=key, previous_key_expires_at=keeps_until, cut_off_prefix=cut_off)


async def expire_previous_key(db: Database, workspace_id: str, env: str, *, actor: Actor | None = None) -> str | None:
    """End a rotation's grace period now: the previous key stops working. Returns its prefix, or
    None when no previous key was still valid (nothing changes, nothing is recorded).

    One conditional UPDATE; the prefix stays in its column (RETURNING gives the new row), but
    without a hash and an expiry ahead nothing matches it."""
    now = utcnow()
    async with db.transaction():
        await _key_state(db, workspace_id, env)  # an unknown workspace or environment says so
        row = await db.fetch_one(
            environments.update()
            .where(
                _this_environment(workspace_id, env),
                environments.c.previous_key_hash.is_not(None),
                environments.c.previous_key_expires_at > now,
            )
            .values(previous_key_hash=None, previous_key_expires_at=None, updated_at=now)
            .returning(environments.c.previous_key_prefix)
        )
        if row is None:
            return None
        prefix = str(row["previous_key_prefix"])
        if actor is not None:
            await record_audit(
                db,
                workspace_id=workspace_id,
                environment=env,
                action="api_key.previous_expired",
                actor=actor,
                changes={"previous_key_prefix": prefix},
            )
    return prefix


async def update_environment(
    db: Database,
    workspace_id: str,
    env: str,
    *,
    allowed_origins: list[str] | None = None,
    allowed_redirect_urls: list[str] | None = None,
    public_mode: bool | None = None,
    actor: Actor | None = None,
) -> Environment:
    """Set what is given; with an `actor`, the activity log records what changed (nothing: no event)."""
    values: dict[str, Any] = {"updated_at": utcnow()}
    if allowed_origins is not None:
        values["allowed_origins"] = json.dumps(allowed_origins)
    if allowed_redirect_urls is not None:
        values["allowed_redirect_urls"] = json.dumps(allowed_redirect_urls)
    if public_mode is not None:
        values["public_mode"] = public_mode
    async with db.transaction():
        before = await get_environment(db, workspace_id, env)
        await db.execute(
            environments.update()
            .where(environments.c.workspace_id == workspace_id, environments.c.name == env)
            .values(**values)
        )
        after = await get_environment(db, workspace_id, env)
        changes = diff(
            allowed_origins=(list(before.allowed_origins), list(after.allowed_origins)),
            allowed_redirect_urls=(list(before.allowed_redirect_urls), list(after.allowed_redirect_urls)),
            public_mode=(before.public_mode, after.public_mode),
        )
        if actor is not None and changes:
            await record_audit(
                db,
                workspace_id=workspace_id,
                environment=env,
                action="environment.updated",
                actor=actor,
                changes=changes,
            )
    return after
