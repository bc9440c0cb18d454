"""Re-authorization: an unhealthy connection, re-authorized through the sandbox flow with a
connect session naming it, is healthy again under the same ID."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from server.db.connections import credentials_aad
from server.db.tables import connections
from server.settings import Settings
from tests.harness import FAILURE_URL, SUCCESS_URL, Running, Workspace, query_of
from tests.lifecycle.support import Receiver, add_webhook, eventually, lifecycle_settings
from tests.routes.test_sandbox_flow import run_to_consent


@pytest.fixture
def settings(tmp_path: Path, _database: None) -> Settings:
    return lifecycle_settings(tmp_path)


async def approve(lk: Running, request_token: str) -> str:
    decided = await lk.client.post("/sandbox/oauth/decide", data={"request": request_token, "decision": "approve"})
    back = await lk.client.get(decided.headers["location"])
    assert back.status_code == 302 and back.headers["location"].startswith(SUCCESS_URL + "?"), back.text
    return query_of(back.headers["location"])["connection_id"]


async def break_refresh_token(lk: Running, connection_id: str) -> None:
    """Store a refresh token the sandbox provider refuses, as a provider-side revocation would."""
    row = await lk.db.fetch_one(sa.select(connections).where(connections.c.id == connection_id))
    assert row is not None
    aad = credentials_aad(row["workspace_id"], row["environment"], row["integration"], row["external_xref"])
    sealer = lk.services.sealer
    creds = {**sealer.open_json(row["credentials_enc"], aad), "refresh_token": "revoked-by-the-provider"}
    await lk.db.execute(
        connections.update()
        .where(connections.c.id == connection_id)
        .values(credentials_enc=sealer.seal_json(creds, aad))
    )


async def test_an_unhealthy_connection_is_healthy_again_after_re_authorization(
    lk: Running, workspace: Workspace
) -> None:
    receiver = Receiver().start()
    try:
        await add_webhook(
            lk, workspace, receiver.url, events=["connection.unhealthy", "connection.updated", "connection.created"]
        )
        _, request_token = await run_to_consent(lk, workspace)
        connection_id = await approve(lk, request_token)
        # Due deliveries go out side by side: let `created` arrive before the next event is made.
        await eventually(lambda: receiver.of_type("connection.created"))
        await break_refresh_token(lk, connection_id)
        checked = (await lk.client.post(f"/api/v1/connections/{connection_id}/check", headers=workspace.auth())).json()
        assert checked["data"]["status"] == "unhealthy" and checked["check"]["error"]["code"] == "invalid_grant"
        unhealthy_since = checked["data"]["status_changed_at"]
        await eventually(lambda: receiver.of_type("connection.unhealthy"))

        session = await lk.client.post(
            "/api/v1/connect-sessions",
            headers=workspace.auth(),
            json={"connection_id": connection_id, "success_url": SUCCESS_URL, "failure_url": FAILURE_URL},
        )
        assert session.status_code == 201, session.text
        picker = await lk.client.get(session.json()["data"]["url"])
        assert picker.status_code == 200, picker.text
        start_link = picker.text.split('href="/auth/sandbox/start?ctx=', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        start = await lk.client.get(f"/auth/sandbox/start?ctx={start_link}")
        consent = await lk.client.get(start.headers["location"])
        again = await approve(lk, consent.text.split('name="request" value="', 1)[1].split('"', 1)[0])

        assert again == connection_id
        got = (await lk.client.get(f"/api/v1/connections/{connection_id}", headers=workspace.auth())).json()["data"]
        assert got["status"] == "healthy" and got["status_reason"] is None
        assert got["status_changed_at"] > unhealthy_since
        assert await lk.db.fetch_val(sa.select(sa.func.count()).select_from(connections)) == 1
        rechecked = (
            await lk.client.post(f"/api/v1/connections/{connection_id}/check", headers=workspace.auth())
        ).json()
        assert rechecked["check"]["outcome"] == "refreshed" and rechecked["data"]["status"] == "healthy"
        [updated] = await eventually(lambda: receiver.of_type("connection.updated"))
        assert updated.json["data"]["connection_id"] == connection_id
        assert [r.json["type"] for r in receiver.requests] == [
            "connection.created",
            "connection.unhealthy",
            "connection.updated",
        ]
    finally:
        receiver.stop()
