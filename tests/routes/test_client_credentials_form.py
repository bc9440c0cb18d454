"""Client-credentials integrations (Greenhouse-style): the end-user's own client ID and secret,
checked by a real client_credentials token request against the loopback authorization server."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from server.db.tables import connections
from tests.harness import (
    BASE_URL,
    FAILURE_URL,
    SUCCESS_URL,
    Provisioned,
    Running,
    make_settings,
    new_workspace,
    query_of,
    running_app,
)
from tests.support.oauth_server import OAuthServer


@pytest.fixture
async def cc(tmp_path: Path, oauth_server: OAuthServer) -> AsyncIterator[Provisioned]:
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "harvest.json").write_text(
        json.dumps(
            {
                "slug": "harvest",
                "name": "Harvest",
                "categories": ["ats"],
                "docs": "https://harvest.example/docs",
                "auth": {
                    "kind": "oauth2_client_credentials",
                    "token_url": oauth_server.token_url,
                    "token_auth_method": "client_secret_basic",
                    "token_params": {"scope": "contacts.read"},
                    "fields": [
                        {"name": "client_id", "label": "Client ID"},
                        {"name": "client_secret", "label": "Client secret", "secret": True},
                    ],
                },
                "scopes": {"ats_candidate_read": []},
            }
        )
    )
    oauth_server.register_client("customer-client", "customer-secret", [])
    async with running_app(make_settings(tmp_path, catalog_dir=folder)) as lk:
        ws = await new_workspace(lk.services, activate=())
        assert (
            await lk.client.put("/api/v1/integrations/harvest", headers=ws.auth("production"), json={})
        ).status_code == 200
        yield Provisioned.of(lk, ws, oauth_server)


async def open_form(lk: Provisioned) -> str:
    made = await lk.client.post(
        "/api/v1/auth-urls",
        headers=lk.ws.auth("production"),
        json={"integration": "harvest", "external_xref": "u1", "success_url": SUCCESS_URL, "failure_url": FAILURE_URL},
    )
    page = await lk.client.get(made.json()["data"]["url"])
    assert page.status_code == 200 and 'id="lk-credentials"' in page.text
    match = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert match is not None
    return unescape(match.group(1))


async def submit(lk: Running, token: str, client_id: str, secret: str) -> httpx.Response:
    return await lk.client.post(
        "/auth/harvest/credentials",
        headers={"Origin": BASE_URL},
        data={"form_token": token, "client_id": client_id, "client_secret": secret},
    )


async def test_right_client_credentials_make_a_connection_with_a_token(cc: Provisioned) -> None:
    token = await open_form(cc)
    done = await submit(cc, token, "customer-client", "customer-secret")
    assert done.status_code == 303 and done.headers["location"].startswith(SUCCESS_URL)
    [request] = cc.oauth.token_requests
    assert request["grant_type"] == "client_credentials" and request["auth_method"] == "client_secret_basic"
    connection_id = query_of(done.headers["location"])["connection_id"]
    got = await cc.client.get(
        f"/api/v1/connections/{connection_id}?include=credentials", headers=cc.ws.auth("production")
    )
    creds = got.json()["data"]["credentials"]
    assert (
        creds["access_token"] in cc.oauth.issued_access_tokens() and creds["fields"]["client_id"] == "customer-client"
    )


async def test_wrong_client_credentials_show_the_form_again_and_write_nothing(cc: Provisioned) -> None:
    token = await open_form(cc)
    wrong = await submit(cc, token, "customer-client", "not-the-secret")
    assert wrong.status_code == 400 and 'data-error-code="invalid_credentials"' in wrong.text
    assert await cc.db.fetch_val(sa.select(sa.func.count()).select_from(connections)) == 0
    again = await submit(cc, token, "customer-client", "customer-secret")
    assert again.status_code == 303
