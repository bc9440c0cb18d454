"""The OAuth 1.0a dance against a real provider on loopback (Authlib's OAuth 1.0a server, real HTTP).

Two layers: `dispatch.begin` / `dispatch.complete` called directly (the protocol), and the same flow through the
real browser routes `/auth/{slug}/start` and `/auth/{slug}/callback` (which need the dispatch to
`server.flow.oauth1` in `server/flow/dispatch.py`).

Each negative test checks that the bad request changed nothing: no access-token request reached
the provider where none should, and no connection row was written.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa

from server.catalog.models import Integration
from server.crypto import sha256_hex
from server.db import connect_sessions
from server.db.tables import auth_events, connections, flows
from server.errors import ProviderError, ProviderUnavailable, UntrustedFlowError
from server.flow import dispatch
from server.flow.context import FlowContext
from server.signing import SALT_STATE
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

SLUG = "acme1"
CONSUMER_KEY = "latchkey-consumer-key"
CONSUMER_SECRET = "s3cret-of-the-latchkey-consumer"
CALLBACK = f"{BASE_URL}/auth/{SLUG}/callback"


def write_integration(folder: Path, server: OAuth1Server, slug: str = SLUG, **auth_overrides: Any) -> None:
    auth = {
        "kind": "oauth1",
        "request_token_url": server.request_token_url,
        "authorize_url": server.authorize_url,
        "access_token_url": server.access_token_url,
        "signature_method": "HMAC-SHA1",
        "scope_param": "scope",
        "scope_separator": ",",
        "authorize_params": {"expiration": "never"},
        **auth_overrides,
    }
    spec = {
        "slug": slug,
        "name": "Acme Boards",
        "categories": ["productivity"],
        "docs": "https://acme.example/docs",
        "auth": auth,
        "scopes": {"task_read": ["read"], "user_profile": ["read", "account"]},
    }
    folder.mkdir(exist_ok=True)
    (folder / f"{slug}.json").write_text(json.dumps(spec))


@dataclass
class OAuth1App(Running):
    """The app with a workspace whose production environment has the OAuth 1.0a integration active."""

    ws: Workspace
    provider: OAuth1Server
    integration: Integration


@pytest.fixture
async def prod(tmp_path: Path, oauth1_server: OAuth1Server) -> AsyncIterator[OAuth1App]:  # noqa: F811
    oauth1_server.register_client(CONSUMER_KEY, CONSUMER_SECRET, CALLBACK + "?")
    folder = tmp_path / "catalog"
    write_integration(folder, oauth1_server)
    settings = make_settings(tmp_path, catalog_dir=folder, http_timeout=1.0)
    async with running_app(settings) as lk:
        ws = await new_workspace(lk.services, activate=())
        put = await lk.client.put(
            f"/api/v1/integrations/{SLUG}",
            headers=ws.auth("production"),
            json={"client_id": CONSUMER_KEY, "client_secret": CONSUMER_SECRET, "scopes": ["task_read", "user_profile"]},
        )
        assert put.status_code == 200, put.text
        integration = lk.services.catalog.get(SLUG)
        assert integration is not None
        yield OAuth1App(
            app=lk.app, services=lk.services, client=lk.client, ws=ws, provider=oauth1_server, integration=integration
        )


async def auth_url(lk: OAuth1App, **overrides: Any) -> str:
    body: dict[str, Any] = {
        "integration": SLUG,
        "external_xref": "user-7",
        "scopes": ["task_read"],
        "success_url": SUCCESS_URL,
        "failure_url": FAILURE_URL,
        "state": "xyz",
    }
    body.update(overrides)
    made = await lk.client.post("/api/v1/auth-urls", headers=lk.ws.auth("production"), json=body)
    assert made.status_code == 201, made.text
    url: str = made.json()["data"]["url"]
    return url


async def context_of(lk: OAuth1App, **overrides: Any) -> FlowContext:
    """The flow context the start route would read from the host's auth URL."""
    token = query_of(await auth_url(lk, **overrides))["link"]
    record = await connect_sessions.find_by_token(lk.db, token)
    assert record is not None
    return FlowContext.from_dict(record.context).with_(session_id=record.id)


