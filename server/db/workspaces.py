"""Workspaces, their environments, API keys and allowlists."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from server.audit_actions import Actor
from server.crypto import hash_api_key, new_api_key, random_id
from server.db.audit import diff, record_audit
from server.db.clock import utcnow
from server.db.database import Database
from server.db.statements import Row
from server.db.tables import environments, workspaces
from server.errors import InvalidRequest, NotFound

ENVIRONMENTS = ("sandbox", "production")


@dataclass(frozen=True)
class Environment:
    workspace_id: str
    workspace_name: str
    name: str
    api_key_prefix: str
    allowed_origins: tuple[str, ...]
    allowed_redirect_urls: tuple[str, ...]
    public_mode: bool

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


def _row_to_env(row: Row) -> Environment:
    return Environment(
        workspace_id=row["workspace_id"],
        workspace_name=row["workspace_name"],
        name=row["name"],
        api_key_prefix=row["api_key_prefix"],
        allowed_origins=tuple(json.loads(row["allowed_origins"])),
        allowed_redirect_urls=tuple(json.loads(row["allowed_redirect_urls"])),
        public_mode=bool(row["public_mode"]),
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


# Every API request resolves its key: a statement built once (server/db/statements.py).
_BY_KEY_HASH = _env_query().where(environments.c.api_key_hash == sa.bindparam("key_hash"))


async def environment_for_key(db: Database, api_key: str) -> Environment | None:
    row = await db.fetch_one(_BY_KEY_HASH, {"key_hash": hash_api_key(api_key)})
    return _row_to_env(row) if row else None


async def get_environment(db: Database, workspace_id: str, name: str) -> Environment:
    if name not in ENVIRONMENTS:
        raise InvalidRequest(f"Unknown environment {name!r}: use sandbox or production.")
    row = await db.fetch_one(
        _env_query().where(environments.c.workspace_id == workspace_id, environments.c.name == name)
    )
    if row is None:
        raise NotFound("No such workspace.")
    return _row_to_env(row)


async def rotate_key(db: Database, workspace_id: str, env: str, *, actor: Actor | None = None) -> str:
    """A new key for the environment (returned once, stored hashed); the old one stops at once."""
    key = new_api_key(env)
    async with db.transaction():
        before = await get_environment(db, workspace_id, env)
        await db.execute(
            environments.update()
            .where(environments.c.workspace_id == workspace_id, environments.c.name == env)
            .values(api_key_hash=hash_api_key(key), api_key_prefix=key[:12], updated_at=utcnow())
        )
        if actor is not None:
            await record_audit(
                db,
                workspace_id=workspace_id,
                environment=env,
                action="api_key.rotated",
                actor=actor,
                changes={"api_key_prefix": {"before": before.api_key_prefix, "after": key[:12]}},
            )
    return key


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
