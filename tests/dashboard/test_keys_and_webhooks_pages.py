"""API keys (rotation: the old key stops, the new one is shown once) and webhook endpoints."""

from __future__ import annotations

import re

import sqlalchemy as sa

from server.db import webhooks as webhook_store
from server.db.tables import environments, webhook_endpoints
from tests.dashboard.support import Member, post, sign_in
from tests.harness import Running, Workspace

NEW_KEY = re.compile(r'<code class="dk-code-inline dk-secret" id="new-key">(lk_sbx_[A-Za-z0-9_-]{43})</code>')


async def test_the_keys_page_shows_the_prefix_only(lk: Running, workspace: Workspace, member: Member) -> None:
    await sign_in(lk.client, member)
    page = await lk.client.get("/dashboard/sandbox/api-keys")
    assert workspace.sandbox_key[:12] + "…" in page.text and workspace.sandbox_key not in page.text
    assert workspace.production_key not in (await lk.client.get("/dashboard/production/api-keys")).text


async def test_rotating_a_key_refuses_the_old_one_and_shows_the_new_one_once(
    lk: Running, workspace: Workspace, member: Member
) -> None:
    csrf = await sign_in(lk.client, member)
    assert (await lk.client.get("/api/v1/environment", headers=workspace.auth())).status_code == 200
    response = await post(lk.client, "/dashboard/sandbox/api-keys/rotate", csrf)
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    match = NEW_KEY.search(response.text)
    assert match is not None
    new_key = match.group(1)
    assert new_key != workspace.sandbox_key and new_key[:12] + "…" in response.text

    old = await lk.client.get("/api/v1/environment", headers=workspace.auth())
    assert old.status_code == 401 and old.json()["error"]["code"] == "unauthorized"
    fresh = await lk.client.get("/api/v1/environment", headers={"Authorization": f"Bearer {new_key}"})
    assert fresh.status_code == 200 and fresh.json()["data"]["environment"] == "sandbox"
    # Production's key is untouched; the new key is nowhere to be seen again.
    assert (await lk.client.get("/api/v1/environment", headers=workspace.auth("production"))).status_code == 200
    assert new_key not in (await lk.client.get("/dashboard/sandbox/api-keys")).text
    stored = await lk.db.fetch_all(sa.select(environments.c.api_key_hash))
    assert all(new_key not in r["api_key_hash"] for r in stored)


async def test_webhooks_empty_state_and_endpoint_lifecycle(lk: Running, workspace: Workspace, member: Member) -> None:
    csrf = await sign_in(lk.client, member)
    empty = await lk.client.get("/dashboard/sandbox/webhooks")
    assert "No endpoints yet." in empty.text

    created = await post(
        lk.client,
        "/dashboard/sandbox/webhooks",
        csrf,
        {
            "url": "https://hooks.example.com/latchkey",
            "description": "CRM sync",
            "events": ["connection.created", "auth.failed"],
        },
    )
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    match = re.search(r'id="new-secret">(whsec_[A-Za-z0-9+/=]+)<', created.text)
    assert match is not None
    secret = match.group(1)
    [endpoint] = await webhook_store.list_endpoints(lk.db, workspace.id, "sandbox")
    assert endpoint.url == "https://hooks.example.com/latchkey" and endpoint.events == (
        "connection.created",
        "auth.failed",
    )
    row = await lk.db.fetch_one(sa.select(webhook_endpoints.c.secret_enc))
    assert row is not None
    assert secret not in row["secret_enc"]
    listing = await lk.client.get("/dashboard/sandbox/webhooks")
    assert endpoint.url in listing.text and secret not in listing.text

    # A test connection queues a delivery, visible on the endpoint's page.
    await post(lk.client, "/dashboard/sandbox/connections", csrf, {"integration": "sandbox", "external_xref": "hooked"})
    detail = await lk.client.get(f"/dashboard/sandbox/webhooks/{endpoint.id}")
    assert detail.status_code == 200 and "connection.created" in detail.text and secret not in detail.text
    assert re.search(r"dk-status-(pending|healthy|unhealthy)", detail.text)

    removed = await post(lk.client, f"/dashboard/sandbox/webhooks/{endpoint.id}/delete", csrf)
    assert removed.status_code == 303
    assert await webhook_store.list_endpoints(lk.db, workspace.id, "sandbox") == []


async def test_a_webhook_to_a_private_address_is_refused(lk: Running, workspace: Workspace, member: Member) -> None:
    csrf = await sign_in(lk.client, member)
    for url in ("http://10.0.0.5/hook", "https://192.168.1.1/hook", "ftp://hooks.example.com/", ""):
        response = await post(lk.client, "/dashboard/sandbox/webhooks", csrf, {"url": url, "events": ["auth.failed"]})
        assert response.status_code == 400 and 'id="url-error"' in response.text
    no_events = await post(lk.client, "/dashboard/sandbox/webhooks", csrf, {"url": "https://hooks.example.com/x"})
    assert no_events.status_code == 400 and 'id="events-error"' in no_events.text
    assert await lk.db.fetch_val(sa.select(sa.func.count()).select_from(webhook_endpoints)) == 0
