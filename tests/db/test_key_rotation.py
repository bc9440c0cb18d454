"""Rotating LATCHKEY_SECRET_KEY: old secrets still open, `reseal` moves them to the new key."""

from __future__ import annotations

import sqlalchemy as sa

from server.crypto import Sealer
from server.db import activations as activation_store
from server.db import connections as connection_store
from server.db.reseal import reseal_all
from server.db.tables import connections
from tests.harness import SECRET, Running, Workspace

NEW = "a-brand-new-secret-key-0123456789abcdefgh"


async def test_reseal_moves_every_secret_to_the_new_key(lk: Running, workspace: Workspace) -> None:
    old = lk.services.sealer
    made = await lk.client.post(
        "/api/v1/connections", headers=workspace.auth(), json={"integration": "hubspot", "external_xref": "u"}
    )
    connection = await connection_store.get_connection(lk.db, workspace.id, "sandbox", made.json()["data"]["id"])
    before = await connection_store.read_credentials(lk.db, old, connection)
    await activation_store.activate(
        lk.db, old, workspace.id, "production", "hubspot", client_id="cid", client_secret="csecret", scopes=[]
    )

    rotated = Sealer(NEW, (SECRET,))
    assert await connection_store.read_credentials(lk.db, rotated, connection) == before  # old key still opens
    assert await reseal_all(lk.db, rotated) == {"connections": 1, "activations": 1, "webhooks": 0}
    assert await reseal_all(lk.db, rotated) == {"connections": 0, "activations": 0, "webhooks": 0}

    only_new = Sealer(NEW)
    assert await connection_store.read_credentials(lk.db, only_new, connection) == before
    activation = await activation_store.get_activation(lk.db, workspace.id, "production", "hubspot")
    assert activation is not None
    assert activation_store.client_secret(only_new, activation) == "csecret"
    stored = await lk.db.fetch_val(sa.select(connections.c.credentials_enc))
    assert only_new.needs_reseal(stored) is False


async def test_links_signed_before_a_rotation_still_verify(lk: Running) -> None:
    from server.signing import SALT_CONTEXT, Signer

    token = Signer(SECRET).sign(SALT_CONTEXT, {"x": 1})
    assert Signer(NEW, (SECRET,)).verify(SALT_CONTEXT, token, 60, what="link") == {"x": 1}
