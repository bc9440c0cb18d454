"""A database that is unavailable for a moment answers 503 service_unavailable with Retry-After —
page and API — and the same app serves again once the database is back; a bug stays a 500.

Real faults, no mocks: another connection holding a lock past the app's lock timeout (SQLite and
Postgres), and on Postgres the test database refusing connections with its backends terminated.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from server.db.database import database_unavailable
from server.db.tables import connections
from tests.harness import POSTGRES_URL, Running, Workspace, make_settings, new_workspace, running_app
from tests.routes.test_sandbox_flow import run_to_consent, start_link
from tests.support.db_faults import PostgresOutage, write_locked

LOCK_TIMEOUT = 0.3


@pytest.fixture
async def quick(tmp_path: Path) -> AsyncIterator[Running]:
    """An app that gives up waiting for a database lock after LOCK_TIMEOUT seconds."""
    async with running_app(make_settings(tmp_path, database_lock_timeout=LOCK_TIMEOUT)) as running:
        yield running


async def count_connections(lk: Running) -> int:
    n: int = await lk.db.fetch_val(sa.select(sa.func.count()).select_from(connections))
    return n


def assert_unavailable_json(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "service_unavailable"
    assert response.headers["retry-after"] == "5"


async def test_a_write_behind_a_lock_held_too_long_is_a_503_to_retry_and_then_succeeds(quick: Running) -> None:
    ws = await new_workspace(quick.services)
    body = {"integration": "sandbox", "external_xref": "user-1"}
    ctx = await start_link(quick, ws)
    _, request_token = await run_to_consent(quick, ws)
    decided = await quick.client.post("/sandbox/oauth/decide", data={"request": request_token, "decision": "approve"})
    callback = decided.headers["location"]
    async with write_locked(quick.services.settings.database_url, ("connections", "flows", "auth_events")):
        api = await quick.client.post("/api/v1/connections", headers=ws.auth(), json=body)
        page = await quick.client.get(callback)  # consuming the flow is a write
        started = await quick.client.get(f"/auth/sandbox/start?ctx={ctx}")  # a start writes nothing
    assert_unavailable_json(api)
    assert page.status_code == 503 and 'data-error-code="service_unavailable"' in page.text
    assert page.headers["retry-after"] == "5" and "Traceback" not in page.text
    assert started.status_code == 302, started.text
    assert await count_connections(quick) == 0
    # The lock is gone: the same app, no restart, serves again, and the refused callback lost
    # nothing: its flow was not consumed, so the end-user's retry completes it.
    again = await quick.client.post("/api/v1/connections", headers=ws.auth(), json=body)
    assert again.status_code == 201, again.text
    retried = await quick.client.get(callback)
    assert retried.status_code == 302 and "connection_id=" in retried.headers["location"], retried.text


@pytest.mark.skipif(not POSTGRES_URL, reason="a Postgres outage needs the Postgres run")
async def test_postgres_refusing_connections_is_a_503_on_the_picker_and_the_api_until_it_is_back(
    lk: Running, workspace: Workspace
) -> None:
    outage = PostgresOutage(lk.services.settings.database_url)
    outage.begin()
    try:
        api = await lk.client.get("/api/v1/connections", headers=workspace.auth())
        page = await lk.client.get(
            "/picker", params={"workspace": workspace.id, "env": "sandbox", "external_xref": "u", "mode": "redirect"}
        )
    finally:
        outage.end()
    assert_unavailable_json(api)
    assert page.status_code == 503 and 'data-error-code="service_unavailable"' in page.text
    assert page.headers["retry-after"] == "5"
    for _ in range(50):  # the pool reconnects by itself
        back = await lk.client.get("/api/v1/connections", headers=workspace.auth())
        if back.status_code == 200:
            break
        await asyncio.sleep(0.1)
    assert back.status_code == 200, back.text
    picker = await lk.client.get(
        "/picker", params={"workspace": workspace.id, "env": "sandbox", "external_xref": "u", "mode": "redirect"}
    )
    assert picker.status_code == 200


def test_unavailability_is_told_apart_from_bugs() -> None:
    with sqlite3.connect(":memory:") as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        conn.execute("INSERT INTO t VALUES (1)")
        try:
            conn.execute("INSERT INTO t VALUES (1)")
        except sqlite3.IntegrityError as exc:
            assert not database_unavailable(exc)  # a constraint violation is a bug: 500
        try:
            conn.execute("SELECT nope FROM t")
        except sqlite3.OperationalError as exc:
            assert not database_unavailable(exc)  # bad SQL is a bug: 500
    try:
        sqlite3.connect("file:/nonexistent-dir/x.db?mode=rw", uri=True)
    except sqlite3.OperationalError as exc:
        assert database_unavailable(exc)  # unable to open database file
    assert database_unavailable(ConnectionRefusedError())
    assert not database_unavailable(ValueError())
