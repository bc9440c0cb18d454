"""Overlapping key rotation: the replaced key keeps working for its grace period, then gets exactly
the 401 any unknown key gets. Time moves by moving the store's clock, never by sleeping."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from server.audit_actions import Actor
from server.db import audit as audit_store
from server.db import connections as connection_store
from server.db import migrations
from server.db import workspaces as workspace_store
from server.db.clock import utcnow
from server.db.database import close_database, open_database
from server.db.tables import audit_events, environments
from server.errors import Conflict, InvalidRequest
from tests import harness
from tests.harness import Running, Workspace

CLI = Actor.cli()


class Clock:
    """The store's `utcnow`, moved by hand."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(workspace_store, "utcnow", clock)
    return clock


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def status_with(lk: Running, key: str) -> int:
    return (await lk.client.get("/api/v1/environment", headers=bearer(key))).status_code


def answer_shape(answer: httpx.Response) -> tuple[int, Any, str | None, str | None]:
    return answer.status_code, answer.json(), answer.headers.get("www-authenticate"), answer.headers["content-type"]


async def test_the_old_key_works_during_its_grace_period_and_stops_when_it_ends(
    lk: Running, workspace: Workspace, clock: Clock
) -> None:
    rotated = await workspace_store.rotate_key(lk.db, workspace.id, "sandbox", grace=timedelta(hours=24))
    assert rotated.previous_key_expires_at == clock.now + timedelta(hours=24) and rotated.cut_off_prefix is None
    assert await status_with(lk, workspace.sandbox_key) == 200
    assert await status_with(lk, rotated.key) == 200
    served = (await lk.client.get("/api/v1/environment", headers=workspace.auth())).json()["data"]
    assert served["environment"] == "sandbox" and served["api_key_prefix"] == rotated.key[:12]

    clock.advance(timedelta(hours=23, minutes=59))
    assert await status_with(lk, workspace.sandbox_key) == 200
    clock.advance(timedelta(minutes=1))  # the expiry itself is already past the grace
    assert await status_with(lk, workspace.sandbox_key) == 401
    assert await status_with(lk, rotated.key) == 200
    assert await status_with(lk, workspace.production_key) == 200  # the other environment is untouched


async def test_an_expired_previous_key_gets_exactly_the_answer_of_a_key_never_issued(
    lk: Running, workspace: Workspace, clock: Clock
) -> None:
    await workspace_store.rotate_key(lk.db, workspace.id, "sandbox", grace=timedelta(minutes=30))
    clock.advance(timedelta(minutes=31))
    expired = await lk.client.get("/api/v1/environment", headers=workspace.auth())
    never = await lk.client.get("/api/v1/environment", headers=bearer("lk_sbx_" + "A" * 43))
    assert expired.status_code == 401
    assert answer_shape(expired) == answer_shape(never)


async def test_a_grace_of_zero_stops_the_old_key_at_once(lk: Running, workspace: Workspace, clock: Clock) -> None:
    rotated = await workspace_store.rotate_key(lk.db, workspace.id, "sandbox", grace=timedelta(0))
    assert rotated.previous_key_expires_at is None
    assert await status_with(lk, workspace.sandbox_key) == 401 and await status_with(lk, rotated.key) == 200
    env = await workspace_store.get_environment(lk.db, workspace.id, "sandbox")
    assert env.previous_key_prefix is None and env.previous_key_expires_at is None


async def test_rotating_again_during_a_grace_period_stops_the_older_key_at_once(
    lk: Running, workspace: Workspace, clock: Clock
) -> None:
    first = await workspace_store.rotate_key(lk.db, workspace.id, "sandbox", grace=timedelta(days=7))
    clock.advance(timedelta(hours=1))
    second = await workspace_store.rotate_key(lk.db, workspace.id, "sandbox", grace=timedelta(hours=1), actor=CLI)
    assert second.cut_off_prefix == workspace.sandbox_key[:12]
    assert await status_with(lk, workspace.sandbox_key) == 401  # the original key: cut off
    assert await status_with(lk, first.key) == 200  # now the previous key, for an hour
    assert await status_with(lk, second.key) == 200
    env = await workspace_store.get_environment(lk.db, workspace.id, "sandbox")
    assert env.previous_key_prefix == first.key[:12]
    assert env.previous_key_expires_at == clock.now + timedelta(hours=1)

    [event] = await audit_store.list_audit_events(lk.db, workspace.id, "sandbox")
    assert event.changes == {
        "api_key_prefix": {"before": first.key[:12], "after": second.key[:12]},
        "grace_seconds": 3600,
        "previous_key_valid_until": (clock.now + timedelta(hours=1)).isoformat(timespec="seconds"),
        "previous_key_stopped": workspace.sandbox_key[:12],
    }

    clock.advance(timedelta(hours=1))
    third = await workspace_store.rotate_key(lk.db, workspace.id, "sandbox")
    assert third.cut_off_prefix is None  # the previous key had expired by itself: nothing cut off
    assert await status_with(lk, first.key) == 401 and await status_with(lk, second.key) == 401