def provider_redirect(authorize_url: str) -> str:
    """The end-user at the provider: the test server decides at once and redirects back."""
    answer = httpx.get(authorize_url, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def callback_params(url: str) -> dict[str, str]:
    assert url.startswith(CALLBACK + "?"), url
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


async def count(lk: Running, table: sa.Table) -> int:
    n: int = await lk.db.fetch_val(sa.select(sa.func.count()).select_from(table))
    return n


async def nothing_written(lk: OAuth1App) -> bool:
    return lk.provider.requests_to("token") == [] and await count(lk, connections) == 0


# --------------------------------------------------------------------------------------------
# begin / complete, called directly
# --------------------------------------------------------------------------------------------


async def direct_begin(lk: OAuth1App, **overrides: Any) -> tuple[str, str]:
    """(authorize URL, browser secret)."""
    secret = secrets.token_urlsafe(32)
    ctx = await context_of(lk, **overrides)
    url = await dispatch.begin(lk.services, ctx, lk.integration, browser_hash=sha256_hex(secret), variables={})
    return url, secret


async def test_begin_gets_a_request_token_and_builds_the_authorize_url(prod: OAuth1App) -> None:
    url, _ = await direct_begin(prod, scopes=["task_read", "user_profile"])
    assert url.startswith(prod.provider.authorize_url + "?")
    sent = query_of(url)
    assert sent["scope"] == "read,account" and sent["expiration"] == "never"
    [initiate] = prod.provider.records
    assert initiate["endpoint"] == "initiate" and initiate["status"] == 200
    assert initiate["oauth"]["oauth_consumer_key"] == CONSUMER_KEY
    assert initiate["oauth"]["oauth_signature_method"] == "HMAC-SHA1"
    assert initiate["oauth"]["oauth_callback"].startswith(CALLBACK + "?state=")
    state = query_of(initiate["oauth"]["oauth_callback"])["state"]
    assert prod.services.signer.verify_state(state, 600)["k"] == "oauth1"
    # The flow row keeps the request token and its secret sealed, never in plain text.
    [row] = await prod.db.fetch_all(sa.select(flows))
    assert row["pkce_verifier_enc"] and sent["oauth_token"] not in row["pkce_verifier_enc"]
    assert await count(prod, connections) == 0


async def test_complete_stores_the_token_credentials(prod: OAuth1App) -> None:
    url, secret = await direct_begin(prod)
    params = callback_params(provider_redirect(url))
    assert params["oauth_token"] == query_of(url)["oauth_token"] and params["oauth_verifier"]
    outcome = await dispatch.complete(prod.services, prod.integration, params, browser_secret=secret)
    assert outcome.result.ok, outcome.result
    assert outcome.ctx.host_state == "xyz"
    [issued] = prod.provider.issued_tokens()
    row = await prod.db.fetch_one(sa.select(connections))
    assert row is not None
    assert row["id"] == outcome.result.connection_id
    assert issued["oauth_token_secret"] not in row["credentials_enc"]
    assert [r["status"] for r in prod.provider.requests_to("token")] == [200]
    await prod.db.later.write()  # auth.started is written within a moment (server/db/later.py)
    by_time = sa.select(auth_events.c.type).order_by(auth_events.c.created_at, auth_events.c.id)
    assert [r["type"] for r in await prod.db.fetch_all(by_time)] == ["auth.started", "connection.created"]


async def test_complete_without_the_browser_secret_is_untrusted(prod: OAuth1App) -> None:
    url, _ = await direct_begin(prod)
    params = callback_params(provider_redirect(url))
    for browser_secret in (None, secrets.token_urlsafe(32)):
        with pytest.raises(UntrustedFlowError) as caught:
            await dispatch.complete(prod.services, prod.integration, params, browser_secret=browser_secret)
        assert caught.value.code == "wrong_browser"
    assert await nothing_written(prod)


async def test_complete_refuses_an_oauth_token_that_is_not_this_flows(prod: OAuth1App) -> None:
    url, secret = await direct_begin(prod)
    other_url, _ = await direct_begin(prod, external_xref="someone-else")
    mine = callback_params(provider_redirect(url))
    theirs = callback_params(provider_redirect(other_url))
    forged = {**mine, "oauth_token": theirs["oauth_token"], "oauth_verifier": theirs["oauth_verifier"]}
    outcome = await dispatch.complete(prod.services, prod.integration, forged, browser_secret=secret)
    assert outcome.result.error == "invalid_request"
    assert await nothing_written(prod)


async def test_a_wrong_verifier_is_refused_by_the_provider_and_nothing_is_stored(prod: OAuth1App) -> None:
    url, secret = await direct_begin(prod)
    params = callback_params(provider_redirect(url))
    outcome = await dispatch.complete(
        prod.services, prod.integration, {**params, "oauth_verifier": "not-the-verifier"}, browser_secret=secret
    )
    assert outcome.result.error == "provider_error"
    assert outcome.result.error_description is not None and "invalid_request" in outcome.result.error_description
    assert [r["status"] for r in prod.provider.requests_to("token")] == [400]
    assert await count(prod, connections) == 0


async def test_a_state_without_the_oauth1_marker_is_refused(prod: OAuth1App) -> None:
    """An OAuth 2.0-shaped production state (no "k") never reaches the flow row."""
    url, secret = await direct_begin(prod)
    params = callback_params(provider_redirect(url))
    state = prod.services.signer.verify_state(params["state"], 600)
    state.pop("k")
    forged = {**params, "state": prod.services.signer.sign(SALT_STATE, state)}
    with pytest.raises(UntrustedFlowError) as caught:
        await dispatch.complete(prod.services, prod.integration, forged, browser_secret=secret)
    assert caught.value.code == "invalid_state"
    assert await nothing_written(prod) and await prod.db.fetch_val(sa.select(flows.c.consumed_at)) is None


@pytest.mark.parametrize(
    ("mode", "error"), [("status_500", ProviderError), ("unconfirmed", ProviderError), ("json", ProviderError)]
)
async def test_begin_fails_cleanly_when_the_request_token_is_refused(
    prod: OAuth1App, mode: str, error: type[Exception]
) -> None:
    prod.provider.initiate_mode = mode
    with pytest.raises(error):
        await direct_begin(prod)
    assert await count(prod, flows) == 0 and await count(prod, auth_events) == 0
    assert prod.provider.requests_to("authorize") == [] and await nothing_written(prod)


async def test_begin_with_a_wrong_consumer_secret_is_refused_by_the_provider(prod: OAuth1App) -> None:
    await prod.client.put(
        f"/api/v1/integrations/{SLUG}",
        headers=prod.ws.auth("production"),
        json={"client_id": CONSUMER_KEY, "client_secret": "not-the-secret"},
    )
    with pytest.raises(ProviderError) as caught:
        await direct_begin(prod)
    assert "invalid_signature" in caught.value.message
    assert [r["status"] for r in prod.provider.requests_to("initiate")] == [401]
    assert await count(prod, flows) == 0


async def test_begin_with_an_unreachable_provider_is_provider_unavailable(prod: OAuth1App) -> None:
    prod.provider.stop()
    with pytest.raises(ProviderUnavailable):
        await direct_begin(prod)
    assert await count(prod, flows) == 0


@pytest.mark.parametrize(
    ("mode", "code"),
    [("status_500", "provider_error"), ("status_401", "provider_error"), ("no_secret", "provider_error")],
)
async def test_bad_access_token_answers_fail_cleanly(prod: OAuth1App, mode: str, code: str) -> None:
    prod.provider.token_mode = mode
    url, secret = await direct_begin(prod)
    outcome = await dispatch.complete(
        prod.services, prod.integration, callback_params(provider_redirect(url)), browser_secret=secret
    )
    assert outcome.result.error == code
    assert len(prod.provider.requests_to("token")) == 1 and await count(prod, connections) == 0


# --------------------------------------------------------------------------------------------
# Through the browser routes (need the oauth1 dispatch in server/routes/auth.py)
# --------------------------------------------------------------------------------------------


async def start(lk: OAuth1App, **overrides: Any) -> httpx.Response:
    response = await lk.client.get(await auth_url(lk, **overrides))
    assert response.status_code == 302, response.text
    assert response.headers["location"].startswith(lk.provider.authorize_url + "?"), response.headers["location"]
    return response


async def test_success_stores_token_and_secret_and_redirects_with_the_connection_id(prod: OAuth1App) -> None:
    started = await start(prod, scopes=["task_read", "user_profile"])
    assert "latchkey_bind" in started.headers["set-cookie"] and "HttpOnly" in started.headers["set-cookie"]
    assert started.headers["referrer-policy"] == "no-referrer"
    sent = query_of(started.headers["location"])
    assert sent["scope"] == "read,account" and sent["expiration"] == "never"
    back = await prod.client.get(provider_redirect(started.headers["location"]))
    assert back.status_code == 302, back.text
    assert back.headers["location"].startswith(SUCCESS_URL + "?")
    result = query_of(back.headers["location"])
    assert result["state"] == "xyz" and result["integration"] == SLUG
    [issued] = prod.provider.issued_tokens()
    got = await prod.client.get(
        f"/api/v1/connections/{result['connection_id']}?include=credentials", headers=prod.ws.auth("production")
    )
    data = got.json()["data"]
    assert data["credentials"] == {
        "type": "oauth1",
        "oauth_token": issued["oauth_token"],
        "oauth_token_secret": issued["oauth_token_secret"],
    }
    assert data["scopes_granted"] == ["task_read", "user_profile"] and data["provider_scopes"] == ["read", "account"]
    assert data["external_xref"] == "user-7" and data["partial_grant"] is False
    without = await prod.client.get(
        f"/api/v1/connections/{result['connection_id']}", headers=prod.ws.auth("production")
    )
    assert "credentials" not in without.json()["data"]
    assert [r["status"] for r in prod.provider.requests_to("token")] == [200]


@pytest.mark.parametrize("decision", ["deny", "deny_silent"])
async def test_denial_reaches_the_failure_url_and_writes_nothing(prod: OAuth1App, decision: str) -> None:
    prod.provider.decision = decision
    started = await start(prod)
    back = await prod.client.get(provider_redirect(started.headers["location"]))
    assert back.status_code == 302, back.text
    result = query_of(back.headers["location"])
    assert (
        back.headers["location"].startswith(FAILURE_URL)
        and result["error"] == "access_denied"
        and result["state"] == "xyz"
    )
    assert await nothing_written(prod)


async def test_tampered_state_gets_an_error_page_and_no_redirect(prod: OAuth1App) -> None:
    started = await start(prod)
    callback = provider_redirect(started.headers["location"])
    state = callback_params(callback)["state"]
    tampered = callback.replace(state, state[:-3] + ("AAA" if not state.endswith("AAA") else "BBB"))
    back = await prod.client.get(tampered)
    assert back.status_code == 400 and "location" not in back.headers
    assert 'data-error-code="invalid_state"' in back.text
    assert await nothing_written(prod)


async def test_callback_in_another_browser_is_refused_before_any_token_request(prod: OAuth1App) -> None:
    started = await start(prod)
    callback = provider_redirect(started.headers["location"])
    prod.client.cookies.clear()
    back = await prod.client.get(callback)
    assert back.status_code == 400 and "location" not in back.headers
    assert 'data-error-code="wrong_browser"' in back.text
    assert await nothing_written(prod)
    assert await prod.db.fetch_val(sa.select(flows.c.consumed_at)) is None


async def test_replayed_callback_is_state_reused(prod: OAuth1App) -> None:
    started = await start(prod)
    callback = provider_redirect(started.headers["location"])
    first = await prod.client.get(callback)
    assert first.status_code == 302 and first.headers["location"].startswith(SUCCESS_URL)
    again = await prod.client.get(callback)
    assert again.status_code == 400 and 'data-error-code="state_reused"' in again.text
    assert len(prod.provider.requests_to("token")) == 1 and await count(prod, connections) == 1


async def test_concurrent_double_callback_makes_exactly_one_connection(prod: OAuth1App) -> None:
    started = await start(prod)
    callback = provider_redirect(started.headers["location"])
    first, second = await asyncio.gather(prod.client.get(callback), prod.client.get(callback))
    assert sorted([first.status_code, second.status_code]) == [302, 400]
    assert len(prod.provider.requests_to("token")) == 1 and await count(prod, connections) == 1


async def test_an_oauth_token_of_another_flow_is_refused_and_nothing_is_written(prod: OAuth1App) -> None:
    mine = callback_params(provider_redirect((await start(prod)).headers["location"]))
    theirs = callback_params(provider_redirect((await start(prod, external_xref="attacker")).headers["location"]))
    forged = f"{CALLBACK}?state={mine['state']}&oauth_token={theirs['oauth_token']}&oauth_verifier={theirs['oauth_verifier']}"
    back = await prod.client.get(forged)
    assert back.status_code == 302 and back.headers["location"].startswith(FAILURE_URL)
    assert query_of(back.headers["location"])["error"] == "invalid_request"
    assert await nothing_written(prod)


async def test_provider_500_at_initiate_delivers_the_failure_and_writes_nothing(prod: OAuth1App) -> None:
    prod.provider.initiate_mode = "status_500"
    response = await prod.client.get(await auth_url(prod))
    assert response.status_code == 302 and response.headers["location"].startswith(FAILURE_URL)
    result = query_of(response.headers["location"])
    assert result["error"] == "provider_error" and result["state"] == "xyz"
    assert [r["status"] for r in prod.provider.requests_to("initiate")] == [500]
    assert prod.provider.requests_to("authorize") == [] and await count(prod, flows) == 0
    assert await nothing_written(prod)


async def test_the_sandbox_still_simulates_oauth1_integrations_with_oauth2(prod: OAuth1App) -> None:
    """Sandbox flows of an OAuth 1.0a integration go through the simulated OAuth 2.0 provider."""
    await prod.client.put(
        f"/api/v1/integrations/{SLUG}", headers=prod.ws.auth("sandbox"), json={"scopes": ["task_read"]}
    )
    made = await prod.client.post(
        "/api/v1/auth-urls",
        headers=prod.ws.auth("sandbox"),
        json={"integration": SLUG, "external_xref": "user-9", "success_url": SUCCESS_URL, "failure_url": FAILURE_URL},
    )
    assert made.status_code == 201, made.text
    started = await prod.client.get(made.json()["data"]["url"])
    assert started.status_code == 302 and started.headers["location"].startswith(f"{BASE_URL}/sandbox/"), (
        started.headers.get("location")
    )
    consent = await prod.client.get(started.headers["location"])
    request_token = consent.text.split('name="request" value="', 1)[1].split('"', 1)[0]
    decided = await prod.client.post("/sandbox/oauth/decide", data={"request": request_token, "decision": "approve"})
    back = await prod.client.get(decided.headers["location"])
    assert back.status_code == 302 and back.headers["location"].startswith(SUCCESS_URL), back.text
    assert prod.provider.records == []
