"""Tokens nobody holds are revoked at the provider (RFC 7009): after a successful token exchange
whose connection cannot be stored, and when a connection is deleted.

Against the real loopback Authlib server (its RevocationEndpoint) and a real database fault:
another connection holds the lock the callback's write needs, past the app's lock timeout.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from server.db.tables import auth_events, connections
from server.db.tables import webhook_deliveries as deliveries
from server.services import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from tests.harness import (
    BASE_URL,
    FAILURE_URL,
    SUCCESS_URL,
    Provisioned,
    Running,
    Workspace,
    make_settings,
    new_workspace,
    query_of,
)
from tests.harness import running_app as running
from tests.routes.test_oauth_flow import CLIENT_ID, CLIENT_SECRET, provider_redirect, start, write_integration
from tests.support.db_faults import WriteLock
from tests.support.oauth_server import OAuthServer

LOCK_TIMEOUT = 0.3


@pytest.fixture
async def prod(tmp_path: Path, oauth_server: OAuthServer) -> AsyncIterator[Provisioned]:
    """Production, an integration whose catalog entry lists the test server's revocation endpoint."""
    oauth_server.register_client(CLIENT_ID, CLIENT_SECRET, [f"{BASE_URL}/auth/acme/callback"])
    folder = tmp_path / "catalog"
    write_integration(folder, oauth_server, revocation_url=oauth_server.revocation_url)
    settings = make_settings(tmp_path, catalog_dir=folder, http_timeout=1.0, database_lock_timeout=LOCK_TIMEOUT)
    async with running(settings) as lk:
        ws = await new_workspace(lk.services, activate=())
        put = await lk.client.put(
            "/api/v1/integrations/acme",
            headers=ws.auth("production"),
            json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "scopes": ["crm_contact_read"]},
        )
        assert put.status_code == 200, put.text
        yield Provisioned.of(lk, ws, oauth_server)


async def count(lk: Provisioned, table: sa.Table) -> int:
    n: int = await lk.db.fetch_val(sa.select(sa.func.count()).select_from(table))
    return n


async def test_a_database_failure_after_the_token_exchange_tells_the_host_and_revokes_the_fresh_tokens(
    prod: Provisioned,
) -> None:
    started = await start(prod)
    callback = provider_redirect(started.headers["location"])
    # The database fails between the token exchange and the write: another connection takes the
    # lock while the provider is answering the token request.
    arrived, go = threading.Event(), threading.Event()

    def hold_on() -> None:
        arrived.set()
        go.wait(10)

    prod.oauth.before_token_response = hold_on
    lock = WriteLock(prod.services.settings.database_url, ("connections",))
    answer = asyncio.ensure_future(prod.client.get(callback))
    try:
        assert await asyncio.to_thread(arrived.wait, 10)
        await lock.acquire()
        go.set()
        back = await answer
    finally:
        go.set()
        await lock.release()
    assert back.status_code == 302, back.text
    assert back.headers["location"].startswith(FAILURE_URL + "?")
    assert query_of(back.headers["location"])["error"] == "server_error"
    assert await count(prod, connections) == 0
    [access] = prod.oauth.issued_access_tokens()
    [refresh] = prod.oauth.issued_refresh_tokens()
    sent = [(r["token"], r["token_type_hint"], r["status"]) for r in prod.oauth.revocation_requests]
    assert sent == [(refresh, "refresh_token", 200), (access, "access_token", 200)]
    assert {r["auth_method"] for r in prod.oauth.revocation_requests} == {"client_secret_basic"}
    assert {access, refresh} <= prod.oauth.revoked_tokens()


async def test_a_flow_that_is_stored_revokes_nothing(prod: Provisioned) -> None:
    started = await start(prod)
    back = await prod.client.get(provider_redirect(started.headers["location"]))
    assert back.headers["location"].startswith(SUCCESS_URL + "?")
    assert prod.oauth.revocation_requests == [] and await count(prod, connections) == 1


async def connected(prod: Provisioned) -> str:
    started = await start(prod)
    back = await prod.client.get(provider_redirect(started.headers["location"]))
    assert back.headers["location"].startswith(SUCCESS_URL + "?"), back.headers["location"]
    return query_of(back.headers["location"])["connection_id"]


async def deleted_event(prod: Provisioned) -> dict[str, object]:
    row = await prod.db.fetch_one(sa.select(auth_events).where(auth_events.c.type == "connection.deleted"))
    assert row is not None
    return dict(row._mapping)


