"""Bearer secret keys: each opens one workspace environment and nothing else."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from server.db import connections as connection_store
from server.db.tables import connections
from server.db.workspaces import rotate_key
from tests.harness import Running, Workspace, new_workspace


async def count_connections(lk: Running) -> int:
    n: int = await lk.db.fetch_val(sa.select(sa.func.count()).select_from(connections))
    return n


async def make_connection(lk: Running, workspace: Workspace, xref: str = "user-1") -> str:
    made = await lk.client.post(
        "/api/v1/connections", headers=workspace.auth(), json={"integration": "hubspot", "external_xref": xref}
    )
    assert made.status_code == 201, made.text
    connection_id: str = made.json()["data"]["id"]
    return connection_id


def assert_unauthorized(answer: httpx.Response) -> None:
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/json")
    error = answer.json()["error"]
    assert error["code"] == "unauthorized" and error["message"]
    assert answer.headers["www-authenticate"].startswith('Bearer realm="latchkey"')  # RFC 6750 §3


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic bGtfc2J4Onh4eA=="},
        {"Authorization": "Token lk_sbx_whatever"},
        {"Authorization": "Bearer lk_sbx_not-a-real-key"},
        {"Authorization": "Bearer lk_live_" + "A" * 43},
    ],
)
async def test_missing_or_wrong_credentials_get_401_json(
    lk: Running, workspace: Workspace, headers: dict[str, str]
) -> None:
    assert_unauthorized(await lk.client.get("/api/v1/connections", headers=headers))


async def test_every_api_endpoint_needs_a_key(lk: Running, workspace: Workspace) -> None:
    for method, path in [
        ("GET", "/api/v1/environment"),
        ("PATCH", "/api/v1/environment"),
        ("GET", "/api/v1/scopes"),
        ("GET", "/api/v1/integrations"),
        ("PUT", "/api/v1/integrations/hubspot"),
        ("DELETE", "/api/v1/integrations/stripe"),
        ("POST", "/api/v1/connect-sessions"),
        ("POST", "/api/v1/auth-urls"),
        ("GET", "/api/v1/connections"),
        ("POST", "/api/v1/connections"),
        ("GET", "/api/v1/connections/conn_x"),
        ("DELETE", "/api/v1/connections/conn_x"),
    ]:
        answer = await lk.client.request(method, path, json={} if method in ("POST", "PUT", "PATCH") else None)
        assert answer.status_code == 401, (method, path)
        assert_unauthorized(answer)
    listed = await lk.client.get("/api/v1/integrations", headers=workspace.auth())
    assert {i["slug"]: i["active"] for i in listed.json()["data"]}["stripe"] is True  # the DELETE did nothing


async def test_the_scheme_is_case_insensitive(lk: Running, workspace: Workspace) -> None:
    answer = await lk.client.get("/api/v1/environment", headers={"Authorization": f"bearer {workspace.sandbox_key}"})
    assert answer.status_code == 200 and answer.json()["data"]["environment"] == "sandbox"


async def test_a_key_in_the_query_string_is_not_accepted(lk: Running, workspace: Workspace) -> None:
    answer = await lk.client.get("/api/v1/environment", params={"api_key": workspace.sandbox_key})
    assert_unauthorized(answer)


async def test_the_wrong_key_writes_nothing(lk: Running, workspace: Workspace) -> None:
    answer = await lk.client.post(
        "/api/v1/connections",
        headers={"Authorization": "Bearer " + workspace.sandbox_key + "x"},
        json={"integration": "hubspot", "external_xref": "u"},
    )
    assert_unauthorized(answer)
    assert await count_connections(lk) == 0


async def test_a_rotated_key_stops_working(lk: Running, workspace: Workspace) -> None:
    assert (await lk.client.get("/api/v1/environment", headers=workspace.auth())).status_code == 200
    new_key = (await rotate_key(lk.db, workspace.id, "sandbox")).key
    assert new_key != workspace.sandbox_key and new_key.startswith("lk_sbx_")
    assert_unauthorized(await lk.client.get("/api/v1/environment", headers=workspace.auth()))
    fresh = await lk.client.get("/api/v1/environment", headers={"Authorization": f"Bearer {new_key}"})
    assert fresh.status_code == 200 and fresh.json()["data"]["api_key_prefix"] == new_key[:12]
    # The other environment's key is untouched.
    assert (await lk.client.get("/api/v1/environment", headers=workspace.auth("production"))).status_code == 200


async def test_each_key_opens_its_own_workspace_environment(lk: Running, workspace: Workspace) -> None:
    for env in ("sandbox", "production"):
        data = (await lk.client.get("/api/v1/environment", headers=workspace.auth(env))).json()["data"]
        assert data["workspace_id"] == workspace.id and data["environment"] == env


async def test_another_workspaces_key_gets_404_for_this_workspaces_connection(
    lk: Running, workspace: Workspace
) -> None:
    connection_id = await make_connection(lk, workspace)
    other = await new_workspace(lk.services)
    for include in ("", "?include=credentials"):
        got = await lk.client.get(f"/api/v1/connections/{connection_id}{include}", headers=other.auth())
        assert got.status_code == 404 and got.json()["error"]["code"] == "not_found"
        assert "credentials" not in got.text
    deleted = await lk.client.delete(f"/api/v1/connections/{connection_id}", headers=other.auth())
    assert deleted.status_code == 404 and deleted.json()["error"]["code"] == "not_found"
    listed = await lk.client.get("/api/v1/connections", headers=other.auth())
    assert listed.json()["data"] == []
    still = await lk.client.get(f"/api/v1/connections/{connection_id}", headers=workspace.auth())
    assert still.status_code == 200 and await count_connections(lk) == 1


async def test_the_404_for_another_workspace_matches_the_404_for_no_such_connection(
    lk: Running, workspace: Workspace
) -> None:
    connection_id = await make_connection(lk, workspace)
    other = await new_workspace(lk.services)
    foreign = await lk.client.get(f"/api/v1/connections/{connection_id}", headers=other.auth())
    missing = await lk.client.get("/api/v1/connections/conn_doesnotexist0000", headers=other.auth())
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["error"]["code"] == missing.json()["error"]["code"]


async def test_sandbox_key_cannot_see_production_connections(lk: Running, workspace: Workspace) -> None:
    saved = await connection_store.save_connection(
        lk.db,
        lk.services.sealer,
        connection_store.NewConnection(
            workspace_id=workspace.id,
            environment="production",
            integration="hubspot",
            external_xref="user-9",
            credentials={"type": "oauth2", "access_token": "live-token"},
        ),
    )
    connection_id = saved.connection.id
    assert (
        await lk.client.get(f"/api/v1/connections/{connection_id}", headers=workspace.auth("production"))
    ).status_code == 200
    assert (await lk.client.get(f"/api/v1/connections/{connection_id}", headers=workspace.auth())).status_code == 404
    assert (await lk.client.get("/api/v1/connections", headers=workspace.auth())).json()["data"] == []
    assert (await lk.client.delete(f"/api/v1/connections/{connection_id}", headers=workspace.auth())).status_code == 404
    assert await count_connections(lk) == 1


async def test_production_key_cannot_see_sandbox_connections(lk: Running, workspace: Workspace) -> None:
    connection_id = await make_connection(lk, workspace)
    assert (
        await lk.client.get(f"/api/v1/connections/{connection_id}", headers=workspace.auth("production"))
    ).status_code == 404
    assert (await lk.client.get("/api/v1/connections", headers=workspace.auth("production"))).json()["data"] == []


async def test_the_openapi_document_needs_no_key(lk: Running) -> None:
    assert (await lk.client.get("/api/v1/openapi.json")).status_code == 200


async def test_a_401_challenges_for_a_bearer_key_and_says_invalid_token_only_when_one_was_sent(lk: Running) -> None:
    missing = await lk.client.get("/api/v1/connections")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == 'Bearer realm="latchkey"'
    wrong = await lk.client.get("/api/v1/connections", headers={"Authorization": "Bearer lk_sbx_not-a-real-key"})
    assert wrong.headers["www-authenticate"] == 'Bearer realm="latchkey", error="invalid_token"'
