"""Connections through the REST API: sandbox test connections, list, get, delete."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from server.db.statements import Prepared, Row
from server.db.tables import auth_events, connections
from tests.harness import Running, Workspace


async def count_connections(lk: Running) -> int:
    n: int = await lk.db.fetch_val(sa.select(sa.func.count()).select_from(connections))
    return n


async def event_types(lk: Running) -> list[str]:
    return [r["type"] for r in await lk.db.fetch_all(sa.select(auth_events.c.type).order_by(auth_events.c.id))]


async def create(
    lk: Running, workspace: Workspace, integration: str = "hubspot", xref: str = "user-1", **extra: Any
) -> httpx.Response:
    return await lk.client.post(
        "/api/v1/connections",
        headers=workspace.auth(),
        json={"integration": integration, "external_xref": xref, **extra},
    )


async def test_sandbox_test_connection_is_created_at_once(lk: Running, workspace: Workspace) -> None:
    made = await create(lk, workspace, scopes=["crm_contact_read"])
    assert made.status_code == 201
    data = made.json()["data"]
    assert re.fullmatch(r"conn_[A-Za-z0-9]{16}", data["id"])
    assert data["integration"] == "hubspot" and data["external_xref"] == "user-1" and data["environment"] == "sandbox"
    assert (
        data["status"] == "healthy"
        and data["scopes_granted"] == ["crm_contact_read"]
        and data["metadata"] == {"sandbox": True}
    )
    assert data["expires_at"] and data["created_at"].endswith("Z")
    assert "credentials" not in data and "sbx_at_" not in made.text
    assert await count_connections(lk) == 1 and await event_types(lk) == ["connection.created"]


async def test_creating_again_for_the_same_user_updates_the_same_connection(lk: Running, workspace: Workspace) -> None:
    first = await create(lk, workspace)
    first_creds = (
        await lk.client.get(
            f"/api/v1/connections/{first.json()['data']['id']}?include=credentials", headers=workspace.auth()
        )
    ).json()["data"]["credentials"]
    again = await create(lk, workspace, scopes=["crm_deal_read"])
    assert again.status_code == 200
    assert again.json()["data"]["id"] == first.json()["data"]["id"]
    assert again.json()["data"]["scopes_granted"] == ["crm_deal_read"]
    creds = (
        await lk.client.get(
            f"/api/v1/connections/{first.json()['data']['id']}?include=credentials", headers=workspace.auth()
        )
    ).json()["data"]["credentials"]
    assert creds["access_token"] != first_creds["access_token"]  # fresh credentials, same row
    assert await count_connections(lk) == 1
    assert await event_types(lk) == ["connection.created", "connection.updated"]


async def test_another_user_or_integration_gets_its_own_connection(lk: Running, workspace: Workspace) -> None:
    ids = {
        (await create(lk, workspace, xref="user-1")).json()["data"]["id"],
        (await create(lk, workspace, xref="user-2")).json()["data"]["id"],
        (await create(lk, workspace, integration="salesforce", xref="user-1")).json()["data"]["id"],
    }
    assert len(ids) == 3 and await count_connections(lk) == 3


async def test_form_integrations_get_field_credentials(lk: Running, workspace: Workspace) -> None:
    made = await create(lk, workspace, integration="stripe")
    got = await lk.client.get(
        f"/api/v1/connections/{made.json()['data']['id']}?include=credentials", headers=workspace.auth()
    )
    assert got.json()["data"]["credentials"] == {"type": "api_key", "fields": {"api_key": "sandbox-api_key"}}
    assert got.json()["data"]["expires_at"] is None


async def test_a_scope_the_integration_cannot_grant_is_invalid_scope(lk: Running, workspace: Workspace) -> None:
    answer = await create(lk, workspace, integration="stripe", scopes=["repo_read"])
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_scope"
    assert await count_connections(lk) == 0


async def test_production_cannot_create_test_connections(lk: Running, workspace: Workspace) -> None:
    answer = await lk.client.post(
        "/api/v1/connections",
        headers=workspace.auth("production"),
        json={"integration": "hubspot", "external_xref": "u"},
    )
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "sandbox_only"
    assert await count_connections(lk) == 0 and await event_types(lk) == []


async def test_list_filters_by_integration_user_and_status(lk: Running, workspace: Workspace) -> None:
    a = (await create(lk, workspace, xref="user-1")).json()["data"]["id"]
    b = (await create(lk, workspace, xref="user-2")).json()["data"]["id"]
    c = (await create(lk, workspace, integration="stripe", xref="user-1")).json()["data"]["id"]

    async def listed(**params: str) -> list[str]:
        answer = await lk.client.get("/api/v1/connections", headers=workspace.auth(), params=params)
        assert answer.status_code == 200
        return sorted(item["id"] for item in answer.json()["data"])

    assert await listed() == sorted([a, b, c])
    assert await listed(integration="hubspot") == sorted([a, b])
    assert await listed(external_xref="user-1") == sorted([a, c])
    assert await listed(integration="stripe", external_xref="user-2") == []
    assert await listed(status="healthy") == sorted([a, b, c])
    assert await listed(status="revoked") == []
    assert await listed(integration="nothing") == []


async def test_list_pages_with_next_after(lk: Running, workspace: Workspace) -> None:
    made = sorted([(await create(lk, workspace, xref=f"user-{i}")).json()["data"]["id"] for i in range(5)])
    seen, after, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"after": after} if after else {})}
        page = (await lk.client.get("/api/v1/connections", headers=workspace.auth(), params=params)).json()
        pages += 1
        seen += [item["id"] for item in page["data"]]
        after = page["next_after"]
        if after is None:
            break
        assert after == page["data"][-1]["id"]
    assert seen == made and pages == 3


async def test_a_full_last_page_has_no_next_after(lk: Running, workspace: Workspace) -> None:
    for i in range(2):
        await create(lk, workspace, xref=f"user-{i}")
    page = (await lk.client.get("/api/v1/connections", headers=workspace.auth(), params={"limit": 2})).json()
    assert len(page["data"]) == 2 and page["next_after"] is None


async def test_list_never_includes_credentials(lk: Running, workspace: Workspace) -> None:
    await create(lk, workspace)
    answer = await lk.client.get("/api/v1/connections", headers=workspace.auth(), params={"include": "credentials"})
    assert "credentials" not in answer.json()["data"][0] and "sbx_at_" not in answer.text


async def test_get_without_and_with_credentials(lk: Running, workspace: Workspace) -> None:
    connection_id = (await create(lk, workspace)).json()["data"]["id"]
    plain = await lk.client.get(f"/api/v1/connections/{connection_id}", headers=workspace.auth())
    assert plain.status_code == 200 and "credentials" not in plain.json()["data"] and "sbx_" not in plain.text
    full = await lk.client.get(
        f"/api/v1/connections/{connection_id}", headers=workspace.auth(), params={"include": "credentials"}
    )
    creds = full.json()["data"]["credentials"]
    assert (
        creds["type"] == "oauth2"
        and creds["access_token"].startswith("sbx_at_")
        and creds["refresh_token"].startswith("sbx_rt_")
    )
    assert full.headers["cache-control"] == "no-store"
    assert {k: v for k, v in full.json()["data"].items() if k != "credentials"} == plain.json()["data"]


async def test_a_connection_read_is_one_statement_key_and_credentials_included(
    lk: Running, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection_id = (await create(lk, workspace)).json()["data"]["id"]
    backend = lk.db._backend
    sent: list[str] = []
    run = backend.run

    async def counted(prepared: Prepared) -> list[Row]:
        sent.append(prepared.shape.sql)
        return await run(prepared)

    monkeypatch.setattr(backend, "run", counted)
    for params in ({}, {"include": "credentials"}):
        sent.clear()
        got = await lk.client.get(f"/api/v1/connections/{connection_id}", headers=workspace.auth(), params=params)
        assert got.status_code == 200, got.text
        assert len(sent) == 1 and "api_key_hash" in sent[0] and "JOIN connections" in sent[0], sent
    sent.clear()
    missing = await lk.client.get("/api/v1/connections/conn_doesnotexist0000", headers=workspace.auth())
    assert missing.status_code == 404 and len(sent) == 1


async def test_include_anything_else_is_400(lk: Running, workspace: Workspace) -> None:
    connection_id = (await create(lk, workspace)).json()["data"]["id"]
    for include in ("other", "credentials,secrets", "metadata"):
        answer = await lk.client.get(
            f"/api/v1/connections/{connection_id}", headers=workspace.auth(), params={"include": include}
        )
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_request"
        assert "sbx_" not in answer.text


async def test_delete_then_gone(lk: Running, workspace: Workspace) -> None:
    connection_id = (await create(lk, workspace)).json()["data"]["id"]
    other = (await create(lk, workspace, xref="user-2")).json()["data"]["id"]
    deleted = await lk.client.delete(f"/api/v1/connections/{connection_id}", headers=workspace.auth())
    assert deleted.status_code == 204 and deleted.content == b""
    assert (await lk.client.get(f"/api/v1/connections/{connection_id}", headers=workspace.auth())).status_code == 404
    again = await lk.client.delete(f"/api/v1/connections/{connection_id}", headers=workspace.auth())
    assert again.status_code == 404 and again.json()["error"]["code"] == "not_found"
    assert await count_connections(lk) == 1
    assert (await lk.client.get(f"/api/v1/connections/{other}", headers=workspace.auth())).status_code == 200
    assert (await event_types(lk))[-1] == "connection.deleted"


async def test_a_deleted_users_new_connection_gets_a_new_id(lk: Running, workspace: Workspace) -> None:
    first = (await create(lk, workspace)).json()["data"]["id"]
    await lk.client.delete(f"/api/v1/connections/{first}", headers=workspace.auth())
    second = await create(lk, workspace)
    assert second.status_code == 201 and second.json()["data"]["id"] != first
