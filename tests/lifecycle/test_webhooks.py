"""Webhooks: endpoints through the API, signed deliveries to a real receiver on loopback, the
durable outbox across receiver outages and server restarts, and the SSRF rules."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook, WebhookVerificationError

from server.db import events
from server.db import webhooks as webhook_store
from server.db.tables import auth_events, webhook_deliveries, webhook_endpoints
from server.settings import Settings
from tests.harness import Running, Workspace, new_workspace, running_app
from tests.lifecycle.support import Receiver, add_webhook, deliveries, eventually, lifecycle_settings
from tests.routes.test_sandbox_flow import run_to_consent


@pytest.fixture
def settings(tmp_path: Path, _database: None) -> Settings:
    return lifecycle_settings(tmp_path)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


async def test_connection_created_is_delivered_signed_to_the_receiver(
    lk: Running, workspace: Workspace, receiver: Receiver
) -> None:
    endpoint = await add_webhook(lk, workspace, receiver.url)
    assert endpoint["secret"].startswith("whsec_") and endpoint["events"] == list(webhook_store.EVENT_TYPES)

    made = await lk.client.post(
        "/api/v1/connections", headers=workspace.auth(), json={"integration": "hubspot", "external_xref": "u-1"}
    )

    [hook] = await eventually(lambda: receiver.of_type("connection.created"))
    payload = Webhook(endpoint["secret"]).verify(hook.body, hook.headers)
    assert payload["data"] == {
        "integration": "hubspot",
        "environment": "sandbox",
        "external_xref": "u-1",
        "connection_id": made.json()["data"]["id"],
    }
    assert hook.headers["webhook-id"].startswith("msg_") and hook.headers["content-type"] == "application/json"
    with pytest.raises(WebhookVerificationError):
        Webhook(webhook_store.new_secret()).verify(hook.body, hook.headers)
    [log] = await eventually(lambda: _delivered(lk, workspace, endpoint["id"]))
    assert log["id"] == hook.headers["webhook-id"] and log["attempts"] == 1 and log["last_status_code"] == 200
    assert log["next_attempt_at"] is None and log["event_type"] == "connection.created"


async def _delivered(lk: Running, workspace: Workspace, endpoint_id: str) -> list[dict[str, Any]]:
    return [d for d in await deliveries(lk, workspace, endpoint_id) if d["status"] == "delivered"]


async def test_endpoints_are_listed_without_secrets_and_deleted(lk: Running, workspace: Workspace) -> None:
    endpoint = await add_webhook(lk, workspace, "https://hooks.example.com/latchkey", events=["connection.deleted"])
    listed = (await lk.client.get("/api/v1/webhooks", headers=workspace.auth())).json()["data"]
    assert listed == [{k: v for k, v in endpoint.items() if k != "secret"}]
    stored = await lk.db.fetch_val(sa.select(webhook_endpoints.c.secret_enc))
    assert endpoint["secret"] not in stored and endpoint["secret"][6:] not in stored
    other = await new_workspace(lk.services)
    assert (
        await lk.client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries", headers=other.auth())
    ).status_code == 404
    assert (await lk.client.delete(f"/api/v1/webhooks/{endpoint['id']}", headers=other.auth())).status_code == 404
    assert (await lk.client.get("/api/v1/webhooks", headers=workspace.auth("production"))).json()["data"] == []
    assert (await lk.client.delete(f"/api/v1/webhooks/{endpoint['id']}", headers=workspace.auth())).status_code == 204
    assert (await lk.client.get("/api/v1/webhooks", headers=workspace.auth())).json()["data"] == []


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",  # plain http off loopback
        "https://10.1.2.3/x",  # private
        "https://169.254.169.254/latest",  # link-local (cloud metadata)
        "https://100.64.0.1/x",  # shared address space
        "https://[fd00::1]/x",  # unique local IPv6
        "https://[::ffff:192.168.1.1]/x",  # IPv4-mapped private
        "https://0.0.0.0/x",
        "https://0xa.0x1.2.3/x",  # 10.1.2.3
        "https://3232235777/x",  # 192.168.1.1
        "https://user:pw@hooks.example.com/x",
        "ftp://hooks.example.com/x",
        "not a url",
    ],
)
async def test_unsafe_urls_are_refused_and_nothing_is_stored(lk: Running, workspace: Workspace, url: str) -> None:
    made = await lk.client.post("/api/v1/webhooks", headers=workspace.auth(), json={"url": url})
    assert made.status_code == 400 and made.json()["error"]["code"] == "invalid_request"
    assert await lk.db.fetch_val(sa.select(sa.func.count()).select_from(webhook_endpoints)) == 0


async def test_loopback_is_refused_unless_the_setting_allows_it(tmp_path: Path, _database: None) -> None:
    async with running_app(lifecycle_settings(tmp_path, webhook_allow_loopback=False)) as lk:
        ws = await new_workspace(lk.services)
        numeric = ("https://2130706433/x", "https://0x7f.0.0.1/x", "https://0177.0.0.1/x", "https://127.1/x")
        for url in ("http://127.0.0.1:9/x", "https://localhost/x", "https://[::1]/x", *numeric):
            made = await lk.client.post("/api/v1/webhooks", headers=ws.auth(), json={"url": url})
            assert made.status_code == 400, url
        unknown = await lk.client.post(
            "/api/v1/webhooks", headers=ws.auth(), json={"url": "https://h.example.com", "events": ["nope"]}
        )
        assert unknown.status_code == 400 and "nope" in unknown.json()["error"]["message"]


async def test_a_name_resolving_to_loopback_is_refused_when_the_delivery_connects(
    tmp_path: Path, _database: None, receiver: Receiver
) -> None:
    """The address check runs again at connect time, so DNS cannot smuggle a private target in."""
    async with running_app(lifecycle_settings(tmp_path, webhook_allow_loopback=False)) as lk:
        ws = await new_workspace(lk.services)
        created = await webhook_store.create_endpoint(
            lk.db,
            lk.services.sealer,
            ws.id,
            "sandbox",
            url=f"https://localhost:{receiver.port}/x",
            events=webhook_store.EVENT_TYPES,
        )
        await lk.client.post(
            "/api/v1/connections", headers=ws.auth(), json={"integration": "hubspot", "external_xref": "u-1"}
        )
        [log] = await eventually(lambda: _attempted(lk, ws, created.endpoint.id))
        assert log["status"] == "pending" and log["last_status_code"] is None and "loopback" in log["last_error"]
        assert receiver.requests == []


async def _attempted(lk: Running, ws: Workspace, endpoint_id: str) -> list[dict[str, Any]]:
    return [d for d in await deliveries(lk, ws, endpoint_id) if d["attempts"] >= 1 and d["last_error"]]


async def test_only_subscribed_events_are_queued(lk: Running, workspace: Workspace, receiver: Receiver) -> None:
    endpoint = await add_webhook(lk, workspace, receiver.url, events=["connection.deleted"])
    made = await lk.client.post(
        "/api/v1/connections", headers=workspace.auth(), json={"integration": "hubspot", "external_xref": "u-1"}
    )
    assert await deliveries(lk, workspace, endpoint["id"]) == []
    await lk.client.delete(f"/api/v1/connections/{made.json()['data']['id']}", headers=workspace.auth())
    [hook] = await eventually(lambda: receiver.of_type("connection.deleted"))
    assert hook.json["data"]["connection_id"] == made.json()["data"]["id"]
    assert [r.json["type"] for r in receiver.requests] == ["connection.deleted"]


async def test_auth_failed_carries_the_error_code_and_no_provider_text(
    lk: Running, workspace: Workspace, receiver: Receiver
) -> None:
    await add_webhook(lk, workspace, receiver.url, events=["auth.failed"])
    _, request_token = await run_to_consent(lk, workspace)
    decided = await lk.client.post("/sandbox/oauth/decide", data={"request": request_token, "decision": "deny"})
    await lk.client.get(decided.headers["location"])
    [hook] = await eventually(lambda: receiver.of_type("auth.failed"))
    assert hook.json["data"] == {
        "integration": "sandbox",
        "environment": "sandbox",
        "external_xref": "user-42",
        "error_code": "access_denied",
    }


async def test_an_event_rolled_back_queues_nothing(lk: Running, workspace: Workspace, receiver: Receiver) -> None:
    await add_webhook(lk, workspace, receiver.url)
    with pytest.raises(RuntimeError):
        async with lk.db.transaction():
            await events.record_event(
                lk.db,
                workspace_id=workspace.id,
                environment="sandbox",
                integration="hubspot",
                type="connection.deleted",
                connection_id="conn_x",
                external_xref="u-1",
            )
            raise RuntimeError("the change failed")
    assert await lk.db.fetch_val(sa.select(sa.func.count()).select_from(webhook_deliveries)) == 0
    assert await lk.db.fetch_val(sa.select(sa.func.count()).select_from(auth_events)) == 0


async def test_a_receiver_down_then_up_gets_the_event_once_after_a_retry(lk: Running, workspace: Workspace) -> None:
    receiver = Receiver()  # not listening yet: connections are refused
    endpoint = await add_webhook(lk, workspace, receiver.url)
    await lk.client.post(
        "/api/v1/connections", headers=workspace.auth(), json={"integration": "hubspot", "external_xref": "u-1"}
    )
    [first] = await eventually(lambda: _attempted(lk, workspace, endpoint["id"]))
    assert (
        first["status"] == "pending"
        and first["next_attempt_at"] is not None
        and "could not be reached" in first["last_error"]
    )
    receiver.start()
    try:
        [log] = await eventually(lambda: _delivered(lk, workspace, endpoint["id"]))
        await asyncio.sleep(0.5)  # more than two retry periods: nothing more arrives
        assert len(receiver.requests) == 1 and log["attempts"] == 2 and log["id"] == first["id"]
        Webhook(endpoint["secret"]).verify(receiver.requests[0].body, receiver.requests[0].headers)
    finally:
        receiver.stop()


async def test_the_webhook_id_is_the_same_on_every_attempt(lk: Running, workspace: Workspace) -> None:
    receiver = Receiver(statuses=[500, 503, 200]).start()
    try:
        endpoint = await add_webhook(lk, workspace, receiver.url)
        await lk.client.post(
            "/api/v1/connections", headers=workspace.auth(), json={"integration": "hubspot", "external_xref": "u-1"}
        )
        [log] = await eventually(lambda: _delivered(lk, workspace, endpoint["id"]))
        assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1 and len(receiver.requests) == 3
        assert log["attempts"] == 3 and log["last_status_code"] == 200
    finally:
        receiver.stop()


async def test_redirects_are_not_followed_and_count_as_failures(lk: Running, workspace: Workspace) -> None:
    target = Receiver().start()
    receiver = Receiver(statuses=[307, 200], headers_to_send={"location": target.url}).start()
    try:
        endpoint = await add_webhook(lk, workspace, receiver.url)
        await lk.client.post(
            "/api/v1/connections", headers=workspace.auth(), json={"integration": "hubspot", "external_xref": "u-1"}
        )
        [log] = await eventually(lambda: _delivered(lk, workspace, endpoint["id"]))
        assert log["attempts"] == 2 and target.requests == []
    finally:
        receiver.stop()
        target.stop()


async def test_delivery_gives_up_when_the_schedule_is_spent(tmp_path: Path, _database: None) -> None:
    receiver = Receiver(statuses=[500]).start()
    try:
        async with running_app(lifecycle_settings(tmp_path, webhook_retry_schedule=(0.05, 0.05))) as lk:
            ws = await new_workspace(lk.services)
            endpoint = await add_webhook(lk, ws, receiver.url)
            await lk.client.post(
                "/api/v1/connections", headers=ws.auth(), json={"integration": "hubspot", "external_xref": "u-1"}
            )
            [log] = await eventually(lambda: _with_status(lk, ws, endpoint["id"], "failed"))
            await asyncio.sleep(0.3)
            assert log["attempts"] == 3 and log["last_status_code"] == 500 and log["next_attempt_at"] is None
            assert len(receiver.requests) == 3
    finally:
        receiver.stop()


async def _with_status(lk: Running, ws: Workspace, endpoint_id: str, status: str) -> list[dict[str, Any]]:
    return [d for d in await deliveries(lk, ws, endpoint_id) if d["status"] == status]


async def test_a_pending_delivery_survives_a_restart_and_is_delivered_once(tmp_path: Path, settings: Settings) -> None:
    receiver = Receiver()
    settings = replace(settings, webhook_retry_schedule=(0.5, 0.5))
    async with running_app(settings) as lk:
        ws = await new_workspace(lk.services)
        endpoint = await add_webhook(lk, ws, receiver.url)
        await lk.client.post(
            "/api/v1/connections", headers=ws.auth(), json={"integration": "hubspot", "external_xref": "u-1"}
        )
        [first] = await eventually(lambda: _attempted(lk, ws, endpoint["id"]))
        assert first["status"] == "pending"
    # The app has stopped (lifespan exit) with the row pending; the receiver comes up; a new app starts.
    receiver.start()
    try:
        async with running_app(settings) as again:
            [log] = await eventually(lambda: _delivered(again, ws, endpoint["id"]))
            await asyncio.sleep(0.3)
        assert len(receiver.requests) == 1 and log["id"] == first["id"] and log["attempts"] == 2
        Webhook(endpoint["secret"]).verify(receiver.requests[0].body, receiver.requests[0].headers)
    finally:
        receiver.stop()


async def test_two_dispatchers_sharing_the_database_deliver_each_row_once(tmp_path: Path, settings: Settings) -> None:
    receiver = Receiver(delay=0.02).start()
    try:
        async with running_app(settings) as one, running_app(settings) as two:
            ws = await new_workspace(one.services)
            await add_webhook(one, ws, receiver.url)
            for n in range(15):
                app = (one, two)[n % 2]
                await app.client.post(
                    "/api/v1/connections", headers=ws.auth(), json={"integration": "hubspot", "external_xref": f"u-{n}"}
                )
            await eventually(lambda: len(receiver.requests) >= 15, timeout=5)
            await asyncio.sleep(0.3)
        ids = [r.headers["webhook-id"] for r in receiver.requests]
        assert len(ids) == 15 and len(set(ids)) == 15
    finally:
        receiver.stop()


async def test_deliveries_page_newest_first(lk: Running, workspace: Workspace, receiver: Receiver) -> None:
    endpoint = await add_webhook(lk, workspace, receiver.url)
    for n in range(3):
        await lk.client.post(
            "/api/v1/connections", headers=workspace.auth(), json={"integration": "hubspot", "external_xref": f"u-{n}"}
        )
    await eventually(lambda: len(receiver.requests) == 3)
    first = await lk.client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries?limit=2", headers=workspace.auth())
    page = first.json()
    assert (
        len(page["data"]) == 2
        and page["data"][0]["id"] > page["data"][1]["id"]
        and page["next_after"] == page["data"][1]["id"]
    )
    rest = await lk.client.get(
        f"/api/v1/webhooks/{endpoint['id']}/deliveries?after={page['next_after']}", headers=workspace.auth()
    )
    assert len(rest.json()["data"]) == 1 and rest.json()["next_after"] is None
    bad = await lk.client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries?status=nope", headers=workspace.auth())
    assert bad.status_code == 400


async def test_the_openapi_document_describes_the_new_paths(lk: Running) -> None:
    paths = (await lk.client.get("/api/v1/openapi.json")).json()["paths"]
    assert {
        "/api/v1/webhooks",
        "/api/v1/webhooks/{id}",
        "/api/v1/webhooks/{id}/deliveries",
        "/api/v1/connections/{id}/check",
    } <= set(paths)
    assert set(paths["/api/v1/webhooks"]) == {"get", "post"} and "post" in paths["/api/v1/connections/{id}/check"]
