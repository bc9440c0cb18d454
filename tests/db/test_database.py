"""The database layer: statements compiled once per shape still carry each call's own values;
transactions are all or nothing, nest as savepoints (or, `atomic`, as part of the open one) and
belong to the task that opened them."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from server.db.clock import as_utc
from server.db.database import Database, TransactionFailed
from server.db.statements import Prepared
from server.db.tables import workspaces
from tests.harness import POSTGRES_URL, Running
from tests.support.db_faults import write_locked

BY_ID = sa.select(workspaces.c.name).where(workspaces.c.id == sa.bindparam("id"))


async def add(db: Database, id: str, name: str, created_at: datetime | None = None) -> None:
    await db.execute(workspaces.insert().values(id=id, name=name, created_at=created_at or datetime.now(UTC)))


async def names(db: Database) -> list[str]:
    rows = await db.fetch_all(sa.select(workspaces.c.name).order_by(workspaces.c.name))
    return [row["name"] for row in rows]


async def test_two_statements_of_one_shape_read_their_own_values(lk: Running) -> None:
    await add(lk.db, "ws_a", "Alpha")
    await add(lk.db, "ws_b", "Beta")
    for id, name in [("ws_a", "Alpha"), ("ws_b", "Beta"), ("ws_a", "Alpha"), ("ws_none", None)]:
        inline = await lk.db.fetch_val(sa.select(workspaces.c.name).where(workspaces.c.id == id))
        constant = await lk.db.fetch_val(BY_ID, {"id": id})
        text = await lk.db.fetch_val("SELECT name FROM workspaces WHERE id = :id", {"id": id})
        assert inline == constant == text == name


async def test_in_lists_of_different_lengths_each_match_their_own_members(lk: Running) -> None:
    for i in range(4):
        await add(lk.db, f"ws_{i}", f"n{i}")
    for wanted in (["ws_0"], ["ws_1", "ws_2"], ["ws_0", "ws_2", "ws_3"], ["ws_1"]):
        rows = await lk.db.fetch_all(sa.select(workspaces.c.id).where(workspaces.c.id.in_(wanted)))
        assert sorted(r["id"] for r in rows) == wanted


async def test_rows_read_by_name_and_position_and_datetimes_come_back_as_stored(lk: Running) -> None:
    when = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
    await add(lk.db, "ws_t", "Timed", created_at=when)
    row = await lk.db.fetch_one(sa.select(workspaces).where(workspaces.c.id == "ws_t"))
    assert row is not None and row["name"] == row[1] == "Timed"
    assert as_utc(row["created_at"]) == when
    later = await lk.db.fetch_val(
        sa.select(sa.func.count()).select_from(workspaces).where(workspaces.c.created_at > when - timedelta(seconds=1))
    )
    assert later == 1
    text_row = await lk.db.fetch_one("SELECT id AS ident, name FROM workspaces WHERE id = :id", {"id": "ws_t"})
    assert text_row is not None and dict(text_row) == {"ident": "ws_t", "name": "Timed"}


async def test_a_failed_transaction_writes_nothing(lk: Running) -> None:
    with pytest.raises(RuntimeError):
        async with lk.db.transaction():
            await add(lk.db, "ws_x", "Gone")
            raise RuntimeError("after the write")
    assert await names(lk.db) == []


async def test_a_failed_inner_transaction_rolls_back_to_its_savepoint_only(lk: Running) -> None:
    async with lk.db.transaction():
        await add(lk.db, "ws_outer", "Outer")
        with pytest.raises(RuntimeError):
            async with lk.db.transaction():
                await add(lk.db, "ws_inner", "Inner")
                raise RuntimeError("inner fails")
        async with lk.db.transaction():
            await add(lk.db, "ws_second", "Second")
    assert await names(lk.db) == ["Outer", "Second"]


def sent_statements(db: Database, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement `db` sends from now on, inside a transaction or not."""
    sent: list[str] = []
    prepare = db._backend.statements.prepare

    def spied(query: Any, values: Any = None) -> Prepared:
        prepared = prepare(query, values)
        sent.append(prepared.shape.sql)
        return prepared

    monkeypatch.setattr(db._backend.statements, "prepare", spied)
    return sent


