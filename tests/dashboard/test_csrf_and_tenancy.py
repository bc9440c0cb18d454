"""Every dashboard form needs the session's CSRF token; every ID is looked up in the member's own
workspace and environment. A refused request changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from server.db import activations as activation_store
from server.db.tables import activations, connections, environments, webhook_endpoints
from tests.dashboard.support import Member, add_member, post, sign_in
from tests.harness import Running, Workspace, new_workspace

FORMS = [
    ("/dashboard/sandbox/integrations/hubspot/activate", {}),
    ("/dashboard/sandbox/integrations/hubspot", {"scopes": "crm_contact_read"}),
    ("/dashboard/sandbox/integrations/sandbox/deactivate", {}),
    ("/dashboard/sandbox/connections", {"integration": "sandbox", "external_xref": "csrf-user"}),
    ("/dashboard/sandbox/embed", {"allowed_origins": "https://evil.example", "mode": "popup"}),
    ("/dashboard/sandbox/api-keys/rotate", {}),
    ("/dashboard/sandbox/api-keys/rotate", {"grace": "86400"}),
    ("/dashboard/sandbox/api-keys/expire-previous", {}),
    ("/dashboard/sandbox/webhooks", {"url": "https://hooks.example.com/x", "events": "auth.failed"}),
    ("/dashboard/sign-out", {}),
]


async def snapshot(lk: Running) -> dict[str, list[tuple[tuple[str, Any], ...]]]:
    """Everything a dashboard form could change."""

    async def rows(table: sa.Table) -> list[tuple[tuple[str, Any], ...]]:
        return sorted(
            tuple(sorted(dict(r._mapping).items(), key=lambda kv: kv[0]))
            for r in await lk.db.fetch_all(sa.select(table))
        )

    return {t.name: await rows(t) for t in (activations, connections, environments, webhook_endpoints)}


@pytest.mark.parametrize("path,data", FORMS, ids=[p for p, _ in FORMS])
async def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    lk: Running, workspace: Workspace, member: Member, path: str, data: dict[str, str]
) -> None:
    csrf = await sign_in(lk.client, member)
    before = await snapshot(lk)
    response = await post(lk.client, path, None, data)
    assert response.status_code == 403 and 'data-error-code="csrf_failed"' in response.text
    assert "Reload the page and try again." in response.text  # a member's error: the service's own words
    wrong = await post(lk.client, path, csrf[:-2] + "xx", data)
    assert wrong.status_code == 403
    assert await snapshot(lk) == before
    assert (await lk.client.get("/dashboard/sandbox/integrations")).status_code == 200  # still signed in


async def test_a_post_from_another_origin_is_refused_even_with_the_token(
    lk: Running, workspace: Workspace, member: Member
) -> None:
    csrf = await sign_in(lk.client, member)
    before = await snapshot(lk)
    response = await post(
        lk.client, "/dashboard/sandbox/api-keys/rotate", csrf, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403 and await snapshot(lk) == before
    same = await post(lk.client, "/dashboard/sandbox/api-keys/rotate", csrf, headers={"Origin": "http://latchkey.test"})
    assert same.status_code == 200


async def test_a_token_from_another_session_is_refused(lk: Running, workspace: Workspace, member: Member) -> None:
    other_member = await add_member(lk, workspace.id, email="other@example.com")
    other_csrf = await sign_in(lk.client, other_member)
    lk.client.cookies.clear()
    await sign_in(lk.client, member)
    before = await snapshot(lk)
    assert (await post(lk.client, "/dashboard/sandbox/api-keys/rotate", other_csrf)).status_code == 403
    assert await snapshot(lk) == before


async def test_a_post_without_a_session_goes_to_sign_in_and_changes_nothing(lk: Running, workspace: Workspace) -> None:
    before = await snapshot(lk)
    response = await post(lk.client, "/dashboard/sandbox/api-keys/rotate", "anything")
    assert response.status_code == 303 and response.headers["location"].startswith("/dashboard/sign-in")
    assert await snapshot(lk) == before


async def _foreign_connection(lk: Running) -> tuple[str, str]:
    other = await new_workspace(lk.services)
    made = await lk.client.post(
        "/api/v1/connections", headers=other.auth(), json={"integration": "hubspot", "external_xref": "theirs"}
    )
    return other.id, made.json()["data"]["id"]


async def test_another_workspaces_connection_is_not_found(lk: Running, workspace: Workspace, member: Member) -> None:
    _, foreign = await _foreign_connection(lk)
    csrf = await sign_in(lk.client, member)
    page = await lk.client.get(f"/dashboard/sandbox/connections/{foreign}")
    assert page.status_code == 404 and 'data-error-code="not_found"' in page.text and "theirs" not in page.text
    deleted = await post(lk.client, f"/dashboard/sandbox/connections/{foreign}/delete", csrf)
    assert deleted.status_code == 404
    assert (
        await lk.db.fetch_val(sa.select(sa.func.count()).select_from(connections).where(connections.c.id == foreign))
        == 1
    )
    listing = await lk.client.get("/dashboard/sandbox/connections")
    assert foreign not in listing.text


async def test_a_connection_of_the_other_environment_is_not_found(
    lk: Running, workspace: Workspace, member: Member
) -> None:
    made = await lk.client.post(
        "/api/v1/connections", headers=workspace.auth(), json={"integration": "hubspot", "external_xref": "mine"}
    )
    conn_id = made.json()["data"]["id"]
    await sign_in(lk.client, member)
    assert (await lk.client.get(f"/dashboard/sandbox/connections/{conn_id}")).status_code == 200
    assert (await lk.client.get(f"/dashboard/production/connections/{conn_id}")).status_code == 404


async def test_another_workspaces_webhook_endpoint_is_not_found(
    lk: Running, workspace: Workspace, member: Member
) -> None:
    other = await new_workspace(lk.services)
    made = await lk.client.post(
        "/api/v1/webhooks", headers=other.auth(), json={"url": "https://hooks.example.com/theirs"}
    )
    endpoint_id = made.json()["data"]["id"]
    csrf = await sign_in(lk.client, member)
    assert (await lk.client.get(f"/dashboard/sandbox/webhooks/{endpoint_id}")).status_code == 404
    assert (await post(lk.client, f"/dashboard/sandbox/webhooks/{endpoint_id}/delete", csrf)).status_code == 404
    assert await lk.db.fetch_val(sa.select(sa.func.count()).select_from(webhook_endpoints)) == 1


async def test_each_member_sees_only_their_own_workspace(lk: Running, workspace: Workspace, member: Member) -> None:
    other = await new_workspace(lk.services)
    await activation_store.activate(
        lk.db, lk.services.sealer, other.id, "sandbox", "zoom", client_id=None, client_secret=None, scopes=[]
    )
    await sign_in(lk.client, member)
    page = await lk.client.get("/dashboard/sandbox/integrations?status=active")
    assert 'data-integration="stripe"' in page.text and 'data-integration="zoom"' not in page.text
    keys = await lk.client.get("/dashboard/sandbox/api-keys")
    assert workspace.id in keys.text and other.id not in keys.text
