"""The Connections pages: test connections in one click, the list with filters and paging, one
connection's page (never its tokens), deletion."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from server.dashboard.views import connections as connection_views
from server.db import connections as connection_store
from server.db import events as event_store
from server.db.tables import auth_events, connections
from tests.dashboard.support import Member, post, sign_in
from tests.harness import Running, Workspace


def listed(html: str) -> list[str]:
    return re.findall(r'<tr data-connection="(conn_[A-Za-z0-9]+)"', html)


async def test_an_empty_list_says_how_to_start(lk: Running, workspace: Workspace, member: Member) -> None:
    await sign_in(lk.client, member)
    page = await lk.client.get("/dashboard/sandbox/connections")
    assert "No connections yet — create a test connection." in page.text and "data-create-test" in page.text
    production = await lk.client.get("/dashboard/production/connections")
    assert "No connections yet." in production.text and "data-create-test" not in production.text


async def test_create_a_test_connection_in_one_click(lk: Running, workspace: Workspace, member: Member) -> None:
    csrf = await sign_in(lk.client, member)
    page = await lk.client.get("/dashboard/sandbox/connections")
    match = re.search(r'name="external_xref" value="(test-user-[0-9a-f]+)"', page.text)
    assert match is not None
    xref = match.group(1)
    response = await post(
        lk.client, "/dashboard/sandbox/connections", csrf, {"integration": "sandbox", "external_xref": xref}
    )
    assert response.status_code == 303
    [connection] = await connection_store.list_connections(lk.db, workspace.id, "sandbox")
    assert response.headers["location"] == f"/dashboard/sandbox/connections/{connection.id}"
    assert connection.integration == "sandbox" and connection.external_xref == xref and connection.status == "healthy"
    sandbox = lk.services.catalog.get("sandbox")
    assert sandbox is not None
    assert connection.scopes_granted == list(sandbox.supported_scopes)
    types = [r["type"] for r in await lk.db.fetch_all(sa.select(auth_events.c.type))]
    assert types == ["connection.created"]

    detail = await lk.client.get(response.headers["location"])
    assert detail.status_code == 200 and f"Created a test connection to Sandbox CRM for {xref}." in detail.text
    assert connection.id in detail.text and 'data-event="connection.created"' in detail.text
    assert "sbx_at_" not in detail.text and "sbx_rt_" not in detail.text  # never tokens
    credentials = await connection_store.read_credentials(lk.db, lk.services.sealer, connection)
    assert credentials["access_token"] not in detail.text and credentials["refresh_token"] not in detail.text


async def test_the_api_reads_a_dashboard_test_connection(lk: Running, workspace: Workspace, member: Member) -> None:
    csrf = await sign_in(lk.client, member)
    await post(
        lk.client, "/dashboard/sandbox/connections", csrf, {"integration": "stripe", "external_xref": "api-reader"}
    )
    got = await lk.client.get("/api/v1/connections", params={"external_xref": "api-reader"}, headers=workspace.auth())
    [data] = got.json()["data"]
    full = await lk.client.get(f"/api/v1/connections/{data['id']}?include=credentials", headers=workspace.auth())
    assert full.json()["data"]["credentials"]["fields"] == {"api_key": "sandbox-api_key"}


async def test_test_connections_exist_only_in_the_sandbox(lk: Running, workspace: Workspace, member: Member) -> None:
    csrf = await sign_in(lk.client, member)
    response = await post(
        lk.client, "/dashboard/production/connections", csrf, {"integration": "stripe", "external_xref": "x"}
    )
    assert response.status_code == 303
    assert await lk.db.fetch_val(sa.select(sa.func.count()).select_from(connections)) == 0


async def test_a_bad_test_connection_request_changes_nothing(lk: Running, workspace: Workspace, member: Member) -> None:
    csrf = await sign_in(lk.client, member)
    response = await post(
        lk.client, "/dashboard/sandbox/connections", csrf, {"integration": "nope", "external_xref": "x"}
    )
    assert response.status_code == 303
    page = await lk.client.get(response.headers["location"])
    assert 'data-flash="error"' in page.text and "Pick an integration." in page.text
    assert await lk.db.fetch_val(sa.select(sa.func.count()).select_from(connections)) == 0


async def test_filters_and_paging(
    lk: Running, workspace: Workspace, member: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection_views, "PAGE_SIZE", 2)
    csrf = await sign_in(lk.client, member)
    for integration, xref in (
        ("sandbox", "u-1"),
        ("sandbox", "u-2"),
        ("stripe", "u-1"),
        ("hubspot", "u-3"),
        ("shopify", "u-4"),
    ):
        await post(
            lk.client, "/dashboard/sandbox/connections", csrf, {"integration": integration, "external_xref": xref}
        )
    everything = {c.id for c in await connection_store.list_connections(lk.db, workspace.id, "sandbox")}

    first = await lk.client.get("/dashboard/sandbox/connections")
    seen = listed(first.text)
    assert len(seen) == 2
    match = re.search(r'href="(/dashboard/sandbox/connections\?after=[^"]+)"', first.text)
    assert match is not None
    next_url = match.group(1)
    second = await lk.client.get(next_url.replace("&amp;", "&"))
    assert "First page" in second.text
    seen += listed(second.text)
    match = re.search(r'href="(/dashboard/sandbox/connections\?after=[^"]+)"', second.text)
    assert match is not None
    third = await lk.client.get(match.group(1))
    seen += listed(third.text)
    assert sorted(seen) == sorted(everything) and "Next page" not in third.text

    by_integration = await lk.client.get("/dashboard/sandbox/connections?integration=sandbox")
    assert len(listed(by_integration.text)) == 2
    by_xref = await lk.client.get("/dashboard/sandbox/connections?external_xref=u-1")
    assert len(listed(by_xref.text)) == 2
    by_status = await lk.client.get("/dashboard/sandbox/connections?status=unhealthy")
    assert listed(by_status.text) == [] and "No connections match these filters." in by_status.text


async def test_a_connections_page_shows_status_errors_and_its_events(
    lk: Running, workspace: Workspace, member: Member
) -> None:
    csrf = await sign_in(lk.client, member)
    await post(
        lk.client, "/dashboard/sandbox/connections", csrf, {"integration": "hubspot", "external_xref": "sad-user"}
    )
    [connection] = await connection_store.list_connections(lk.db, workspace.id, "sandbox")
    await lk.db.execute(
        connections.update()
        .where(connections.c.id == connection.id)
        .values(status="unhealthy", status_reason="The provider refused the refresh token (invalid_grant).")
    )
    await event_store.record_event(
        lk.db,
        workspace_id=workspace.id,
        environment="sandbox",
        integration="hubspot",
        external_xref="sad-user",
        type="auth.failed",
        error_code="access_denied",
        detail="The user denied access.",
    )
    await event_store.record_event(
        lk.db,
        workspace_id=workspace.id,
        environment="sandbox",
        integration="hubspot",
        external_xref="someone-else",
        type="auth.failed",
        error_code="provider_error",
    )
    page = await lk.client.get(f"/dashboard/sandbox/connections/{connection.id}")
    assert 'data-connection-status="unhealthy"' in page.text and "invalid_grant" in page.text
    assert 'data-event="auth.failed"' in page.text and "access_denied" in page.text
    assert "provider_error" not in page.text  # another user's failure is not this connection's


async def test_delete_a_connection(lk: Running, workspace: Workspace, member: Member) -> None:
    csrf = await sign_in(lk.client, member)
    await post(
        lk.client, "/dashboard/sandbox/connections", csrf, {"integration": "hubspot", "external_xref": "leaving"}
    )
    [connection] = await connection_store.list_connections(lk.db, workspace.id, "sandbox")
    response = await post(lk.client, f"/dashboard/sandbox/connections/{connection.id}/delete", csrf)
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/sandbox/connections"
    assert await connection_store.list_connections(lk.db, workspace.id, "sandbox") == []
    types = [r["type"] for r in await lk.db.fetch_all(sa.select(auth_events.c.type).order_by(auth_events.c.id))]
    assert types == ["connection.created", "connection.deleted"]
    assert (await lk.client.get(f"/api/v1/connections/{connection.id}", headers=workspace.auth())).status_code == 404
    assert (await lk.client.get(f"/dashboard/sandbox/connections/{connection.id}")).status_code == 404
