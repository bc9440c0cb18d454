"""The connect-session store's single-use rules hold under concurrency: one UPDATE decides."""

from __future__ import annotations

import asyncio

from server.db import connect_sessions as store
from tests.harness import Running, Workspace


async def test_of_browsers_racing_to_start_with_one_session_exactly_one_wins(lk: Running, workspace: Workspace) -> None:
    record, _ = await store.create(
        lk.db, workspace_id=workspace.id, environment="sandbox", kind="session", context={}, max_age=60
    )
    outcomes = await asyncio.gather(
        *(store.bind(lk.db, record.id, browser_hash=f"{n:064x}", picker_id=None) for n in range(8))
    )
    assert outcomes.count(None) == 1 and outcomes.count("used") == 7
    winner = f"{outcomes.index(None):064x}"
    assert await store.bind(lk.db, record.id, browser_hash=winner, picker_id=None) is None


async def test_of_flows_racing_to_complete_one_auth_url_exactly_one_may_store(
    lk: Running, workspace: Workspace
) -> None:
    record, _ = await store.create(
        lk.db, workspace_id=workspace.id, environment="sandbox", kind="auth_url", context={}, max_age=60
    )
    outcomes = await asyncio.gather(*(store.complete(lk.db, record.id) for _ in range(6)))
    assert outcomes.count(None) == 1 and outcomes.count("used") == 5


async def test_a_connect_session_is_not_used_up_by_a_completed_flow(lk: Running, workspace: Workspace) -> None:
    record, token = await store.create(
        lk.db, workspace_id=workspace.id, environment="sandbox", kind="session", context={}, max_age=60
    )
    assert [await store.complete(lk.db, record.id) for _ in range(3)] == [None, None, None]
    found = await store.find_by_token(lk.db, token)
    assert found is not None and not found.consumed