async def test_atomic_inside_a_transaction_is_part_of_it_without_a_savepoint(
    lk: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = sent_statements(lk.db, monkeypatch)
    async with lk.db.transaction():
        await add(lk.db, "ws_outer", "Outer")
        async with lk.db.atomic():
            await add(lk.db, "ws_part", "Part")
    assert not [sql for sql in sent if "SAVEPOINT" in sql]
    assert await names(lk.db) == ["Outer", "Part"]


async def test_atomic_alone_is_all_or_nothing(lk: Running) -> None:
    with pytest.raises(RuntimeError):
        async with lk.db.atomic():
            await add(lk.db, "ws_x", "Gone")
            raise RuntimeError("after the write")
    assert await names(lk.db) == []


async def test_a_failure_inside_atomic_that_the_caller_catches_leaves_its_transaction_committing_nothing(
    lk: Running,
) -> None:
    with pytest.raises(TransactionFailed):
        async with lk.db.transaction():
            await add(lk.db, "ws_outer", "Outer")
            try:
                async with lk.db.atomic():
                    await add(lk.db, "ws_half", "Half")
                    raise RuntimeError("the second write of the part fails")
            except RuntimeError:
                pass  # a caller that carries on: the half-written part must not be committed
    assert await names(lk.db) == []


async def test_a_failure_inside_atomic_undone_by_a_savepoint_lets_the_transaction_commit_the_rest(
    lk: Running,
) -> None:
    async with lk.db.transaction():
        await add(lk.db, "ws_outer", "Outer")
        with pytest.raises(RuntimeError):
            async with lk.db.transaction(), lk.db.atomic():
                await add(lk.db, "ws_half", "Half")
                raise RuntimeError("fails inside the savepoint")
    assert await names(lk.db) == ["Outer"]


async def test_another_task_does_not_see_or_join_an_open_transaction(lk: Running) -> None:
    seen: list[list[str]] = []

    async def reader() -> None:
        seen.append(await names(lk.db))

    async with lk.db.transaction():
        await add(lk.db, "ws_pending", "Pending")
        await asyncio.create_task(reader())  # inherits the context, not the transaction
        assert await names(lk.db) == ["Pending"]
    assert seen == [[]]
    assert await names(lk.db) == ["Pending"]


async def test_concurrent_transactions_of_one_process_all_commit(lk: Running) -> None:
    async def read_then_write(i: int) -> None:
        async with lk.db.transaction():
            await lk.db.fetch_all(sa.select(workspaces.c.id))
            await asyncio.sleep(0.01)  # let another task try to write in between
            await add(lk.db, f"ws_{i}", f"n{i}")

    await asyncio.gather(*(read_then_write(i) for i in range(8)))
    assert len(await names(lk.db)) == 8


@pytest.mark.skipif(bool(POSTGRES_URL), reason="reads beside another process's write lock: SQLite's WAL rule")
async def test_on_sqlite_reads_are_served_while_another_process_holds_the_write_lock(lk: Running) -> None:
    await add(lk.db, "ws_r", "Readable")
    async with write_locked(lk.services.settings.database_url):
        assert await lk.db.fetch_val(BY_ID, {"id": "ws_r"}) == "Readable"


@pytest.mark.skipif(bool(POSTGRES_URL), reason="the stored text of a datetime is SQLite's")
async def test_on_sqlite_datetimes_are_stored_in_the_text_form_earlier_versions_wrote(lk: Running) -> None:
    await add(lk.db, "ws_d", "Dated", created_at=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC))
    path = lk.services.settings.database_url.split("///", 1)[1]
    with sqlite3.connect(path) as raw:
        (stored,) = raw.execute("SELECT created_at FROM workspaces WHERE id = 'ws_d'").fetchone()
    assert stored == "2026-01-02 03:04:05.000006"
