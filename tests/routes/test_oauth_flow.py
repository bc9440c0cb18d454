"""The OAuth 2.0 dance against a real authorization server on loopback (Authlib, real HTTP).

Each negative test checks that the bad request changed nothing: no token request reached the
provider where none should, and no connection row was written.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from server.db.clock import utcnow
from server.db.tables import connections, flows
from server.flow import pkce
from server.signing import SALT_STATE
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

CLIENT_ID = "latchkey-client"
CLIENT_SECRET = "s3cret-of-the-latchkey-client"


def write_integration(folder: Path, server: OAuthServer, slug: str = "acme", **auth_overrides: Any) -> None:
    auth = {
        "kind": "oauth2",
        "authorize_url": server.authorize_url,
        "token_url": server.token_url,
        "issuer": server.issuer,
        "token_auth_method": "client_secret_basic",
        "pkce": True,
        "scope_separator": " ",
        **auth_overrides,
    }
    spec = {
        "slug": slug,
        "name": "Acme CRM",
        "categories": ["crm"],
        "docs": "https://acme.example/docs",
        "auth": auth,
        "scopes": {
            "crm_contact_read": ["contacts.read"],
            "crm_deal_read": ["deals.read"],
            "user_profile": ["openid", "email"],
        },
    }
    folder.mkdir(exist_ok=True)
    (folder / f"{slug}.json").write_text(json.dumps(spec))


@pytest.fixture
async def prod(tmp_path: Path, oauth_server: OAuthServer) -> AsyncIterator[Provisioned]:
    oauth_server.register_client(CLIENT_ID, CLIENT_SECRET, [f"{BASE_URL}/auth/acme/callback"])
    folder = tmp_path / "catalog"
    write_integration(folder, oauth_server)
    settings = make_settings(tmp_path, catalog_dir=folder, http_timeout=1.0)
    async with running_app(settings) as lk:
        ws = await new_workspace(lk.services, activate=())
        put = await lk.client.put(
            "/api/v1/integrations/acme",
            headers=ws.auth("production"),
            json={
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "scopes": ["crm_contact_read", "crm_deal_read", "user_profile"],
            },
        )
        assert put.status_code == 200, put.text
        yield Provisioned.of(lk, ws, oauth_server)


async def auth_url(lk: Provisioned, **overrides: Any) -> str:
    body: dict[str, Any] = {
        "integration": "acme",
        "external_xref": "user-7",
        "scopes": ["crm_contact_read"],
        "success_url": SUCCESS_URL,
        "failure_url": FAILURE_URL,
        "state": "xyz",
    }
    body.update(overrides)
    made = await lk.client.post("/api/v1/auth-urls", headers=lk.ws.auth("production"), json=body)
    assert made.status_code == 201, made.text
    url: str = made.json()["data"]["url"]
    return url


async def start(lk: Provisioned, **overrides: Any) -> httpx.Response:
    response = await lk.client.get(await auth_url(lk, **overrides))
    assert response.status_code == 302, response.text
    return response


def provider_redirect(authorize_url: str) -> str:
    """The end-user at the provider: the test server decides at once and redirects back."""
    answer = httpx.get(authorize_url, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


async def connection_count(lk: Running) -> int:
    n: int = await lk.db.fetch_val(sa.select(sa.func.count()).select_from(connections))
    return n


async def test_success_stores_connection_and_redirects_with_its_id(prod: Provisioned) -> None:
    started = await start(prod)
    sent = query_of(started.headers["location"])
    assert sent["code_challenge_method"] == "S256" and len(sent["code_challenge"]) == 43
    assert sent["redirect_uri"] == f"{BASE_URL}/auth/acme/callback" and sent["scope"] == "contacts.read"
    assert "latchkey_bind" in started.headers["set-cookie"] and "HttpOnly" in started.headers["set-cookie"]
    back = await prod.client.get(provider_redirect(started.headers["location"]))
    assert back.status_code == 302, back.text
    assert back.headers["location"].startswith(SUCCESS_URL + "?")
    result = query_of(back.headers["location"])
    assert result["state"] == "xyz"
    [token_request] = prod.oauth.token_requests
    assert token_request["code_verifier_present"] and token_request["auth_method"] == "client_secret_basic"
    assert token_request["status"] == 200
    got = await prod.client.get(
        f"/api/v1/connections/{result['connection_id']}?include=credentials", headers=prod.ws.auth("production")
    )
    data = got.json()["data"]
    assert data["credentials"]["access_token"] in prod.oauth.issued_access_tokens()
    assert data["scopes_granted"] == ["crm_contact_read"] and data["provider_scopes"] == ["contacts.read"]
    without = await prod.client.get(
        f"/api/v1/connections/{result['connection_id']}", headers=prod.ws.auth("production")
    )
    assert "credentials" not in without.json()["data"]


async def test_access_denied_reaches_failure_url_and_writes_nothing(prod: Provisioned) -> None:
    prod.oauth.decision = "deny"
    started = await start(prod)
    back = await prod.client.get(provider_redirect(started.headers["location"]))
    assert back.status_code == 302
    result = query_of(back.headers["location"])
    assert (
        back.headers["location"].startswith(FAILURE_URL)
        and result["error"] == "access_denied"
        and result["state"] == "xyz"
    )
    assert prod.oauth.token_requests == [] and await connection_count(prod) == 0


async def test_tampered_state_gets_an_error_page_and_no_redirect(prod: Provisioned) -> None:
    started = await start(prod)
    callback = provider_redirect(started.headers["location"])
    state = query_of(callback)["state"]
    tampered = callback.replace(state, state[:-3] + ("AAA" if not state.endswith("AAA") else "BBB"))
    back = await prod.client.get(tampered)
    assert back.status_code == 400 and "location" not in back.headers
    assert 'data-error-code="invalid_state"' in back.text
    assert prod.oauth.token_requests == [] and await connection_count(prod) == 0


async def test_expired_state_is_rejected(tmp_path: Path, oauth_server: OAuthServer) -> None:
    oauth_server.register_client(CLIENT_ID, CLIENT_SECRET, [f"{BASE_URL}/auth/acme/callback"])
    folder = tmp_path / "catalog"
    write_integration(folder, oauth_server)
    async with running_app(make_settings(tmp_path, catalog_dir=folder, state_max_age=1)) as running:
        lk = Provisioned.of(running, await new_workspace(running.services, activate=()), oauth_server)
        await lk.client.put(
            "/api/v1/integrations/acme",
            headers=lk.ws.auth("production"),
            json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        )
        started = await start(lk)
        callback = provider_redirect(started.headers["location"])
        await asyncio.sleep(2.1)
        back = await lk.client.get(callback)
        assert back.status_code == 400 and 'data-error-code="expired_state"' in back.text
        assert oauth_server.token_requests == [] and await connection_count(lk) == 0


async def test_replayed_state_is_rejected(prod: Provisioned) -> None:
    started = await start(prod)
    callback = provider_redirect(started.headers["location"])
    first = await prod.client.get(callback)
    assert first.status_code == 302 and first.headers["location"].startswith(SUCCESS_URL)
    again = await prod.client.get(callback)
    assert again.status_code == 400 and 'data-error-code="state_reused"' in again.text
    assert len(prod.oauth.token_requests) == 1 and await connection_count(prod) == 1


async def test_state_of_another_integration_is_rejected(
    prod: Provisioned, oauth_server: OAuthServer, tmp_path: Path
) -> None:
    started = await start(prod)
    callback = provider_redirect(started.headers["location"])
    foreign = callback.replace("/auth/acme/callback", "/auth/sandbox/callback")
    back = await prod.client.get(foreign)
    assert back.status_code == 400 and 'data-error-code="invalid_state"' in back.text
    assert prod.oauth.token_requests == [] and await connection_count(prod) == 0


async def test_state_from_another_workspace_cannot_carry_its_code(prod: Provisioned) -> None:
    """A code issued for workspace B's flow, pasted behind workspace A's state: nothing is written."""
    other = await new_workspace(prod.services, activate=())
    prod.oauth.register_client("other-client", "other-secret-000", [f"{BASE_URL}/auth/acme/callback"])
    await prod.client.put(
        "/api/v1/integrations/acme",
        headers=other.auth("production"),
        json={"client_id": "other-client", "client_secret": "other-secret-000"},
    )
    mine = provider_redirect((await start(prod)).headers["location"])
    made = await prod.client.post(
        "/api/v1/auth-urls",
        headers=other.auth("production"),
        json={
            "integration": "acme",
            "external_xref": "attacker",
            "success_url": SUCCESS_URL,
            "failure_url": FAILURE_URL,
        },
    )
    theirs = provider_redirect((await prod.client.get(made.json()["data"]["url"])).headers["location"])
    forged = f"{BASE_URL}/auth/acme/callback?code={query_of(theirs)['code']}&state={query_of(mine)['state']}&iss={query_of(mine)['iss']}"
    back = await prod.client.get(forged)
    assert back.status_code == 302 and query_of(back.headers["location"])["error"] == "provider_error"
    assert [r["status"] for r in prod.oauth.token_requests] == [400]
    assert await connection_count(prod) == 0


async def test_callback_in_another_browser_is_refused_before_any_token_request(prod: Provisioned) -> None:
    started = await start(prod)
    callback = provider_redirect(started.headers["location"])
    prod.client.cookies.clear()
    back = await prod.client.get(callback)
    assert back.status_code == 400 and 'data-error-code="wrong_browser"' in back.text
    prod.client.cookies.set("latchkey_bind", "x" * 43, domain="latchkey.test")
    again = await prod.client.get(callback)
    assert 'data-error-code="wrong_browser"' in again.text
    assert prod.oauth.token_requests == [] and await connection_count(prod) == 0


def signed_state(lk: Provisioned, authorize_url: str) -> dict[str, Any]:
    payload: dict[str, Any] = lk.services.signer.verify_state(query_of(authorize_url)["state"], 600)
    return payload


async def test_a_start_stores_nothing_and_seals_the_pkce_verifier_into_the_state(prod: Provisioned) -> None:
    started = await start(prod)
    location = started.headers["location"]
    assert await prod.db.fetch_val(sa.select(sa.func.count()).select_from(flows)) == 0
    state = signed_state(prod, location)
    verifier = prod.services.sealer.open(state["s"], f"flow:{state['n']}:pkce_verifier").decode()
    assert verifier not in location and len(verifier) >= 43
    assert query_of(location)["code_challenge"] == pkce.s256_challenge(verifier)
    back = await prod.client.get(provider_redirect(location))
    assert back.headers["location"].startswith(SUCCESS_URL)
    # The authorization server checks the verifier against the challenge (RFC 7636 §4.6).
    assert [(r["status"], r["code_verifier_present"]) for r in prod.oauth.token_requests] == [(200, True)]
    [row] = await prod.db.fetch_all(sa.select(flows))
    assert row["nonce"] == state["n"] and row["consumed_at"] is not None and row["pkce_verifier_enc"] is None


async def test_a_verifier_sealed_for_another_flow_does_not_open(prod: Provisioned) -> None:
    started = await start(prod)
    state = signed_state(prod, started.headers["location"])
    other = prod.services.sealer.seal(b"v" * 43, "flow:another-nonce:pkce_verifier")
    moved = prod.services.signer.sign(SALT_STATE, {**state, "s": other})
    callback = provider_redirect(started.headers["location"]).replace(
        query_of(started.headers["location"])["state"], moved
    )
    back = await prod.client.get(callback)
    assert back.status_code == 400 and 'data-error-code="invalid_state"' in back.text
    assert prod.oauth.token_requests == [] and await connection_count(prod) == 0


async def test_a_flow_row_written_at_start_by_an_earlier_version_is_consumed_and_its_verifier_used(
    prod: Provisioned,
) -> None:
    started = await start(prod)
    nonce = signed_state(prod, started.headers["location"])["n"]
    # What an earlier version stored at start; here a verifier that does not match the challenge,
    # so the authorization server, which checks it, refuses the code: the row's verifier was sent.
    await prod.db.insert(
        flows,
        {
            "nonce": nonce,
            "workspace_id": prod.ws.id,
            "environment": "production",
            "integration": "acme",
            "pkce_verifier_enc": prod.services.sealer.seal(
                b"a-different-verifier-" + b"x" * 40, f"flow:{nonce}:pkce_verifier"
            ),
            "created_at": utcnow(),
            "expires_at": utcnow() + timedelta(minutes=10),
        },
    )
    callback = provider_redirect(started.headers["location"])
    back = await prod.client.get(callback)
    result = query_of(back.headers["location"])
    assert result["error"] == "provider_error" and "invalid_grant" in result["error_description"]
    assert [r["status"] for r in prod.oauth.token_requests] == [400]
    assert await connection_count(prod) == 0
    again = await prod.client.get(callback)
    assert 'data-error-code="state_reused"' in again.text and len(prod.oauth.token_requests) == 1


@pytest.mark.parametrize(
    ("mode", "code"),
    [
        ("status_500", "provider_error"),
        ("html", "provider_error"),
        ("no_access_token", "provider_error"),
        ("invalid_grant", "provider_error"),
        ("hang", "provider_unavailable"),
        ("negative_expires_in", "provider_error"),
        ("mac_token_type", "provider_error"),
        ("not_utf8", "provider_error"),
    ],
)
async def test_bad_token_endpoint_answers_fail_cleanly(prod: Provisioned, mode: str, code: str) -> None:
    prod.oauth.token_mode = mode
    prod.oauth.hang_seconds = 5
    started = await start(prod)
    back = await prod.client.get(provider_redirect(started.headers["location"]))
    assert back.status_code == 302
    result = query_of(back.headers["location"])
    assert back.headers["location"].startswith(FAILURE_URL) and result["error"] == code
    assert len(prod.oauth.token_requests) == 1 and await connection_count(prod) == 0


async def test_form_encoded_token_response_is_read(prod: Provisioned) -> None:
    prod.oauth.token_mode = "form_encoded"
    started = await start(prod)
    back = await prod.client.get(provider_redirect(started.headers["location"]))
    assert back.headers["location"].startswith(SUCCESS_URL)
    assert await connection_count(prod) == 1


async def test_issuer_mismatch_is_refused_before_the_token_request(prod: Provisioned) -> None:
    started = await start(prod)
    callback = provider_redirect(started.headers["location"])
    forged = callback.replace(
        f"iss={query_of(callback)['iss'].replace(':', '%3A').replace('/', '%2F')}", "iss=https%3A%2F%2Fevil.example"
    )
    assert forged != callback
    back = await prod.client.get(forged)
    assert query_of(back.headers["location"])["error"] == "issuer_mismatch"
    assert prod.oauth.token_requests == [] and await connection_count(prod) == 0


async def test_redirect_url_off_the_allowlist_is_refused_at_creation(prod: Provisioned) -> None:
    made = await prod.client.post(
        "/api/v1/auth-urls",
        headers=prod.ws.auth("production"),
        json={
            "integration": "acme",
            "external_xref": "u",
            "success_url": "http://host.test.evil.example/connected",
            "failure_url": FAILURE_URL,
        },
    )
    assert made.status_code == 400 and made.json()["error"]["code"] == "redirect_not_allowed"


async def test_redirect_url_removed_from_allowlist_mid_flow_gets_an_error_page(prod: Provisioned) -> None:
    started = await start(prod)
    callback = provider_redirect(started.headers["location"])
    await prod.client.patch(
        "/api/v1/environment", headers=prod.ws.auth("production"), json={"allowed_redirect_urls": []}
    )
    back = await prod.client.get(callback)
    assert back.status_code == 400 and "location" not in back.headers
    assert 'data-error-code="redirect_not_allowed"' in back.text


async def test_concurrent_double_callback_makes_exactly_one_connection(prod: Provisioned) -> None:
    started = await start(prod)
    callback = provider_redirect(started.headers["location"])
    first, second = await asyncio.gather(prod.client.get(callback), prod.client.get(callback))
    statuses = sorted([first.status_code, second.status_code])
    assert statuses == [302, 400]
    assert len(prod.oauth.token_requests) == 1 and await connection_count(prod) == 1


async def test_reauthorizing_the_same_user_updates_the_same_connection(prod: Provisioned) -> None:
    ids = []
    for _ in range(2):
        started = await start(prod)
        back = await prod.client.get(provider_redirect(started.headers["location"]))
        ids.append(query_of(back.headers["location"])["connection_id"])
    assert ids[0] == ids[1] and await connection_count(prod) == 1
    got = await prod.client.get(f"/api/v1/connections/{ids[0]}?include=credentials", headers=prod.ws.auth("production"))
    assert got.json()["data"]["credentials"]["access_token"] == prod.oauth.issued_access_tokens()[-1]


async def test_scope_the_integration_cannot_grant_fails_with_invalid_scope(prod: Provisioned) -> None:
    made = await prod.client.post(
        "/api/v1/auth-urls",
        headers=prod.ws.auth("production"),
        json={
            "integration": "acme",
            "external_xref": "u",
            "scopes": ["repo_read"],
            "success_url": SUCCESS_URL,
            "failure_url": FAILURE_URL,
        },
    )
    assert made.status_code == 201
    started = await prod.client.get(made.json()["data"]["url"])
    assert started.status_code == 302
    result = query_of(started.headers["location"])
    assert started.headers["location"].startswith(FAILURE_URL) and result["error"] == "invalid_scope"
    assert "repo_read" in result["error_description"]


async def test_state_signed_with_our_key_but_forged_payload_binding_no_browser_is_not_accepted(
    prod: Provisioned,
) -> None:
    forged = prod.services.signer.sign(SALT_STATE, {"n": "no-such-flow", "i": "acme", "b": "0" * 64, "c": {}})
    back = await prod.client.get(f"/auth/acme/callback?code=abc&state={forged}")
    assert back.status_code == 400 and prod.oauth.token_requests == []


async def test_a_callback_repeating_its_state_is_refused_without_consuming_the_flow(prod: Provisioned) -> None:
    started = await start(prod)
    callback = provider_redirect(started.headers["location"])
    doubled = f"{callback}&state={query_of(callback)['state']}"
    back = await prod.client.get(doubled)
    assert back.status_code == 400 and "location" not in back.headers
    assert 'data-error-code="invalid_request"' in back.text
    assert prod.oauth.token_requests == [] and await connection_count(prod) == 0
    consumed = await prod.db.fetch_val(
        sa.select(sa.func.count()).select_from(flows).where(flows.c.consumed_at.is_not(None))
    )
    assert consumed == 0
    genuine = await prod.client.get(callback)
    assert genuine.status_code == 302 and genuine.headers["location"].startswith(SUCCESS_URL)


@pytest.mark.parametrize("param", ["code", "iss", "error"])
async def test_a_callback_repeating_code_iss_or_error_fails_before_the_token_request(
    prod: Provisioned, param: str
) -> None:
    started = await start(prod)
    callback = provider_redirect(started.headers["location"])
    values = query_of(callback)
    doubled = f"{callback}&{param}={values.get(param, 'server_error')}"
    if param == "error":
        doubled = f"{callback}&error=server_error&error=server_error"
    back = await prod.client.get(doubled)
    assert back.status_code == 302 and back.headers["location"].startswith(FAILURE_URL)
    assert query_of(back.headers["location"])["error"] == "invalid_request"
    assert prod.oauth.token_requests == [] and await connection_count(prod) == 0
    replayed = await prod.client.get(callback)
    assert 'data-error-code="state_reused"' in replayed.text and prod.oauth.token_requests == []
