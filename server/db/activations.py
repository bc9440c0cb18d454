"""Activations: a workspace's developer credentials for one integration in one environment."""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from server.audit_actions import Actor
from server.crypto import Sealer, UnreadableSecret
from server.db.audit import diff, mask, record_audit, secret_change
from server.db.clock import utcnow
from server.db.database import Database
from server.db.statements import Row
from server.db.tables import activations


@dataclass(frozen=True)
class Activation:
    workspace_id: str
    environment: str
    integration: str
    client_id: str | None
    has_client_secret: bool
    scopes: tuple[str, ...]
    # Sealed as stored (AES-GCM, bound to this activation): read with the row, opened only by
    # client_secret(), so a flow's callback reads its activation once.
    client_secret_enc: str | None = field(default=None, repr=False, compare=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "integration": self.integration,
            "environment": self.environment,
            "client_id": self.client_id,
            "has_client_secret": self.has_client_secret,
            "scopes": list(self.scopes),
        }


def _aad(workspace_id: str, environment: str, integration: str) -> str:
    return f"activation:{workspace_id}:{environment}:{integration}:client_secret"


def _row(row: Row) -> Activation:
    return Activation(
        workspace_id=row["workspace_id"],
        environment=row["environment"],
        integration=row["integration"],
        client_id=row["client_id"],
        has_client_secret=row["client_secret_enc"] is not None,
        scopes=tuple(json.loads(row["scopes"])),
        client_secret_enc=row["client_secret_enc"],
    )


def _key(workspace_id: str, environment: str, integration: str) -> sa.ColumnElement[bool]:
    return sa.and_(
        activations.c.workspace_id == workspace_id,
        activations.c.environment == environment,
        activations.c.integration == integration,
    )


async def activate(
    db: Database,
    sealer: Sealer,
    workspace_id: str,
    environment: str,
    integration: str,
    *,
    client_id: str | None,
    client_secret: str | None,
    scopes: list[str],
    actor: Actor | None = None,
) -> Activation:
    """Activate, or change an activation in place. With an `actor`, the activity log records it:
    `integration.activated`, or `integration.updated` with what changed (nothing: no event)."""
    now = utcnow()
    secret_enc = (
        sealer.seal(client_secret.encode(), _aad(workspace_id, environment, integration)) if client_secret else None
    )
    values: dict[str, Any] = {
        "client_id": client_id,
        "client_secret_enc": secret_enc,
        "scopes": json.dumps(sorted(set(scopes))),
        "updated_at": now,
    }
    async with db.transaction():
        existing = await db.fetch_one(sa.select(activations).where(_key(workspace_id, environment, integration)))
        if existing:
            await db.execute(activations.update().where(_key(workspace_id, environment, integration)).values(**values))
        else:
            await db.execute(
                activations.insert().values(
                    workspace_id=workspace_id,
                    environment=environment,
                    integration=integration,
                    created_at=now,
                    **values,
                )
            )
        if actor is not None:
            await _audit_activation(
                db, sealer, existing, values, client_secret, actor, workspace_id, environment, integration
            )
    found = await get_activation(db, workspace_id, environment, integration)
    assert found is not None
    return found


async def _audit_activation(
    db: Database,
    sealer: Sealer,
    existing: Row | None,
    values: dict[str, Any],
    client_secret: str | None,
    actor: Actor,
    workspace_id: str,
    environment: str,
    integration: str,
) -> None:
    """What an activation changed, from non-secret values: the secret only as set / changed / removed."""
    scopes = json.loads(values["scopes"])
    if existing is None:
        changes: dict[str, Any] = {"integration": integration, "scopes": scopes}
        if values["client_id"]:
            changes["client_id"] = mask(values["client_id"])
        if client_secret:
            changes["client_secret"] = "set"
        await record_audit(
            db,
            workspace_id=workspace_id,
            environment=environment,
            action="integration.activated",
            actor=actor,
            changes=changes,
        )
        return
    old_secret_enc = existing["client_secret_enc"]
    replaced = False
    if old_secret_enc is not None and client_secret:
        # Compared in memory only, to say "changed" or not; neither value leaves this function.
        try:
            old_secret = sealer.open(str(old_secret_enc), _aad(workspace_id, environment, integration))
            replaced = not hmac.compare_digest(old_secret, client_secret.encode())
        except UnreadableSecret:
            replaced = True  # sealed with a key no longer configured: the new one replaces it
    changes = diff(
        scopes=(json.loads(existing["scopes"]), scopes),
        client_id=(mask(existing["client_id"]), mask(values["client_id"])),
    )
    if existing["client_id"] != values["client_id"] and "client_id" not in changes:
        changes["client_id"] = "changed"  # two IDs that mask alike
    secret = secret_change(old_secret_enc is not None, bool(client_secret), replaced)
    if secret:
        changes["client_secret"] = secret
    if changes:
        await record_audit(
            db,
            workspace_id=workspace_id,
            environment=environment,
            action="integration.updated",
            actor=actor,
            changes={"integration": integration, **changes},
        )


async def deactivate(
    db: Database, workspace_id: str, environment: str, integration: str, *, actor: Actor | None = None
) -> bool:
    """False when it was not active. With an `actor`, the activity log records what was removed."""
    async with db.transaction():
        found = await get_activation(db, workspace_id, environment, integration)
        if found is None:
            return False
        await db.execute(activations.delete().where(_key(workspace_id, environment, integration)))
        if actor is not None:
            await record_audit(
                db,
                workspace_id=workspace_id,
                environment=environment,
                action="integration.deactivated",
                actor=actor,
                changes={"integration": integration, "scopes": list(found.scopes)},
            )
    return True


# Every flow start and callback reads its activation: statements built once.
_KEY = sa.and_(
    activations.c.workspace_id == sa.bindparam("workspace_id"),
    activations.c.environment == sa.bindparam("environment"),
    activations.c.integration == sa.bindparam("integration"),
)
# What an Activation holds, no timestamps: reading a datetime back is the costly part of a row.
_ACTIVATION = tuple(
    activations.c[name]
    for name in ("workspace_id", "environment", "integration", "client_id", "client_secret_enc", "scopes")
)
_GET = sa.select(*_ACTIVATION).where(_KEY)


async def get_activation(db: Database, workspace_id: str, environment: str, integration: str) -> Activation | None:
    row = await db.fetch_one(
        _GET, {"workspace_id": workspace_id, "environment": environment, "integration": integration}
    )
    return _row(row) if row else None


async def list_activations(db: Database, workspace_id: str, environment: str) -> dict[str, Activation]:
    rows = await db.fetch_all(
        sa.select(*_ACTIVATION).where(
            activations.c.workspace_id == workspace_id, activations.c.environment == environment
        )
    )
    return {str(r["integration"]): _row(r) for r in rows}


def client_secret(sealer: Sealer, activation: Activation) -> str | None:
    """The developer's client secret in clear (it came sealed with the activation's row)."""
    if activation.client_secret_enc is None:
        return None
    aad = _aad(activation.workspace_id, activation.environment, activation.integration)
    return sealer.open(activation.client_secret_enc, aad).decode()