async def test_expire_previous_stops_the_old_key_now_and_is_recorded(
    lk: Running, workspace: Workspace, clock: Clock
) -> None:
    rotated = await workspace_store.rotate_key(lk.db, workspace.id, "sandbox", grace=timedelta(days=1))
    assert (
        await workspace_store.expire_previous_key(lk.db, workspace.id, "sandbox", actor=CLI)
        == (workspace.sandbox_key[:12])
    )
    assert await status_with(lk, workspace.sandbox_key) == 401 and await status_with(lk, rotated.key) == 200
    env = await workspace_store.get_environment(lk.db, workspace.id, "sandbox")
    assert env.previous_key_prefix is None
    [event] = await audit_store.list_audit_events(lk.db, workspace.id, "sandbox")
    assert event.action == "api_key.previous_expired" and event.actor == CLI
    assert event.changes == {"previous_key_prefix": workspace.sandbox_key[:12]}

    # Nothing left to expire: nothing changes and nothing more is recorded.
    assert await workspace_store.expire_previous_key(lk.db, workspace.id, "sandbox", actor=CLI) is None
    assert await lk.db.fetch_val(sa.select(sa.func.count()).select_from(audit_events)) == 1


async def test_expire_previous_after_the_grace_ran_out_by_itself_finds_nothing(
    lk: Running, workspace: Workspace, clock: Clock
) -> None:
    await workspace_store.rotate_key(lk.db, workspace.id, "sandbox", grace=timedelta(minutes=30))
    clock.advance(timedelta(minutes=30))
    assert await workspace_store.expire_previous_key(lk.db, workspace.id, "sandbox", actor=CLI) is None
    assert await lk.db.fetch_val(sa.select(sa.func.count()).select_from(audit_events)) == 0