async def test_deleting_a_connection_revokes_its_tokens_at_the_provider_and_records_it(prod: Provisioned) -> None:
    connection_id = await connected(prod)
    webhook = await prod.client.post(
        "/api/v1/webhooks",
        headers=prod.ws.auth("production"),
        json={"url": "https://hooks.example.com/latchkey", "events": ["connection.deleted"]},
    )
    assert webhook.status_code == 201, webhook.text
    gone = await prod.client.delete(f"/api/v1/connections/{connection_id}", headers=prod.ws.auth("production"))
    assert gone.status_code == 204
    [access] = prod.oauth.issued_access_tokens()
    [refresh] = prod.oauth.issued_refresh_tokens()
    assert {access, refresh} <= prod.oauth.revoked_tokens()
    assert [r["token_type_hint"] for r in prod.oauth.revocation_requests] == ["refresh_token", "access_token"]
    event = await deleted_event(prod)
    assert event["detail"] == "Revocation at the provider: revoked."
    [delivery] = await prod.db.fetch_all(sa.select(deliveries))
    assert '"revocation":"revoked"' in delivery["payload"].replace(" ", "")
    assert access not in delivery["payload"] and refresh not in delivery["payload"]
    assert await count(prod, connections) == 0


async def test_deleting_a_connection_while_the_provider_is_down_still_deletes_it_and_says_so(
    prod: Provisioned,
) -> None:
    connection_id = await connected(prod)
    prod.oauth.stop()
    gone = await prod.client.delete(f"/api/v1/connections/{connection_id}", headers=prod.ws.auth("production"))
    assert gone.status_code == 204
    assert await count(prod, connections) == 0
    assert (await deleted_event(prod))["detail"] == "Revocation at the provider: failed."


async def test_deleting_a_connection_of_an_integration_without_a_revocation_endpoint_says_not_supported(
    tmp_path: Path, oauth_server: OAuthServer
) -> None:
    oauth_server.register_client(CLIENT_ID, CLIENT_SECRET, [f"{BASE_URL}/auth/acme/callback"])
    folder = tmp_path / "catalog"
    write_integration(folder, oauth_server)
    async with running(make_settings(tmp_path, catalog_dir=folder)) as lk:
        ws = await new_workspace(lk.services, activate=())
        await lk.client.put(
            "/api/v1/integrations/acme",
            headers=ws.auth("production"),
            json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "scopes": ["crm_contact_read"]},
        )
        prod = Provisioned.of(lk, ws, oauth_server)
        connection_id = await connected(prod)
        gone = await lk.client.delete(f"/api/v1/connections/{connection_id}", headers=ws.auth("production"))
        assert gone.status_code == 204 and oauth_server.revocation_requests == []
        assert (await deleted_event(prod))["detail"] == "Revocation at the provider: not_supported."


async def test_deleting_a_sandbox_connection_revokes_at_the_sandbox_provider(lk: Running, workspace: Workspace) -> None:
    made = await lk.client.post(
        "/api/v1/connections", headers=workspace.auth(), json={"integration": "sandbox", "external_xref": "u-1"}
    )
    gone = await lk.client.delete(f"/api/v1/connections/{made.json()['data']['id']}", headers=workspace.auth())
    assert gone.status_code == 204
    row = await lk.db.fetch_one(sa.select(auth_events).where(auth_events.c.type == "connection.deleted"))
    assert row is not None and row["detail"] == "Revocation at the provider: revoked."


async def test_the_sandbox_revocation_endpoint_authenticates_the_client(lk: Running) -> None:
    anonymous = await lk.client.post("/sandbox/oauth/revoke", data={"token": "sbx_at_x"})
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"
    revoked = await lk.client.post(
        "/sandbox/oauth/revoke",
        data={"token": "sbx_at_x", "token_type_hint": "access_token"},
        auth=(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET),
    )
    assert revoked.status_code == 200


async def test_deleting_a_connection_whose_tokens_do_not_decrypt_deletes_it_without_revoking(
    prod: Provisioned,
) -> None:
    connection_id = await connected(prod)
    await prod.db.execute(
        connections.update().where(connections.c.id == connection_id).values(credentials_enc="v1.xx.garbage")
    )
    gone = await prod.client.delete(f"/api/v1/connections/{connection_id}", headers=prod.ws.auth("production"))
    assert gone.status_code == 204 and prod.oauth.revocation_requests == []
    assert await count(prod, connections) == 0
    assert (await deleted_event(prod))["detail"] == "Revocation at the provider: not_attempted."
