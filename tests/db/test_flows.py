"""A flow's single use, now written when the flow is used: of any number of callbacks with one
nonce, in any number of processes sharing the database, exactly one consumes it."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from server.db import flows as flow_store
from server.db.tables import flows
from server.settings import Settings
from tests.harness import Running, running_app

MAX_AGE = 600


@pytest.fixture
async def other(settings: Settings, lk: Running) -> AsyncIterator[Running]:
    """A second app (another process) on the same database as `lk`."""
    async with running_app(settings) as running:
        yield running


async def consume(app: Running, nonce: str) -> flow_store.ConsumedFlow | None:
    return await flow_store.consume_flow(
        app.db,
        app.services.sealer,
        nonce,
        workspace_id="ws_test",
        environment="production",
        integration="acme",
        max_age=MAX_AGE,
    )


async def write_at_start(app: Running, nonce: str, secret: str) -> None:
    await flow_store.create_flow(
        app.db,
        app.services.sealer,
        nonce=nonce,
        workspace_id="ws_test",
        environment="production",
        integration="acme",
        secret=secret,
        max_age=MAX_AGE,
    )


async def test_a_nonce_is_consumed_once_and_its_row_says_when(lk: Running) -> None:
    nonce = secrets.token_urlsafe(24)
    first = await consume(lk, nonce)
    assert first is not None and first.nonce == nonce and first.secret is None
    assert await consume(lk, nonce) is None
    [row] = await lk.db.fetch_all(sa.select(flows))
    assert row["consumed_at"] is not None and row["integration"] == "acme"


async def test_concurrent_consumes_in_two_processes_let_exactly_one_win_each_nonce(lk: Running, other: Running) -> None:
    nonces = [secrets.token_urlsafe(24) for _ in range(40)]
    outcomes = await asyncio.gather(*(consume(app, n) for n in nonces for app in (lk, other, lk, other)))
    winners = [o.nonce for o in outcomes if o is not None]
    assert sorted(winners) == sorted(nonces)
    assert await lk.db.fetch_val(sa.select(sa.func.count()).select_from(flows)) == len(nonces)


async def test_a_row_written_at_start_hands_back_its_sealed_secret_once(lk: Running, other: Running) -> None:
    nonce = secrets.token_urlsafe(24)
    await write_at_start(lk, nonce, '{"t": "request-token", "s": "its-secret"}')
    stored = await lk.db.fetch_val(sa.select(flows.c.pkce_verifier_enc))
    assert "its-secret" not in stored  # sealed at rest
    consumed = await consume(other, nonce)
    assert consumed is not None and consumed.secret == '{"t": "request-token", "s": "its-secret"}'
    assert await consume(lk, nonce) is None and await consume(other, nonce) is None


async def test_an_expired_row_written_at_start_is_not_consumed(lk: Running) -> None:
    nonce = secrets.token_urlsafe(24)
    await write_at_start(lk, nonce, "secret")
    past = datetime.now().astimezone() - timedelta(seconds=1)
    await lk.db.execute(flows.update().values(expires_at=past))
    assert await consume(lk, nonce) is None


async def test_a_consumed_row_outlives_every_state_it_could_mark_before_housekeeping_deletes_it(lk: Running) -> None:
    nonce = secrets.token_urlsafe(24)
    assert await consume(lk, nonce) is not None
    expires_at = await lk.db.fetch_val(sa.select(flows.c.expires_at))
    consumed_at = await lk.db.fetch_val(sa.select(flows.c.consumed_at))
    # A state verifies for MAX_AGE after it was signed, which was before it was used.
    assert expires_at - consumed_at == timedelta(seconds=MAX_AGE)
    await flow_store.purge_expired(lk.db)
    assert await consume(lk, nonce) is None  # still there: still refused
    await lk.db.execute(flows.update().values(expires_at=consumed_at - timedelta(days=2)))
    await flow_store.purge_expired(lk.db)
    assert await lk.db.fetch_val(sa.select(sa.func.count()).select_from(flows)) == 0
