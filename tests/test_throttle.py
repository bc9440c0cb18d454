"""The browser routes' limits per client address: 429 with Retry-After and a readable page, nothing done."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from server.dashboard import passwords
from server.db.tables import connections, dashboard_sessions, flows
from tests.dashboard.support import PASSWORD, add_member, try_sign_in
from tests.harness import (
    BASE_URL,
    FAILURE_URL,
    SUCCESS_URL,
    Running,
    Workspace,
    make_settings,
    new_workspace,
    running_app,
)

GOOD_KEY = "sk_test_" + "a1B2c3D4e5F6g7H8i9J0k1L2"
OTHER_ADDRESS = ("198.51.100.7", 50000)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "DEFAULT_COST", passwords.ScryptCost(log2_n=10, r=8, p=1))


@contextlib.asynccontextmanager
async def limited_app(tmp_path: Path, **limits: str) -> AsyncIterator[tuple[Running, Workspace]]:
    settings = make_settings(tmp_path, **{f"rate_limit_{name}": value for name, value in limits.items()})
    async with running_app(settings) as lk:
        yield lk, await new_workspace(lk.services, activate=("sandbox", "stripe"))


def from_elsewhere(lk: Running) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=lk.app, client=OTHER_ADDRESS)
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


def picker_params(ws: Workspace, slug: str = "stripe") -> dict[str, str]:
    return {
        "workspace": ws.id,
        "env": "sandbox",
        "external_xref": "user-1",
        "mode": "redirect",
        "integrations": slug,
        "success_url": SUCCESS_URL,
        "failure_url": FAILURE_URL,
    }


async def start_link(client: httpx.AsyncClient, ws: Workspace) -> str:
    page = await client.get("/picker", params=picker_params(ws))
    marker = 'href="/auth/stripe/start?ctx='
    assert page.status_code == 200 and marker in page.text
    return "/auth/stripe/start?ctx=" + unescape(page.text.split(marker, 1)[1].split('"', 1)[0])


async def form_token(client: httpx.AsyncClient, ws: Workspace) -> str:
    page = await client.get(await start_link(client, ws))
    match = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert page.status_code == 200 and match is not None
    return unescape(match.group(1))


def assert_rate_limited(page: httpx.Response) -> None:
    assert page.status_code == 429
    assert 'data-error-code="rate_limited"' in page.text and page.headers["content-type"].startswith("text/html")
    assert 1 <= int(page.headers["retry-after"]) <= 60


async def count(lk: Running, table: sa.Table) -> int:
    n: int = await lk.db.fetch_val(sa.select(sa.func.count()).select_from(table))
    return n


async def test_the_picker_is_limited_per_client_address(tmp_path: Path) -> None:
    async with limited_app(tmp_path, picker="3/minute") as (lk, ws):
        for _ in range(3):
            assert (await lk.client.get("/picker", params=picker_params(ws))).status_code == 200
        assert_rate_limited(await lk.client.get("/picker", params=picker_params(ws)))
        async with from_elsewhere(lk) as other:
            assert (await other.get("/picker", params=picker_params(ws))).status_code == 200


async def test_starts_are_limited_per_client_address_and_a_refused_start_writes_no_flow(tmp_path: Path) -> None:
    async with limited_app(tmp_path, start="2/minute") as (lk, ws):
        link = await start_link(lk.client, ws)
        assert [(await lk.client.get(link)).status_code for _ in range(2)] == [200, 200]
        flows_before = await count(lk, flows)
        assert_rate_limited(await lk.client.get(link))
        assert await count(lk, flows) == flows_before
        async with from_elsewhere(lk) as other:
            assert (await other.get(await start_link(other, ws))).status_code == 200


async def test_credentials_posts_are_limited_and_a_refused_one_makes_no_connection(tmp_path: Path) -> None:
    async with limited_app(tmp_path, credentials="2/minute") as (lk, ws):
        for _ in range(2):
            wrong = await lk.client.post(
                "/auth/stripe/credentials",
                data={"form_token": await form_token(lk.client, ws), "api_key": "sk_test_bad" + "x" * 20},
                headers={"Origin": BASE_URL},
            )
            assert wrong.status_code == 400 and 'data-error-code="invalid_credentials"' in wrong.text
        refused = await lk.client.post(
            "/auth/stripe/credentials",
            data={"form_token": await form_token(lk.client, ws), "api_key": GOOD_KEY},
            headers={"Origin": BASE_URL},
        )
        assert_rate_limited(refused)
        assert await count(lk, connections) == 0
        async with from_elsewhere(lk) as other:
            right = await other.post(
                "/auth/stripe/credentials",
                data={"form_token": await form_token(other, ws), "api_key": GOOD_KEY},
                headers={"Origin": BASE_URL},
            )
            assert right.status_code == 303 and await count(lk, connections) == 1


async def test_sign_in_posts_are_limited_per_client_address_and_a_refused_one_starts_no_session(
    tmp_path: Path,
) -> None:
    async with limited_app(tmp_path, sign_in="2/minute") as (lk, ws):
        member = await add_member(lk, ws.id)
        for _ in range(2):
            assert (await try_sign_in(lk.client, member.email, "wrong password")).status_code == 400
        assert_rate_limited(await try_sign_in(lk.client, member.email, PASSWORD))
        assert await count(lk, dashboard_sessions) == 0
        async with from_elsewhere(lk) as other:
            assert (await try_sign_in(other, member.email, PASSWORD)).status_code == 303
