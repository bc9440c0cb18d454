"""Provider quirks the flow must absorb, against the real authorization server on loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

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
    Workspace,
    make_settings,
    new_workspace,
    query_of,
    running_app,
)
from tests.routes.test_oauth_flow import CLIENT_ID, CLIENT_SECRET, provider_redirect
from tests.support.oauth_server import OAuthServer


def integration_file(folder: Path, server: OAuthServer, slug: str, **auth: Any) -> None:
    spec = {
        "slug": slug,
        "name": slug.title(),
        "categories": ["crm"],
        "docs": "https://provider.example/docs",
        "auth": {
            "kind": "oauth2",
            "authorize_url": server.authorize_url,
            "token_url": server.token_url,
            "token_auth_method": "client_secret_basic",
            "pkce": True,
            **auth,
        },
        "scopes": {"crm_contact_read": ["contacts.read"], "user_profile": ["openid", "email"]},
    }
    folder.mkdir(exist_ok=True)
    (folder / f"{slug}.json").write_text(json.dumps(spec))


@pytest.fixture
async def quirky(tmp_path: Path, oauth_server: OAuthServer) -> AsyncIterator[Provisioned]:
    folder = tmp_path / "catalog"
    base = oauth_server.base_url
    assert base is not None
    slugs: dict[str, dict[str, Any]] = {
        "posty": {"callback_method": "POST", "issuer": oauth_server.issuer},
        "multidc": {
            "token_url": "{dc}/token",
            "variables": [
                {
                    "name": "dc",
                    "label": "Data centre",
                    "pattern": "^.*$",
                    "source": "callback",
                    "callback_param": "accounts-server",
                    "allowed": [base],
                }
            ],
        },
        "lookup": {
            "metadata_requests": [
                {
                    "url": oauth_server.userinfo_url,
                    "headers": {"Authorization": "Bearer {access_token}"},
                    "extract": {"account_email": "email", "account_id": "sub"},
                }
            ]
        },
        "badlookup": {"metadata_requests": [{"url": base + "/nope", "extract": {"x": "y"}}]},
    }
    for slug, auth in slugs.items():
        integration_file(folder, oauth_server, slug, **auth)
        oauth_server.register_client(f"{CLIENT_ID}-{slug}", CLIENT_SECRET, [f"{BASE_URL}/auth/{slug}/callback"])
    async with running_app(make_settings(tmp_path, catalog_dir=folder)) as lk:
        ws = await new_workspace(lk.services, activate=())
        for slug in slugs:
            put = await lk.client.put(
                f"/api/v1/integrations/{slug}",
                headers=ws.auth("production"),
                json={"client_id": f"{CLIENT_ID}-{slug}", "client_secret": CLIENT_SECRET},
            )
            assert put.status_code == 200, put.text
        yield Provisioned.of(lk, ws, oauth_server)


async def begin(lk: Provisioned, slug: str) -> str:
    made = await lk.client.post(
        "/api/v1/auth-urls",
        headers=lk.ws.auth("production"),
        json={
            "integration": slug,
            "external_xref": "u1",
            "scopes": ["crm_contact_read"],
            "success_url": SUCCESS_URL,
            "failure_url": FAILURE_URL,
        },
    )
    started = await lk.client.get(made.json()["data"]["url"])
    assert started.status_code == 302, started.text
    return provider_redirect(started.headers["location"])


async def rows(lk: Running) -> int:
    n: int = await lk.db.fetch_val(sa.select(sa.func.count()).select_from(connections))
    return n


async def test_a_callback_arriving_as_a_post_is_completed_with_the_browser_binding(quirky: Provisioned) -> None:
    callback = await begin(quirky, "posty")
    params = query_of(callback)
    posted = await quirky.client.post("/auth/posty/callback", data=params)
    assert posted.status_code == 303
    assert posted.headers["location"].startswith(f"{BASE_URL}/auth/posty/callback?")
    done = await quirky.client.get(posted.headers["location"])
    assert done.status_code == 302 and done.headers["location"].startswith(SUCCESS_URL)
    assert await rows(quirky) == 1


async def test_a_post_callback_is_refused_for_get_only_integrations(quirky: Provisioned) -> None:
    callback = await begin(quirky, "lookup")
    posted = await quirky.client.post("/auth/lookup/callback", data=query_of(callback))
    assert posted.status_code == 405 and quirky.oauth.token_requests == []


async def test_a_marketplace_install_without_state_gets_a_clear_page_and_no_connection(quirky: Provisioned) -> None:
    answer = await quirky.client.get("/auth/lookup/callback?code=from-the-marketplace")
    assert answer.status_code == 400 and 'data-error-code="invalid_state"' in answer.text
    assert "marketplace" in answer.text and "location" not in answer.headers
    assert quirky.oauth.token_requests == [] and await rows(quirky) == 0


async def test_the_code_is_exchanged_at_the_data_centre_named_on_the_callback(quirky: Provisioned) -> None:
    base = quirky.oauth.base_url
    assert base is not None
    callback = await begin(quirky, "multidc")
    done = await quirky.client.get(callback + "&accounts-server=" + httpx.URL(base).host)
    # a bare host is not on the allow list (it lists the origin): refused before any token request
    assert query_of(done.headers["location"])["error"] == "invalid_request" and quirky.oauth.token_requests == []
    callback = await begin(quirky, "multidc")
    done = await quirky.client.get(callback + "&accounts-server=" + base)
    assert done.headers["location"].startswith(SUCCESS_URL), done.headers["location"]
    assert len(quirky.oauth.token_requests) == 1
    got = await quirky.client.get(
        f"/api/v1/connections/{query_of(done.headers['location'])['connection_id']}",
        headers=quirky.ws.auth("production"),
    )
    assert got.json()["data"]["metadata"]["dc"] == base


async def test_a_data_centre_off_the_allow_list_is_refused(quirky: Provisioned) -> None:
    callback = await begin(quirky, "multidc")
    done = await quirky.client.get(callback + "&accounts-server=https://evil.example")
    result = query_of(done.headers["location"])
    assert result["error"] == "invalid_request" and quirky.oauth.token_requests == [] and await rows(quirky) == 0


async def test_metadata_lookup_after_the_exchange_is_kept_with_the_connection(quirky: Provisioned) -> None:
    done = await quirky.client.get(await begin(quirky, "lookup"))
    assert done.headers["location"].startswith(SUCCESS_URL)
    got = await quirky.client.get(
        f"/api/v1/connections/{query_of(done.headers['location'])['connection_id']}",
        headers=quirky.ws.auth("production"),
    )
    metadata = got.json()["data"]["metadata"]
    assert metadata["account_email"] == quirky.oauth.user_email and metadata["account_id"] == quirky.oauth.user_sub


async def test_a_failed_metadata_lookup_writes_no_connection(quirky: Provisioned) -> None:
    done = await quirky.client.get(await begin(quirky, "badlookup"))
    assert query_of(done.headers["location"])["error"] == "provider_error"
    assert await rows(quirky) == 0


async def test_credentials_form_post_is_judged_by_fetch_metadata_when_present(
    lk: Running, workspace: Workspace
) -> None:
    """Browsers post our no-referrer pages' forms with Origin: null; Sec-Fetch-Site tells the truth."""
    from tests.routes.test_sandbox_flow import start_link

    ctx = await start_link(lk, workspace, slug="stripe", integrations="stripe")
    page = await lk.client.get(f"/auth/stripe/start?ctx={ctx}")
    import re as _re
    from html import unescape as _unescape

    match = _re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert match is not None
    token = _unescape(match.group(1))
    form = {"form_token": token, "api_key": "sk_test_" + "a" * 24}
    cross = await lk.client.post(
        "/auth/stripe/credentials", data=form, headers={"Origin": "null", "Sec-Fetch-Site": "cross-site"}
    )
    assert cross.status_code == 403
    same = await lk.client.post(
        "/auth/stripe/credentials", data=form, headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    )
    assert same.status_code == 303


async def test_a_post_callback_repeating_its_code_fails_before_the_token_request(quirky: Provisioned) -> None:
    callback = await begin(quirky, "posty")
    params = query_of(callback)
    body = "&".join(f"{k}={httpx.QueryParams({k: v})[k]}" for k, v in params.items()) + "&code=another-code"
    posted = await quirky.client.post(
        "/auth/posty/callback", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert posted.status_code == 303
    done = await quirky.client.get(posted.headers["location"])
    assert done.status_code == 302 and done.headers["location"].startswith(FAILURE_URL)
    assert query_of(done.headers["location"])["error"] == "invalid_request"
    assert quirky.oauth.token_requests == [] and await rows(quirky) == 0
