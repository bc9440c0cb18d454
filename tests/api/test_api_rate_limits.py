"""The API's limits: a budget per API key, and one per client address for failed authentication."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from tests.harness import BASE_URL, Running, Workspace, make_settings, new_workspace, running_app


@contextlib.asynccontextmanager
async def limited_app(tmp_path: Path, **limits: str) -> AsyncIterator[tuple[Running, Workspace]]:
    settings = make_settings(tmp_path, **{f"rate_limit_{name}": value for name, value in limits.items()})
    async with running_app(settings) as lk:
        yield lk, await new_workspace(lk.services)


def from_elsewhere(lk: Running) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=lk.app, client=("198.51.100.7", 50000))
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


def assert_rate_limited(answer: httpx.Response) -> None:
    assert answer.status_code == 429
    assert answer.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(answer.headers["retry-after"]) <= 60


async def test_each_api_key_has_its_own_budget(tmp_path: Path) -> None:
    async with limited_app(tmp_path, api="3/minute") as (lk, ws):
        for _ in range(3):
            assert (await lk.client.get("/api/v1/connections", headers=ws.auth())).status_code == 200
        refused = await lk.client.post("/api/v1/connect-sessions", headers=ws.auth(), json={"external_xref": "user-1"})
        assert_rate_limited(refused)
        assert (await lk.client.get("/api/v1/connections", headers=ws.auth("production"))).status_code == 200
        async with from_elsewhere(lk) as other:  # the budget is the key's, wherever it is used from
            assert_rate_limited(await other.get("/api/v1/connections", headers=ws.auth()))


async def test_failed_authentication_is_limited_per_address_and_a_valid_key_is_still_served(tmp_path: Path) -> None:
    async with limited_app(tmp_path, api_auth_failure="2/minute") as (lk, ws):
        guesses = [{"Authorization": f"Bearer lk_sbx_guess{i}"} for i in range(3)]
        assert [(await lk.client.get("/api/v1/connections", headers=g)).status_code for g in guesses[:2]] == [401, 401]
        assert_rate_limited(await lk.client.get("/api/v1/connections", headers=guesses[2]))
        assert_rate_limited(await lk.client.get("/api/v1/connections"))  # no key at all counts too
        assert (await lk.client.get("/api/v1/connections", headers=ws.auth())).status_code == 200
        async with from_elsewhere(lk) as other:
            assert (await other.get("/api/v1/connections", headers=guesses[2])).status_code == 401
