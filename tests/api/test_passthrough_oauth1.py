"""Passthrough to an OAuth 1.0a API (the loopback provider's protected resource, Authlib's
ResourceProtector): each call is signed with the consumer and the connection's token
credentials, its query — and a form body's — parameters included."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from server.flow.oauth1 import signed_api_header
from tests.harness import (
    BASE_URL,
    FAILURE_URL,
    SUCCESS_URL,
    Running,
    Workspace,
    make_settings,
    new_workspace,
    query_of,
    running_app,
)
from tests.support.fixtures_oauth1 import oauth1_server  # noqa: F401 - fixture
from tests.support.oauth1_server import OAuth1Server

SLUG = "boards"
CONSUMER_KEY = "latchkey-consumer-key"
CONSUMER_SECRET = "s3cret-of-the-latchkey-consumer"


def write_integration(folder: Path, server: OAuth1Server) -> None:
    spec = {
        "slug": SLUG,
        "name": "Boards",
        "categories": ["productivity"],
        "docs": "https://boards.example/docs",
        "auth": {
            "kind": "oauth1",
            "request_token_url": server.request_token_url,
            "authorize_url": server.authorize_url,
            "access_token_url": server.access_token_url,
        },
        "api": {"base_url": f"{server.base_url}/1", "source": "https://boards.example/api"},
        "scopes": {"task_read": ["read"]},
    }
    folder.mkdir(exist_ok=True)
    (folder / f"{SLUG}.json").write_text(json.dumps(spec))


@pytest.fixture
async def boards(tmp_path: Path, oauth1_server: OAuth1Server) -> AsyncIterator[tuple[Running, Workspace, str]]:  # noqa: F811
    oauth1_server.register_client(CONSUMER_KEY, CONSUMER_SECRET, f"{BASE_URL}/auth/{SLUG}/callback?")
    folder = tmp_path / "catalog"
    write_integration(folder, oauth1_server)
    async with running_app(make_settings(tmp_path, catalog_dir=folder)) as lk:
        ws = await new_workspace(lk.services, activate=())
        put = await lk.client.put(
            f"/api/v1/integrations/{SLUG}",
            headers=ws.auth("production"),
            json={"client_id": CONSUMER_KEY, "client_secret": CONSUMER_SECRET, "scopes": ["task_read"]},
        )
        assert put.status_code == 200, put.text
        made = await lk.client.post(
            "/api/v1/auth-urls",
            headers=ws.auth("production"),
            json={
                "integration": SLUG,
                "external_xref": "u-1",
                "scopes": ["task_read"],
                "success_url": SUCCESS_URL,
                "failure_url": FAILURE_URL,
            },
        )
        started = await lk.client.get(made.json()["data"]["url"])
        at_provider = httpx.get(started.headers["location"], follow_redirects=False)
        back = await lk.client.get(at_provider.headers["location"])
        assert back.headers["location"].startswith(SUCCESS_URL), back.text
        yield lk, ws, query_of(back.headers["location"])["connection_id"]


async def test_a_get_is_signed_with_its_query_and_the_provider_accepts_it(
    boards: tuple[Running, Workspace, str],
    oauth1_server: OAuth1Server,  # noqa: F811
) -> None:
    lk, ws, connection_id = boards
    answer = await lk.client.get(
        f"/api/v1/passthrough/{connection_id}/members/me?fields=id%2Cname&boards=open", headers=ws.auth("production")
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": oauth1_server.user_id, "args": {"fields": "id,name", "boards": "open"}, "form": {}}
    [record] = oauth1_server.requests_to("resource")
    assert record["oauth"]["oauth_consumer_key"] == CONSUMER_KEY
    assert record["oauth"]["oauth_token"] == oauth1_server.issued_tokens()[0]["oauth_token"]


async def test_a_form_body_is_signed_too(
    boards: tuple[Running, Workspace, str],
    oauth1_server: OAuth1Server,  # noqa: F811
) -> None:
    lk, ws, connection_id = boards
    answer = await lk.client.post(
        f"/api/v1/passthrough/{connection_id}/members/me", headers=ws.auth("production"), data={"name": "Ada Lovelace"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["form"] == {"name": "Ada Lovelace"}


async def test_a_call_signed_with_another_token_secret_is_refused_by_the_provider(
    boards: tuple[Running, Workspace, str],
    oauth1_server: OAuth1Server,  # noqa: F811
) -> None:
    """The resource really checks signatures (so the tests above mean something)."""
    url = f"{oauth1_server.base_url}/1/members/me"
    token = oauth1_server.issued_tokens()[0]["oauth_token"]
    forged = signed_api_header(
        "GET", url, consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET, token=token, token_secret="guessed"
    )
    answer = httpx.get(url, headers={"Authorization": forged})
    assert answer.status_code == 401
