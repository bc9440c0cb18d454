"""Stored credentials that no longer decrypt make their connection unhealthy — with a reason and a
`connection.unhealthy` webhook, once — and the API answers 409 connection_unhealthy, not 500.

Real faults: a second app with another LATCHKEY_SECRET_KEY on the same database, and a ciphertext
copied from another connection's row (its associated data names the other row).
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from server.db.clock import utcnow
from server.db.tables import auth_events, connections, webhook_deliveries
from tests.harness import Running, Workspace, make_settings, new_workspace, running_app

OTHER_SECRET = "another-secret-key-0123456789abcdef-987654"


async def made_connection(lk: Running, ws: Workspace, external_xref: str) -> str:
    made = await lk.client.post(
        "/api/v1/connections", headers=ws.auth(), json={"integration": "sandbox", "external_xref": external_xref}
    )
    assert made.status_code in (200, 201), made.text
    connection_id: str = made.json()["data"]["id"]
    return connection_id


async def with_webhook(lk: Running, ws: Workspace) -> None:
    made = await lk.client.post(
        "/api/v1/webhooks",
        headers=ws.auth(),
        json={"url": "https://hooks.example.com/latchkey", "events": ["connection.unhealthy"]},
    )
    assert made.status_code == 201, made.text


async def unhealthy_events(lk: Running) -> list[dict[str, object]]:
    rows = await lk.db.fetch_all(sa.select(auth_events).where(auth_events.c.type == "connection.unhealthy"))
    return [dict(r._mapping) for r in rows]


async def outbox(lk: Running) -> list[dict[str, Any]]:
    return [json.loads(r["payload"]) for r in await lk.db.fetch_all(sa.select(webhook_deliveries))]


async def test_credentials_sealed_with_another_secret_key_make_the_connection_unhealthy(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, background_tasks=False)
    async with running_app(settings) as first:
        ws = await new_workspace(first.services)
        connection_id = await made_connection(first, ws, "user-1")
    # The same database, another secret key (say, a rotation without LATCHKEY_OLD_SECRET_KEYS).
    async with running_app(make_settings(tmp_path, background_tasks=False, secret_key=OTHER_SECRET)) as second:
        await with_webhook(second, ws)
        url = f"/api/v1/connections/{connection_id}"
        got = await second.client.get(f"{url}?include=credentials", headers=ws.auth())
        assert got.status_code == 409, got.text
        assert got.json()["error"]["code"] == "connection_unhealthy"
        assert "could not be decrypted" in got.json()["error"]["message"]
        plain = (await second.client.get(url, headers=ws.auth())).json()["data"]
        assert plain["status"] == "unhealthy" and "could not be decrypted" in plain["status_reason"]
        assert plain["status_changed_at"] is not None
        check = await second.client.post(f"{url}/check", headers=ws.auth())
        assert check.status_code == 409 and check.json()["error"]["code"] == "connection_unhealthy"
        again = await second.client.get(f"{url}?include=credentials", headers=ws.auth())
        assert again.status_code == 409
        [event] = await unhealthy_events(second)  # once, however many reads
        assert event["connection_id"] == connection_id and event["error_code"] == "server_error"
        [hook] = await outbox(second)
        assert hook["type"] == "connection.unhealthy"
        assert hook["data"]["connection_id"] == connection_id
        assert hook["data"]["error_code"] == "server_error" and hook["data"]["status"] == "unhealthy"


async def test_a_ciphertext_copied_from_another_row_makes_only_that_connection_unhealthy(
    lk: Running, workspace: Workspace
) -> None:
    good = await made_connection(lk, workspace, "user-1")
    swapped = await made_connection(lk, workspace, "user-2")
    stolen = await lk.db.fetch_val(sa.select(connections.c.credentials_enc).where(connections.c.id == good))
    await lk.db.execute(connections.update().where(connections.c.id == swapped).values(credentials_enc=stolen))
    got = await lk.client.get(f"/api/v1/connections/{swapped}?include=credentials", headers=workspace.auth())
    assert got.status_code == 409 and got.json()["error"]["code"] == "connection_unhealthy"
    assert "sbx_at_" not in got.text  # the other row's tokens never come out
    fine = await lk.client.get(f"/api/v1/connections/{good}?include=credentials", headers=workspace.auth())
    assert fine.status_code == 200 and fine.json()["data"]["status"] == "healthy"
    statuses = {r["id"]: r["status"] for r in await lk.db.fetch_all(sa.select(connections))}
    assert statuses == {good: "healthy", swapped: "unhealthy"}
    [event] = await unhealthy_events(lk)
    assert event["connection_id"] == swapped


async def test_re_authorizing_an_unreadable_connection_makes_it_healthy_again(
    lk: Running, workspace: Workspace
) -> None:
    first = await made_connection(lk, workspace, "user-1")
    await lk.db.execute(connections.update().where(connections.c.id == first).values(credentials_enc="v1.xx.garbage"))
    assert (
        await lk.client.get(f"/api/v1/connections/{first}?include=credentials", headers=workspace.auth())
    ).status_code == 409
    assert await made_connection(lk, workspace, "user-1") == first  # the same end-user again: same connection
    got = await lk.client.get(f"/api/v1/connections/{first}?include=credentials", headers=workspace.auth())
    assert got.status_code == 200 and got.json()["data"]["status"] == "healthy"


async def test_the_background_refresher_marks_an_unreadable_connection_unhealthy_and_leaves_it(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, refresh_poll_interval=0.05, refresh_ahead=600)
    async with running_app(settings) as lk:
        ws = await new_workspace(lk.services)
        connection_id = await made_connection(lk, ws, "user-1")  # expires in an hour: due within 600 s below
        soon = utcnow() + timedelta(seconds=60)
        await lk.db.execute(
            connections.update()
            .where(connections.c.id == connection_id)
            .values(credentials_enc="v1.xx.garbage", expires_at=soon)
        )
        for _ in range(100):
            if await lk.db.fetch_val(sa.select(connections.c.status).where(connections.c.id == connection_id)) != (
                "healthy"
            ):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # more polls: an unhealthy connection is no longer due
        row = await lk.db.fetch_one(sa.select(connections).where(connections.c.id == connection_id))
        assert row is not None and row["status"] == "unhealthy"
        assert "could not be decrypted" in row["status_reason"]
        [event] = await unhealthy_events(lk)
        assert event["connection_id"] == connection_id
