"""Rows written soon rather than now (`auth.started`): written without anyone asking, before this
process lists them, at a clean shutdown, and kept while the database refuses them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from server.db import events, later
from server.db.clock import utcnow
from server.db.database import close_database, open_database
from server.db.tables import auth_events
from server.settings import Settings
from tests.harness import Running, running_app


@pytest.fixture
async def other(settings: Settings, lk: Running) -> AsyncIterator[Running]:
    """A second app (another process) on the same database as `lk`."""
    async with running_app(settings) as running:
        yield running


async def record(app: Running, type: str, xref: str = "user-1") -> None:
    await events.record_event(
        app.db, workspace_id="ws_test", environment="sandbox", integration="acme", external_xref=xref, type=type
    )


async def stored(app: Running) -> list[str]:
    rows = await app.db.fetch_all(sa.select(auth_events.c.type).order_by(auth_events.c.id))
    return [r["type"] for r in rows]


async def eventually_stored(app: Running, count: int, within: float = 10.0) -> list[str]:
    deadline = asyncio.get_running_loop().time() + within
    while len(types := await stored(app)) < count and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)
    return types


async def test_a_started_event_is_not_written_by_the_start_but_within_a_moment(lk: Running, other: Running) -> None:
    await record(lk, "auth.started")
    assert lk.db.later.pending == 1 and await stored(other) == []
    assert await eventually_stored(other, 1) == ["auth.started"]
    assert lk.db.later.pending == 0


async def test_webhook_events_are_written_at_once(lk: Running) -> None:
    await record(lk, "auth.failed")
    assert lk.db.later.pending == 0 and await stored(lk) == ["auth.failed"]


async def test_listing_events_writes_the_queued_ones_first_and_keeps_their_order(lk: Running) -> None:
    await record(lk, "auth.started")
    await record(lk, "connection.created")  # written at once, so its ID is the smaller
    listed = await events.list_events(lk.db, "ws_test", "sandbox")
    assert [e["type"] for e in listed] == ["connection.created", "auth.started"]  # newest first, by time


async def test_a_clean_shutdown_writes_what_is_queued(settings: Settings) -> None:
    async with running_app(settings) as first:
        for i in range(3):
            await record(first, "auth.started", xref=f"user-{i}")
        assert first.db.later.pending == 3
    async with running_app(settings) as again:
        assert await stored(again) == ["auth.started"] * 3


async def test_rows_stay_queued_while_the_database_refuses_them_and_are_written_after(
    lk: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(later, "RETRY_DELAY", 0.05)
    real_insert = lk.db.insert_many
    refusals = 0

    async def refusing(table: sa.Table, rows: list[dict[str, object]]) -> None:
        nonlocal refusals
        if refusals < 2:
            refusals += 1
            raise OSError("connection refused")  # as a database that is down
        await real_insert(table, rows)

    monkeypatch.setattr(lk.db, "insert_many", refusing)
    await record(lk, "auth.started")
    with pytest.raises(OSError):
        await lk.db.later.write()
    assert lk.db.later.pending == 1
    assert await eventually_stored(lk, 1) == ["auth.started"] and refusals == 2


async def test_beyond_the_limit_the_oldest_queued_rows_are_dropped_and_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(later, "LIMIT", 3)
    db = open_database(f"sqlite:///{tmp_path / 'later.db'}")
    queue = later.Later(db)
    with caplog.at_level(logging.WARNING, logger="latchkey.db"):
        for i in range(5):
            queue.insert(auth_events, {"type": f"t{i}", "created_at": utcnow()})
    assert queue.pending == 3 and [r.getMessage() for r in caplog.records] == [
        "dropping the oldest queued rows: 3 are waiting to be written"
    ]
    assert [values["type"] for _, values in queue._rows] == ["t2", "t3", "t4"]
    await queue.close()  # the database was never opened: the rows are logged, not raised
    await close_database(db)


async def test_a_batch_of_many_rows_is_written_in_one_go_and_rows_naming_other_columns_are_refused(
    lk: Running,
) -> None:
    rows = [
        {
            "workspace_id": "ws_test",
            "environment": "sandbox",
            "integration": "acme",
            "type": "auth.started",
            "external_xref": f"user-{i}",
            "created_at": utcnow(),
        }
        for i in range(1200)
    ]
    for row in rows:
        lk.db.later.insert(auth_events, row)
    await lk.db.later.write()  # three transactions of at most BATCH rows
    assert await stored(lk) == ["auth.started"] * 1200
    xrefs = await lk.db.fetch_all(sa.select(auth_events.c.external_xref).order_by(auth_events.c.id))
    assert [r["external_xref"] for r in xrefs] == [f"user-{i}" for i in range(1200)]
    with pytest.raises(ValueError, match="same columns"):
        await lk.db.insert_many(auth_events, [rows[0], {"type": "x", "created_at": utcnow()}])
