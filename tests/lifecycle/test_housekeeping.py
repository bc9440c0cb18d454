"""Expired flows, old result-channel rows and old sandbox codes are deleted; live ones stay."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from server.db.clock import utcnow
from server.db.tables import flows, sandbox_codes, widget_results
from server.lifecycle.housekeeping import purge_once
from tests.harness import Running


async def test_purge_deletes_only_what_has_expired(lk: Running) -> None:
    now = utcnow()
    old, fresh = now - timedelta(days=2), now
    for nonce, when in (("old", old), ("fresh", fresh)):
        await lk.db.execute(
            flows.insert().values(
                nonce=nonce,
                workspace_id="ws",
                environment="sandbox",
                integration="x",
                created_at=when,
                expires_at=when + timedelta(minutes=10),
            )
        )
        await lk.db.execute(widget_results.insert().values(channel_hash=nonce, message="{}", created_at=when))
        await lk.db.execute(
            sandbox_codes.insert().values(
                code_hash=nonce, client_id="c", redirect_uri="r", code_challenge="c", scope="", created_at=when
            )
        )
    await purge_once(lk.services)
    for table, key in (
        (flows, flows.c.nonce),
        (widget_results, widget_results.c.channel_hash),
        (sandbox_codes, sandbox_codes.c.code_hash),
    ):
        assert [r[0] for r in await lk.db.fetch_all(sa.select(key))] == ["fresh"], table.name