async def test_expiring_early_whose_event_cannot_be_written_keeps_the_old_key(
    lk: Running, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    await workspace_store.rotate_key(lk.db, workspace.id, "sandbox", grace=timedelta(hours=1))

    async def failing(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the audit insert failed")

    monkeypatch.setattr(workspace_store, "record_audit", failing)
    with pytest.raises(RuntimeError, match="the audit insert failed"):
        await workspace_store.expire_previous_key(lk.db, workspace.id, "sandbox", actor=CLI)
    assert await status_with(lk, workspace.sandbox_key) == 200


@pytest.mark.parametrize("grace", [timedelta(days=30, seconds=1), timedelta(seconds=-1)])
async def test_a_grace_outside_zero_to_thirty_days_is_refused_and_changes_nothing(
    lk: Running, workspace: Workspace, grace: timedelta
) -> None:
    before = await lk.db.fetch_all(sa.select(environments))
    with pytest.raises(InvalidRequest, match="at most 30 days"):
        await workspace_store.rotate_key(lk.db, workspace.id, "sandbox", grace=grace)
    assert await lk.db.fetch_all(sa.select(environments)) == before
    assert await status_with(lk, workspace.sandbox_key) == 200


async def test_a_rotation_whose_key_changed_after_it_was_read_is_a_conflict_and_changes_nothing(
    lk: Running, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a rotation racing another sees: the key it read is no longer the current one."""
    real = workspace_store._key_state

    async def stale(*args: Any) -> Any:
        row = dict(await real(*args))
        row["api_key_hash"] = "0" * 64  # another rotation got there first
        return row

    monkeypatch.setattr(workspace_store, "_key_state", stale)
    before = await lk.db.fetch_all(sa.select(environments))
    with pytest.raises(Conflict):
        await workspace_store.rotate_key(lk.db, workspace.id, "sandbox", grace=timedelta(hours=1), actor=CLI)
    assert await lk.db.fetch_all(sa.select(environments)) == before
    assert await lk.db.fetch_val(sa.select(sa.func.count()).select_from(audit_events)) == 0


async def test_an_api_change_made_with_the_previous_key_names_that_key(
    lk: Running, workspace: Workspace, clock: Clock
) -> None:
    rotated = await workspace_store.rotate_key(lk.db, workspace.id, "sandbox", grace=timedelta(hours=1))
    for key in (workspace.sandbox_key, rotated.key):
        public_mode = key == rotated.key
        answer = await lk.client.patch("/api/v1/environment", headers=bearer(key), json={"public_mode": public_mode})
        assert answer.status_code == 200, answer.text
    log = await audit_store.list_audit_events(lk.db, workspace.id, "sandbox")
    assert [e.actor for e in log] == [Actor.api_key(rotated.key[:12]), Actor.api_key(workspace.sandbox_key[:12])]


@pytest.mark.parametrize(
    "statement",
    [workspace_store._BY_KEY_HASH, connection_store._KEYED_GET, connection_store._KEYED_STATE],
    ids=["key", "key and connection", "key and whole connection"],
)
async def test_the_key_lookup_is_one_query_served_by_the_two_unique_indexes(
    lk: Running, statement: sa.Select[Any]
) -> None:
    joined = statement is not workspace_store._BY_KEY_HASH
    bound = statement.params(key_hash="0" * 64, now=utcnow(), **({"id": "conn_x"} if joined else {}))
    sql = str(bound.compile(dialect=migrations.dialect_for(lk.db), compile_kwargs={"literal_binds": True}))
    if lk.db.dialect == "sqlite":
        plan = " ".join(str(r[-1]) for r in await lk.db.fetch_all("EXPLAIN QUERY PLAN " + sql))
        assert "MULTI-INDEX OR" in plan and "ix_environments_previous_key_hash" in plan
        assert "sqlite_autoindex_environments" in plan and "SCAN environments" not in plan
        if joined:  # the connection by its primary key, never a scan of the table
            assert "SEARCH connections USING INDEX sqlite_autoindex_connections_1 (id=?)" in plan
            assert "SCAN connections" not in plan
    else:
        async with lk.db.transaction():
            await lk.db.execute("SET LOCAL enable_seqscan = off")  # a test's tiny table would be scanned
            plan = " ".join(str(r[0]) for r in await lk.db.fetch_all("EXPLAIN " + sql))
        assert "ix_environments_previous_key_hash" in plan and "environments_api_key_hash_key" in plan
        assert "Seq Scan on environments" not in plan
        if joined:
            assert "connections_pkey" in plan and "Seq Scan on connections" not in plan


async def test_a_connection_is_read_with_the_previous_key_during_its_grace_and_not_after(
    lk: Running, workspace: Workspace, clock: Clock
) -> None:
    made = await lk.client.post(
        "/api/v1/connections", headers=workspace.auth(), json={"integration": "sandbox", "external_xref": "user-1"}
    )
    assert made.status_code == 201, made.text
    path = f"/api/v1/connections/{made.json()['data']['id']}"
    await workspace_store.rotate_key(lk.db, workspace.id, "sandbox", grace=timedelta(hours=1))
    for query in ("", "?include=credentials"):
        read = await lk.client.get(path + query, headers=workspace.auth())
        assert read.status_code == 200, read.text
        assert ("credentials" in read.json()["data"]) == bool(query)
    clock.advance(timedelta(hours=1))
    never = await lk.client.get(path, headers=bearer("lk_sbx_" + "A" * 43))
    for query in ("", "?include=credentials"):
        expired = await lk.client.get(path + query, headers=workspace.auth())
        assert answer_shape(expired) == answer_shape(never) and expired.status_code == 401


async def test_version_7_adds_the_previous_key_to_a_version_6_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = open_database(harness.test_database_url(tmp_path))
    await db.connect()
    try:
        monkeypatch.setattr(migrations, "MIGRATIONS", [m for m in migrations.MIGRATIONS if m[0] < 7])
        await migrations.migrate(db)
        old = await workspace_store.create_workspace(db, "Old")
        monkeypatch.undo()
        assert await migrations.migrate(db) == [v for v, _ in migrations.MIGRATIONS if v >= 7]
        found = await workspace_store.environment_for_key(db, old.api_keys["sandbox"])
        assert found is not None and found.previous_key_prefix is None and not found.via_previous_key
        rotated = await workspace_store.rotate_key(db, old.id, "sandbox", grace=timedelta(hours=1))
        via_old = await workspace_store.environment_for_key(db, old.api_keys["sandbox"])
        assert via_old is not None and via_old.via_previous_key and via_old.api_key_prefix == rotated.key[:12]
    finally:
        await close_database(db)


@pytest.mark.parametrize(
    "text,seconds",
    [("0", 0), ("0m", 0), ("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800), (" 30D ", 2592000)],
)
def test_a_grace_period_reads_as_a_number_and_a_unit(text: str, seconds: int) -> None:
    assert workspace_store.parse_grace(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "30", "1w", "-1h", "h", "1.5h", "24 h", "1h30m", "forever"])
def test_a_grace_period_in_another_form_is_refused_with_the_forms_that_work(text: str) -> None:
    with pytest.raises(InvalidRequest, match="like 30m, 24h or 7d"):
        workspace_store.parse_grace(text)


@pytest.mark.parametrize("text", ["31d", "721h", "43201m", "2592001s"])
def test_a_grace_period_beyond_thirty_days_is_refused(text: str) -> None:
    with pytest.raises(InvalidRequest, match="at most 30 days"):
        workspace_store.parse_grace(text)


@pytest.mark.parametrize(
    "grace,text",
    [
        (timedelta(0), "none"),
        (timedelta(hours=1), "1 hour"),
        (timedelta(days=7), "7 days"),
        (timedelta(minutes=90), "90 minutes"),
    ],
)
def test_a_grace_period_is_told_in_its_largest_whole_unit(grace: timedelta, text: str) -> None:
    assert workspace_store.grace_text(grace) == text
