"""What one process commits, every process sharing the database serves at once: the storage layer
caches compiled statements, never data. Two apps on one database stand for two processes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from server.db import workspaces as workspace_store
from server.settings import Settings
from tests.harness import FAILURE_URL, SUCCESS_URL, Running, Workspace, new_workspace, running_app

NEW_URL = "http://host.test/elsewhere"


@pytest.fixture
async def other(settings: Settings, lk: Running) -> AsyncIterator[Running]:
    """A second app (another process) on the same database as `lk`."""
    async with running_app(settings) as running:
        yield running


async def read_credentials(app: Running, ws: Workspace, connection_id: str) -> dict[str, object]:
    answer = await app.client.get(f"/api/v1/connections/{connection_id}?include=credentials", headers=ws.auth())
    assert answer.status_code == 200, answer.text
    credentials: dict[str, object] = answer.json()["data"]["credentials"]
    return credentials


async def new_connection(app: Running, ws: Workspace, xref: str = "user-1") -> str:
    made = await app.client.post(
        "/api/v1/connections", headers=ws.auth(), json={"integration": "sandbox", "external_xref": xref}
    )
    assert made.status_code in (200, 201), made.text  # 200: the same end-user again, re-authorized
    connection_id: str = made.json()["data"]["id"]
    return connection_id


async def test_a_rotated_key_is_refused_by_the_other_process_at_once(lk: Running, other: Running) -> None:
    ws = await new_workspace(lk.services)
    assert (await other.client.get("/api/v1/connections", headers=ws.auth())).status_code == 200
    new_key = (await workspace_store.rotate_key(lk.db, ws.id, "sandbox")).key
    old = await other.client.get("/api/v1/connections", headers=ws.auth())
    assert old.status_code == 401 and old.json()["error"]["code"] == "unauthorized"
    fresh = await other.client.get("/api/v1/connections", headers={"Authorization": f"Bearer {new_key}"})
    assert fresh.status_code == 200


async def test_a_deleted_connection_is_gone_in_the_other_process_at_once(lk: Running, other: Running) -> None:
    ws = await new_workspace(lk.services)
    connection_id = await new_connection(lk, ws)
    await read_credentials(other, ws, connection_id)
    assert (await lk.client.delete(f"/api/v1/connections/{connection_id}", headers=ws.auth())).status_code == 204
    for path in (f"/api/v1/connections/{connection_id}", f"/api/v1/connections/{connection_id}?include=credentials"):
        gone = await other.client.get(path, headers=ws.auth())
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    listed = await other.client.get("/api/v1/connections", headers=ws.auth())
    assert listed.json()["data"] == []


async def test_a_reauthorized_connection_hands_out_its_new_credentials_in_the_other_process(
    lk: Running, other: Running
) -> None:
    ws = await new_workspace(lk.services)
    connection_id = await new_connection(lk, ws)
    before = await read_credentials(other, ws, connection_id)
    assert await new_connection(lk, ws) == connection_id  # the same end-user again: the same connection
    after = await read_credentials(other, ws, connection_id)
    assert after["access_token"] != before["access_token"]


async def test_a_changed_allowlist_is_enforced_by_the_other_process_at_once(lk: Running, other: Running) -> None:
    ws = await new_workspace(lk.services, activate=("sandbox", "hubspot"))
    body = {"integration": "hubspot", "external_xref": "u", "success_url": NEW_URL, "failure_url": FAILURE_URL}
    refused = await other.client.post("/api/v1/auth-urls", headers=ws.auth(), json=body)
    assert refused.status_code == 400, refused.text
    patched = await lk.client.patch(
        "/api/v1/environment", headers=ws.auth(), json={"allowed_redirect_urls": [SUCCESS_URL, FAILURE_URL, NEW_URL]}
    )
    assert patched.status_code == 200, patched.text
    allowed = await other.client.post("/api/v1/auth-urls", headers=ws.auth(), json=body)
    assert allowed.status_code == 201, allowed.text
    await lk.client.patch(
        "/api/v1/environment", headers=ws.auth(), json={"allowed_redirect_urls": [SUCCESS_URL, FAILURE_URL]}
    )
    again = await other.client.post("/api/v1/auth-urls", headers=ws.auth(), json=body)
    assert again.status_code == 400, again.text
