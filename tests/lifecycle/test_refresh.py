"""Token refresh against a real authorization server (Authlib on loopback): expiry, rotation,
revocation, outages, and one refresh however many readers ask at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook

from server.db.clock import as_utc, utcnow
from server.db.tables import connections
from server.settings import Settings
from tests.harness import BASE_URL, Provisioned, Running, Workspace, new_workspace, running_app
from tests.lifecycle.support import (
    CLIENT_ID,
    CLIENT_SECRET,
    Receiver,
    activate_acme,
    add_webhook,
    connect,
    connection_row,
    credentials,
    eventually,
    lifecycle_settings,
    refresh_requests,
    set_expiry,
    write_integration,
)
from tests.support.oauth_server import OAuthServer


@pytest.fixture
def acme_settings(tmp_path: Path, oauth_server: OAuthServer) -> Settings:
    oauth_server.register_client(CLIENT_ID, CLIENT_SECRET, [f"{BASE_URL}/auth/acme/callback"])
    folder = tmp_path / "catalog"
    write_integration(folder, oauth_server)
    return lifecycle_settings(tmp_path, catalog_dir=folder)


@pytest.fixture
async def acme(acme_settings: Settings, oauth_server: OAuthServer) -> AsyncIterator[Provisioned]:
    async with running_app(acme_settings) as lk:
        ws = await new_workspace(lk.services, activate=())
        await activate_acme(lk, ws)
        yield Provisioned.of(lk, ws, oauth_server)


def stored_time(value: datetime | None) -> datetime:
    """A time read back from the database (UTC), which must be set."""
    stamp = as_utc(value)
    assert stamp is not None
    return stamp


async def test_an_expired_access_token_is_refreshed_before_it_is_returned(acme: Provisioned) -> None:
    connection_id = await connect(acme, acme.ws)
    before = (await credentials(acme, acme.ws, connection_id)).json()["data"]["credentials"]
    await set_expiry(acme, connection_id, -60)

    got = await credentials(acme, acme.ws, connection_id)

    assert got.status_code == 200, got.text
    data = got.json()["data"]
    assert data["credentials"]["access_token"] != before["access_token"]
    assert data["credentials"]["access_token"] == acme.oauth.issued_access_tokens()[-1]
    assert data["credentials"]["refresh_token"] == before["refresh_token"]  # no rotation: the old one stays
    assert as_utc_iso(data["expires_at"]) > utcnow() + timedelta(minutes=50)
    [request] = refresh_requests(acme.oauth)
    assert (
        request["auth_method"] == "client_secret_basic"
        and request["client_id"] == CLIENT_ID
        and request["status"] == 200
    )
    again = await credentials(acme, acme.ws, connection_id)
    assert again.json()["data"]["credentials"]["access_token"] == data["credentials"]["access_token"]
    assert len(refresh_requests(acme.oauth)) == 1  # fresh now: no second refresh


async def test_a_token_expiring_within_five_minutes_is_refreshed_and_a_later_one_is_not(acme: Provisioned) -> None:
    connection_id = await connect(acme, acme.ws)
    await set_expiry(acme, connection_id, 400)
    assert (await credentials(acme, acme.ws, connection_id)).status_code == 200
    assert refresh_requests(acme.oauth) == []
    await set_expiry(acme, connection_id, 200)
    assert (await credentials(acme, acme.ws, connection_id)).status_code == 200
    assert len(refresh_requests(acme.oauth)) == 1


async def test_a_rotated_refresh_token_is_stored_and_the_old_one_is_dead(acme: Provisioned) -> None:
    acme.oauth.rotate_refresh_tokens = True
    connection_id = await connect(acme, acme.ws)
    old = (await credentials(acme, acme.ws, connection_id)).json()["data"]["credentials"]["refresh_token"]
    await set_expiry(acme, connection_id, -1)

    new = (await credentials(acme, acme.ws, connection_id)).json()["data"]["credentials"]["refresh_token"]

    assert new != old and new in acme.oauth.issued_refresh_tokens()
    replay = await asyncio.to_thread(
        httpx.post,
        acme.oauth.token_url,
        data={"grant_type": "refresh_token", "refresh_token": old},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    # The stored (new) one keeps working: a second refresh succeeds with it.
    await set_expiry(acme, connection_id, -1)
    third = await credentials(acme, acme.ws, connection_id)
    assert third.status_code == 200 and third.json()["data"]["status"] == "healthy"
    assert refresh_requests(acme.oauth)[-1]["form"]["refresh_token"] == new


async def test_a_revoked_refresh_token_makes_the_connection_unhealthy_with_a_webhook(acme: Provisioned) -> None:
    receiver = Receiver().start()
    try:
        endpoint = await add_webhook(acme, acme.ws, receiver.url, env="production", events=["connection.unhealthy"])
        connection_id = await connect(acme, acme.ws)
        acme.oauth.revoke_refresh_tokens()
        await set_expiry(acme, connection_id, -1)

        got = await credentials(acme, acme.ws, connection_id)

        assert got.status_code == 409 and got.json()["error"]["code"] == "connection_unhealthy"
        plain = (
            await acme.client.get(f"/api/v1/connections/{connection_id}", headers=acme.ws.auth("production"))
        ).json()["data"]
        assert plain["status"] == "unhealthy" and "invalid_grant" in plain["status_reason"]
        assert as_utc_iso(plain["status_changed_at"]) > utcnow() - timedelta(seconds=10)
        [hook] = await eventually(lambda: receiver.of_type("connection.unhealthy"))
        payload = Webhook(endpoint["secret"]).verify(hook.body, hook.headers)
        assert payload["data"]["connection_id"] == connection_id and payload["data"]["error_code"] == "invalid_grant"
        assert payload["data"]["status"] == "unhealthy"
        assert "refresh_token" not in hook.body.decode() and "access_token" not in hook.body.decode()
        # Unhealthy: later reads do not keep sending the refused token to the provider.
        assert (await credentials(acme, acme.ws, connection_id)).status_code == 409
        assert len(refresh_requests(acme.oauth)) == 1
        await asyncio.sleep(0.3)
        assert len(receiver.of_type("connection.unhealthy")) == 1
    finally:
        receiver.stop()


async def test_twenty_concurrent_reads_make_exactly_one_refresh_request(acme: Provisioned) -> None:
    acme.oauth.rotate_refresh_tokens = True
    connection_id = await connect(acme, acme.ws)
    await set_expiry(acme, connection_id, -1)

    answers = await asyncio.gather(*(credentials(acme, acme.ws, connection_id) for _ in range(20)))

    assert [a.status_code for a in answers] == [200] * 20
    tokens = {a.json()["data"]["credentials"]["access_token"] for a in answers}
    assert tokens == {acme.oauth.issued_access_tokens()[-1]}
    assert len(refresh_requests(acme.oauth)) == 1
    row = await connection_row(acme, connection_id)
    assert row["refresh_lock_until"] is None  # the lease was given back


async def test_two_processes_sharing_the_database_refresh_once(acme: Provisioned, acme_settings: Settings) -> None:
    acme.oauth.rotate_refresh_tokens = True
    connection_id = await connect(acme, acme.ws)
    await set_expiry(acme, connection_id, -1)
    async with running_app(acme_settings) as other:
        assert other.db is not acme.db
        answers = await asyncio.gather(
            *(credentials(app, acme.ws, connection_id) for _ in range(10) for app in (acme, other))
        )
    assert [a.status_code for a in answers] == [200] * 20
    assert len({a.json()["data"]["credentials"]["access_token"] for a in answers}) == 1
    assert len(refresh_requests(acme.oauth)) == 1


async def test_a_provider_outage_keeps_the_status_and_backs_off(acme: Provisioned) -> None:
    connection_id = await connect(acme, acme.ws)
    await set_expiry(acme, connection_id, -1)
    acme.oauth.token_mode = "status_500"

    got = await credentials(acme, acme.ws, connection_id)

    assert got.status_code == 502 and got.json()["error"]["code"] == "provider_error"
    row = await connection_row(acme, connection_id)
    assert row["status"] == "healthy" and row["refresh_failures"] == 1
    assert stored_time(row["next_refresh_at"]) > utcnow()
    # The provider is back: the next read refreshes at once (a reader does not wait out the backoff).
    acme.oauth.token_mode = "normal"
    again = await credentials(acme, acme.ws, connection_id)
    assert again.status_code == 200 and again.json()["data"]["status"] == "healthy"
    row = await connection_row(acme, connection_id)
    assert row["refresh_failures"] == 0 and row["next_refresh_at"] is None and row["refresh_error"] is None


async def test_a_token_still_valid_is_handed_out_while_the_provider_is_down(acme: Provisioned) -> None:
    connection_id = await connect(acme, acme.ws)
    await set_expiry(acme, connection_id, 120)  # inside the 5-minute margin, not yet expired
    acme.oauth.token_mode = "status_500"
    got = await credentials(acme, acme.ws, connection_id)
    assert (
        got.status_code == 200
        and got.json()["data"]["credentials"]["access_token"] == acme.oauth.issued_access_tokens()[0]
    )
    assert len(refresh_requests(acme.oauth)) == 1


async def test_failing_for_longer_than_the_grace_period_makes_it_unhealthy(acme: Provisioned) -> None:
    connection_id = await connect(acme, acme.ws)
    await acme.db.execute(
        connections.update()
        .where(connections.c.id == connection_id)
        .values(refresh_failures=9, refresh_failing_since=utcnow() - timedelta(hours=25))
    )
    acme.oauth.token_mode = "status_500"

    checked = await acme.client.post(f"/api/v1/connections/{connection_id}/check", headers=acme.ws.auth("production"))

    assert checked.status_code == 200, checked.text
    body = checked.json()
    assert body["data"]["status"] == "unhealthy" and "24 h" in body["data"]["status_reason"]
    assert body["check"]["outcome"] == "failed" and body["check"]["error"]["code"] == "provider_error"


async def test_a_health_check_refreshes_and_reports(acme: Provisioned) -> None:
    connection_id = await connect(acme, acme.ws)
    checked = await acme.client.post(f"/api/v1/connections/{connection_id}/check", headers=acme.ws.auth("production"))
    assert checked.status_code == 200
    assert checked.json()["check"] == {"outcome": "refreshed", "error": None}
    assert checked.json()["data"]["status"] == "healthy" and "credentials" not in checked.json()["data"]
    assert len(refresh_requests(acme.oauth)) == 1
    acme.oauth.revoke_refresh_tokens()
    failed = (
        await acme.client.post(f"/api/v1/connections/{connection_id}/check", headers=acme.ws.auth("production"))
    ).json()
    assert failed["data"]["status"] == "unhealthy" and failed["check"]["error"]["code"] == "invalid_grant"
    missing = await acme.client.post("/api/v1/connections/conn_nope/check", headers=acme.ws.auth("production"))
    assert missing.status_code == 404


async def test_a_check_on_an_unhealthy_connection_that_refreshes_makes_it_healthy_again(acme: Provisioned) -> None:
    receiver = Receiver().start()
    try:
        await add_webhook(acme, acme.ws, receiver.url, env="production", events=["connection.updated"])
        connection_id = await connect(acme, acme.ws)
        await acme.db.execute(
            connections.update()
            .where(connections.c.id == connection_id)
            .values(status="unhealthy", status_reason="Refreshing failed for more than 24 h.")
        )
        checked = (
            await acme.client.post(f"/api/v1/connections/{connection_id}/check", headers=acme.ws.auth("production"))
        ).json()
        assert checked["data"]["status"] == "healthy" and checked["data"]["status_reason"] is None
        await eventually(
            lambda: any(
                r.json["data"].get("connection_id") == connection_id for r in receiver.of_type("connection.updated")
            )
        )
    finally:
        receiver.stop()


async def test_the_background_refresher_refreshes_ahead_of_expiry(
    tmp_path: Path, acme_settings: Settings, oauth_server: OAuthServer
) -> None:
    settings = replace(acme_settings, refresh_poll_interval=0.05, refresh_ahead=600, refresh_rate=6)
    async with running_app(settings) as lk:
        ws = await new_workspace(lk.services, activate=())
        await activate_acme(lk, ws)
        first, second = await connect(lk, ws, "user-1"), await connect(lk, ws, "user-2")
        await set_expiry(lk, second, 300)
        await set_expiry(lk, first, 200)  # the soonest is refreshed first

        await eventually(lambda: len(refresh_requests(oauth_server)) >= 1)
        await asyncio.sleep(0.5)

        # At most 6 a minute: the second waits its turn (10 s), and stopping does not wait for it.
        assert len(refresh_requests(oauth_server)) == 1
        row = await connection_row(lk, first)
        assert stored_time(row["expires_at"]) > utcnow() + timedelta(minutes=50) and row["refreshed_at"] is not None
        assert stored_time((await connection_row(lk, second))["expires_at"]) < utcnow() + timedelta(minutes=6)


async def test_sandbox_connections_refresh_against_the_sandbox_provider(lk: Running, workspace: Workspace) -> None:
    made = await lk.client.post(
        "/api/v1/connections", headers=workspace.auth(), json={"integration": "hubspot", "external_xref": "u-1"}
    )
    assert made.status_code == 201, made.text
    connection_id = made.json()["data"]["id"]
    old = (await credentials(lk, workspace, connection_id, env="sandbox")).json()["data"]["credentials"]
    await set_expiry(lk, connection_id, -5)
    new = (await credentials(lk, workspace, connection_id, env="sandbox")).json()["data"]
    assert (
        new["credentials"]["access_token"].startswith("sbx_at_")
        and new["credentials"]["access_token"] != old["access_token"]
    )
    assert as_utc_iso(new["expires_at"]) > utcnow() + timedelta(minutes=50)


async def test_api_key_connections_are_reported_as_not_refreshable(lk: Running, workspace: Workspace) -> None:
    made = await lk.client.post(
        "/api/v1/connections", headers=workspace.auth(), json={"integration": "stripe", "external_xref": "u-1"}
    )
    connection_id = made.json()["data"]["id"]
    checked = (await lk.client.post(f"/api/v1/connections/{connection_id}/check", headers=workspace.auth())).json()
    assert checked["check"] == {"outcome": "not_refreshable", "error": None} and checked["data"]["status"] == "healthy"


def as_utc_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
