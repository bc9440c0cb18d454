"""Re-encrypting stored secrets with the current key after a LATCHKEY_SECRET_KEY rotation.

Rotation: set the new LATCHKEY_SECRET_KEY, move the old one to LATCHKEY_OLD_SECRET_KEYS, run
`latchkey reseal`, then drop the old key once it reports nothing left to reseal.
"""

from __future__ import annotations

import sqlalchemy as sa

from server.crypto import Sealer
from server.db.activations import _aad as activation_aad
from server.db.connections import credentials_aad
from server.db.database import Database
from server.db.tables import activations, connections
from server.db.webhooks import reseal_secrets as reseal_webhook_secrets


async def reseal_all(db: Database, sealer: Sealer) -> dict[str, int]:
    counts = {"connections": 0, "activations": 0, "webhooks": 0}
    for row in await db.fetch_all(sa.select(connections)):
        if sealer.needs_reseal(row["credentials_enc"]):
            aad = credentials_aad(row["workspace_id"], row["environment"], row["integration"], row["external_xref"])
            fresh = sealer.seal(sealer.open(row["credentials_enc"], aad), aad)
            await db.execute(
                connections.update()
                .where(connections.c.id == row["id"], connections.c.credentials_enc == row["credentials_enc"])
                .values(credentials_enc=fresh)
            )
            counts["connections"] += 1
    for row in await db.fetch_all(sa.select(activations).where(activations.c.client_secret_enc.is_not(None))):
        if sealer.needs_reseal(row["client_secret_enc"]):
            aad = activation_aad(row["workspace_id"], row["environment"], row["integration"])
            fresh = sealer.seal(sealer.open(row["client_secret_enc"], aad), aad)
            await db.execute(
                activations.update()
                .where(
                    activations.c.workspace_id == row["workspace_id"],
                    activations.c.environment == row["environment"],
                    activations.c.integration == row["integration"],
                    activations.c.client_secret_enc == row["client_secret_enc"],
                )
                .values(client_secret_enc=fresh)
            )
            counts["activations"] += 1
    counts["webhooks"] = await reseal_webhook_secrets(db, sealer)
    return counts
