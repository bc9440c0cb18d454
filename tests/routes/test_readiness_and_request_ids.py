"""`/readyz` (503 while the database is unreachable or a migration is pending), request IDs on
every answer, and the client address and scheme taken from a trusted proxy only."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import sqlalchemy as sa

from server.db.database import close_database
from server.db.tables import schema_migrations
from tests.harness import POSTGRES_URL, Running, make_settings, running_app
from tests.support.db_faults import PostgresOutage


async def test_readyz_is_200_when_the_database_answers_and_every_migration_is_applied(lk: Running) -> None:
    answer = await lk.client.get("/readyz")
    assert answer.status_code == 200 and answer.json() == {"status": "ready"}


async def test_readyz_is_503_while_a_migration_is_pending(lk: Running) -> None:
    latest = await lk.db.fetch_val(sa.select(sa.func.max(schema_migrations.c.version)))
    await lk.db.execute(schema_migrations.delete().where(schema_migrations.c.version == latest))
    answer = await lk.client.get("/readyz")
    assert answer.status_code == 503 and answer.json()["reason"] == f"schema migrations pending: {latest}"
    assert (await lk.client.get("/healthz")).status_code == 200  # alive, just not ready


async def test_readyz_is_503_while_the_database_is_unreachable_and_200_when_it_returns(
    tmp_path: Path,
) -> None:
    async with running_app(make_settings(tmp_path, background_tasks=False)) as lk:
        if POSTGRES_URL:
            outage = PostgresOutage(lk.services.settings.database_url)
            outage.begin()
            try:
                down = await lk.client.get("/readyz")
            finally:
                outage.end()
        else:
            await close_database(lk.db)  # SQLite has no server to stop: the process loses its connections
            down = await lk.client.get("/readyz")
            await lk.db.connect()
        assert down.status_code == 503 and down.json() == {
            "status": "unavailable",
            "reason": "the database is unreachable",
        }
        back = await lk.client.get("/readyz")
        assert back.status_code == 200


async def test_every_answer_carries_a_request_id_and_an_untrusted_one_is_replaced(lk: Running) -> None:
    first, second = await lk.client.get("/healthz"), await lk.client.get("/healthz")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    sent = await lk.client.get("/healthz", headers={"X-Request-ID": "from-the-client"})
    assert sent.headers["x-request-id"] != "from-the-client"  # no proxy is trusted here


async def test_a_trusted_proxy_sets_client_scheme_and_request_id_and_the_access_log_shows_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, trusted_proxies=("127.0.0.1",), background_tasks=False)
    async with running_app(settings) as lk:  # the test client's peer address is 127.0.0.1
        with caplog.at_level(logging.INFO, logger="latchkey.access"):
            answer = await lk.client.get(
                "/healthz",
                headers={
                    "X-Forwarded-For": "198.51.100.1, 203.0.113.7",
                    "X-Forwarded-Proto": "https",
                    "X-Request-ID": "req-from-nginx-1",
                },
            )
            bad_id = await lk.client.get("/healthz", headers={"X-Request-ID": "has spaces"})
    assert answer.headers["x-request-id"] == "req-from-nginx-1"
    assert bad_id.headers["x-request-id"] != "has spaces"
    access = [r.getMessage() for r in caplog.records if r.name == "latchkey.access"]
    assert access[0].startswith("GET /healthz 200 ") and access[0].endswith(" from 203.0.113.7 over https")
    assert access[1].endswith(" from 127.0.0.1 over http")


async def test_rate_limits_count_per_forwarded_client_and_a_client_cannot_choose_its_own(tmp_path: Path) -> None:
    bad_key = {"Authorization": "Bearer lk_live_not-a-key"}
    proxied = make_settings(tmp_path / "a", trusted_proxies=("127.0.0.1",), rate_limit_api_auth_failure="2/minute")
    async with running_app(proxied) as lk:
        a = {**bad_key, "X-Forwarded-For": "203.0.113.7"}
        statuses = [(await lk.client.get("/api/v1/connections", headers=a)).status_code for _ in range(3)]
        assert statuses == [401, 401, 429]
        b = {**bad_key, "X-Forwarded-For": "203.0.113.8"}
        assert (await lk.client.get("/api/v1/connections", headers=b)).status_code == 401  # its own budget
    direct = make_settings(tmp_path / "b", rate_limit_api_auth_failure="2/minute")  # no proxy trusted
    async with running_app(direct) as lk:
        spoofed = [
            (await lk.client.get("/api/v1/connections", headers={**bad_key, "X-Forwarded-For": f"198.51.100.{i}"}))
            for i in range(3)
        ]
        assert [r.status_code for r in spoofed] == [401, 401, 429]  # one peer, one budget
