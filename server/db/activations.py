"""Activations: a workspace's developer credentials for one integration in one environment."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from server.crypto import Sealer
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
) -> Activation:
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
        existing = await db.fetch_one(
            sa.select(activations.c.integration).where(_key(workspace_id, environment, integration))
        )
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
    found = await get_activation(db, workspace_id, environment, integration)
    assert found is not None
    return found


async def deactivate(db: Database, workspace_id: str, environment: str, integration: str) -> bool:
    found = await get_activation(db, workspace_id, environment, integration)
    await db.execute(activations.delete().where(_key(workspace_id, environment, integration)))
    return found is not None


# Every flow start and callback reads its activation: statements built once.
_KEY = sa.and_(
    activations.c.workspace_id == sa.bindparam("workspace_id"),
    activations.c.environment == sa.bindparam("environment"),
    activations.c.integration == sa.bindparam("integration"),
)
_GET = sa.select(activations).where(_KEY)
_SECRET = sa.select(activations.c.client_secret_enc).where(_KEY)


async def get_activation(db: Database, workspace_id: str, environment: str, integration: str) -> Activation | None:
    row = await db.fetch_one(
        _GET, {"workspace_id": workspace_id, "environment": environment, "integration": integration}
    )
    return _row(row) if row else None


async def list_activations(db: Database, workspace_id: str, environment: str) -> dict[str, Activation]:
    rows = await db.fetch_all(
        sa.select(activations).where(
            activations.c.workspace_id == workspace_id, activations.c.environment == environment
        )
    )
    return {str(r["integration"]): _row(r) for r in rows}


async def client_secret(db: Database, sealer: Sealer, activation: Activation) -> str | None:
    row = await db.fetch_one(
        _SECRET,
        {
            "workspace_id": activation.workspace_id,
            "environment": activation.environment,
            "integration": activation.integration,
        },
    )
    if row is None or row["client_secret_enc"] is None:
        return None
    aad = _aad(activation.workspace_id, activation.environment, activation.integration)
    return sealer.open(str(row["client_secret_enc"]), aad).decode()
