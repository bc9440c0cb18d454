"""Passthrough against real HTTP servers on loopback: the Authlib test server's protected resource
(Bearer, refresh on 401, rotation), an API-key resource, an OAuth 1.0a resource, and a hostile
upstream (a redirect, a huge body, a slow drip, a hang, cookies). Path escapes and other tenants'
connection IDs are refused before any request leaves."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from server.db import connections as connection_store
from server.db import events as event_store
from server.db.clock import utcnow
from server.db.connections import NewConnection, load_refresh_state, store_refreshed
from server.db.tables import connections
from server.sandbox.tokens import account_of_access_token, mint_access_token
from server.settings import Settings
from tests.harness import BASE_URL, Provisioned, Running, Workspace, new_workspace, running_app
from tests.lifecycle.support import (
    CLIENT_ID,
    CLIENT_SECRET,
    activate_acme,
    connect,
    connection_row,
    lifecycle_settings,
    refresh_requests,
    write_integration,
)
from tests.support.oauth_server import OAuthServer
from tests.support.upstream import API_KEY, Upstream


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream().start()
    yield server
    server.stop()


def api_key_entry(slug: str, base_url: str, **api: Any) -> dict[str, Any]:
    return {
        "slug": slug,
        "name": slug.capitalize(),
        "categories": ["crm"],
        "docs": "https://upstream.example/docs",
        "auth": {"kind": "api_key", "fields": [{"name": "api_key", "label": "API key", "secret": True}]},
        "api": {"base_url": base_url, "source": "https://upstream.example/api", **api},
        "scopes": {"crm_contact_read": []},
    }


def write_catalog(folder: Path, oauth: OAuthServer, upstream: Upstream) -> None:
    """acme: OAuth at the test server, its API there too; rival: OAuth there, its API on the upstream;
    hostile / keyed / queried: API keys for the upstream."""
    write_integration(folder, oauth, "acme")
    write_integration(folder, oauth, "rival")
    for slug, base in (("acme", oauth.issuer), ("rival", f"{upstream.url}/v1")):
        path = folder / f"{slug}.json"
        spec = json.loads(path.read_text())
        spec["api"] = {"base_url": base, "source": "https://acme.example/api"}
        path.write_text(json.dumps(spec))
    entries = [
        api_key_entry("hostile", f"{upstream.url}/v1", auth="bearer", token="{api_key}"),
        api_key_entry("keyed", f"{upstream.url}/v1", auth="header", name="X-Api-Key", value="{api_key}"),
        api_key_entry("queried", f"{upstream.url}/v1", auth="query", name="api_key", value="{api_key}"),
        {**api_key_entry("bare", f"{upstream.url}/v1", auth="bearer"), "api": None},
    ]
    for entry in entries:
        if entry["api"] is None:
            del entry["api"]
        (folder / f"{entry['slug']}.json").write_text(json.dumps(entry))


def passthrough_settings(tmp_path: Path, oauth: OAuthServer, upstream: Upstream, **overrides: Any) -> Settings:
    oauth.register_client(CLIENT_ID, CLIENT_SECRET, [f"{BASE_URL}/auth/{slug}/callback" for slug in ("acme", "rival")])
    folder = tmp_path / "catalog"
    folder.mkdir(exist_ok=True)
    write_catalog(folder, oauth, upstream)
    return lifecycle_settings(tmp_path, catalog_dir=folder, **overrides)


async def keyed_connection(lk: Running, ws: Workspace, slug: str, api_key: str = API_KEY, xref: str = "u-1") -> str:
    saved = await connection_store.save_connection(
        lk.db,
        lk.services.sealer,
        NewConnection(
            workspace_id=ws.id,
            environment="production",
            integration=slug,
            external_xref=xref,
            credentials={"type": "api_key", "fields": {"api_key": api_key}},
        ),
    )
    return saved.connection.id


@pytest.fixture
async def lk(tmp_path: Path, oauth_server: OAuthServer, upstream: Upstream) -> AsyncIterator[Provisioned]:
    async with running_app(passthrough_settings(tmp_path, oauth_server, upstream, passthrough_timeout=2.0)) as app:
        ws = await new_workspace(app.services, activate=())
        await activate_acme(app, ws, "acme")
        await activate_acme(app, ws, "rival")
        yield Provisioned.of(app, ws, oauth_server)


def through(connection_id: str, path: str) -> str:
    return f"/api/v1/passthrough/{connection_id}/{path}"


# ---- OAuth 2.0: the Authlib server's protected resource -----------------------------------------


async def test_a_call_reaches_the_protected_resource_with_the_connection_token_and_comes_back_as_is(
    lk: Provisioned,
) -> None:
    connection_id = await connect(lk, lk.ws)
    answer = await lk.client.get(through(connection_id, "userinfo"), headers=lk.ws.auth("production"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["sub"] and "email" in answer.json()
    assert answer.headers["latchkey-connection-id"] == connection_id
    assert answer.headers["latchkey-integration"] == "acme"
    assert answer.headers["content-type"].startswith("application/json")


async def test_unifieds_route_shape_answers_the_same(lk: Provisioned) -> None:
    connection_id = await connect(lk, lk.ws)
    answer = await lk.client.get(f"/passthrough/{connection_id}/userinfo", headers=lk.ws.auth("production"))
    assert answer.status_code == 200 and answer.json()["sub"]
    refused = await lk.client.get(f"/passthrough/{connection_id}/userinfo")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"


async def test_a_401_gets_one_refresh_and_one_retry_and_the_host_sees_the_fresh_answer(lk: Provisioned) -> None:
    connection_id = await connect(lk, lk.ws)
    before = dict(await connection_row(lk, connection_id))
    lk.oauth.expire_access_tokens()  # the provider refuses the token Latchkey still thinks valid
    answer = await lk.client.get(through(connection_id, "userinfo"), headers=lk.ws.auth("production"))
    assert answer.status_code == 200, answer.text
    assert len(refresh_requests(lk.oauth)) == 1
    after = dict(await connection_row(lk, connection_id))
    assert after["credentials_enc"] != before["credentials_enc"] and after["status"] == "healthy"


async def test_twenty_concurrent_calls_refused_at_once_share_one_refresh(lk: Provisioned) -> None:
    connection_id = await connect(lk, lk.ws)
    lk.oauth.expire_access_tokens()
    answers = await asyncio.gather(
        *(lk.client.get(through(connection_id, "userinfo"), headers=lk.ws.auth("production")) for _ in range(20))
    )
    assert [a.status_code for a in answers] == [200] * 20
    assert len(refresh_requests(lk.oauth)) == 1


async def test_a_rotated_refresh_token_is_kept_for_the_next_refresh(tmp_path: Path, upstream: Upstream) -> None:
    with OAuthServer(rotate_refresh_tokens=True) as oauth:
        async with running_app(passthrough_settings(tmp_path, oauth, upstream)) as app:
            ws = await new_workspace(app.services, activate=())
            await activate_acme(app, ws)
            connection_id = await connect(app, ws)
            for _ in range(2):
                oauth.expire_access_tokens()
                answer = await app.client.get(through(connection_id, "userinfo"), headers=ws.auth("production"))
                assert answer.status_code == 200, answer.text
            sent = [r["form"]["refresh_token"] for r in refresh_requests(oauth)]
            assert len(sent) == 2 and sent[0] != sent[1]  # the second refresh used the rotated token


async def test_a_second_401_after_the_refresh_makes_the_connection_unhealthy_with_its_event(
    lk: Provisioned, upstream: Upstream
) -> None:
    connection_id = await connect(lk, lk.ws, integration="rival")
    answer = await lk.client.get(through(connection_id, "refuse"), headers=lk.ws.auth("production"))
    assert answer.status_code == 401
    assert "www-authenticate" not in answer.headers  # the provider's challenge stays with Latchkey
    assert len(upstream.requests_to("refuse")) == 2 and len(refresh_requests(lk.oauth)) == 1
    row = await connection_row(lk, connection_id)
    assert row["status"] == "unhealthy" and "refused the access token" in row["status_reason"]
    events = await event_store.list_events(
        lk.db, lk.ws.id, "production", connection_id=connection_id, types=("connection.unhealthy",)
    )
    assert len(events) == 1 and events[0]["error_code"] == "provider_error"


async def test_a_post_whose_body_was_sent_is_not_retried_after_a_401(lk: Provisioned, upstream: Upstream) -> None:
    connection_id = await connect(lk, lk.ws, integration="rival")
    answer = await lk.client.post(
        through(connection_id, "refuse"), headers=lk.ws.auth("production"), json={"name": "Ada"}
    )
    assert answer.status_code == 401 and answer.json() == {"error": "invalid_token"}
    assert len(upstream.requests_to("refuse")) == 1 and refresh_requests(lk.oauth) == []
    assert (await connection_row(lk, connection_id))["status"] == "healthy"


# ---- What crosses, and what does not ------------------------------------------------------------


async def test_the_hosts_credentials_cookies_and_hop_by_hop_headers_never_reach_the_provider(
    lk: Provisioned, upstream: Upstream
) -> None:
    connection_id = await keyed_connection(lk, lk.ws, "hostile")
    headers = {
        **lk.ws.auth("production"),
        "Cookie": "lk_session=host-secret",
        "X-Forwarded-For": "203.0.113.9",
        "Connection": "X-Hop",
        "X-Hop": "hop-by-hop",
        "X-Trace": "trace-7",
        "Latchkey-Anything": "ours",
    }
    answer = await lk.client.get(through(connection_id, "contacts?limit=2&q=a%20b"), headers=headers)
    assert answer.status_code == 200, answer.text
    (seen,) = upstream.seen
    assert seen.raw_path == "/v1/contacts?limit=2&q=a%20b"  # path and query as the host sent them
    assert seen.headers["authorization"] == f"Bearer {API_KEY}"  # the connection's, not the host's key
    assert seen.headers["x-trace"] == "trace-7"
    for absent in ("cookie", "x-forwarded-for", "x-hop", "latchkey-anything"):
        assert absent not in seen.headers
    assert lk.ws.production_key not in json.dumps(seen.headers)


async def test_cookies_and_auth_challenges_never_come_back_but_paging_and_rate_headers_do(
    lk: Provisioned,
) -> None:
    connection_id = await keyed_connection(lk, lk.ws, "hostile")
    answer = await lk.client.get(through(connection_id, "cookie"), headers=lk.ws.auth("production"))
    assert answer.status_code == 200
    for absent in ("set-cookie", "www-authenticate", "strict-transport-security", "access-control-allow-origin"):
        assert absent not in answer.headers
    assert answer.headers["x-ratelimit-remaining"] == "41" and 'rel="next"' in answer.headers["link"]


async def test_a_redirect_comes_back_as_it_is_and_is_not_followed(lk: Provisioned, upstream: Upstream) -> None:
    connection_id = await keyed_connection(lk, lk.ws, "hostile")
    answer = await lk.client.get(through(connection_id, "redirect"), headers=lk.ws.auth("production"))
    assert answer.status_code == 302 and answer.headers["location"] == "http://127.0.0.2:9/elsewhere"
    assert len(upstream.seen) == 1


async def test_the_providers_429_and_retry_after_come_back_unchanged(lk: Provisioned) -> None:
    connection_id = await keyed_connection(lk, lk.ws, "hostile")
    answer = await lk.client.get(through(connection_id, "limited"), headers=lk.ws.auth("production"))
    assert answer.status_code == 429 and answer.headers["retry-after"] == "7"
    assert answer.json() == {"error": "slow down"}


async def test_an_api_key_goes_in_the_header_or_the_query_parameter_the_catalog_names(
    lk: Provisioned, upstream: Upstream
) -> None:
    keyed = await keyed_connection(lk, lk.ws, "keyed")
    queried = await keyed_connection(lk, lk.ws, "queried")
    by_header = await lk.client.get(through(keyed, "key"), headers=lk.ws.auth("production"))
    assert by_header.status_code == 200, by_header.text
    # The host's own api_key parameter is dropped: it cannot swap the connection's key for another.
    by_query = await lk.client.get(through(queried, "key?api_key=forged&page=2"), headers=lk.ws.auth("production"))
    assert by_query.status_code == 200, by_query.text
    assert by_query.json()["query"] == {"page": ["2"], "api_key": [API_KEY]}
    wrong = await keyed_connection(lk, lk.ws, "keyed", api_key="wrong", xref="u-2")
    refused = await lk.client.get(through(wrong, "key"), headers=lk.ws.auth("production"))
    assert refused.status_code == 401 and "www-authenticate" not in refused.headers
    assert (await connection_row(lk, wrong))["status"] == "healthy"  # a key cannot be refreshed: just relayed


async def test_an_integration_without_an_api_block_answers_409(lk: Provisioned, upstream: Upstream) -> None:
    connection_id = await keyed_connection(lk, lk.ws, "bare")
    answer = await lk.client.get(through(connection_id, "contacts"), headers=lk.ws.auth("production"))
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "conflict"
    assert upstream.seen == []


async def test_other_environments_and_workspaces_connection_ids_are_404_and_reach_no_one(
    lk: Provisioned, upstream: Upstream
) -> None:
    connection_id = await keyed_connection(lk, lk.ws, "hostile")
    other = await new_workspace(lk.services, activate=())
    for headers in (lk.ws.auth("sandbox"), other.auth("production")):
        answer = await lk.client.get(through(connection_id, "contacts"), headers=headers)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    assert upstream.seen == []


@pytest.mark.parametrize(
    "path",
    ["%2e%2e/admin", "a/%2E%2E/b", "a/%252e%252e/b", "%2F%2Fevil.example/x", "a%5Cb", "a%40evil.example", "a/%2e/b"],
)
async def test_an_encoded_path_escape_is_refused_400_before_any_request(
    lk: Provisioned, upstream: Upstream, path: str
) -> None:
    connection_id = await keyed_connection(lk, lk.ws, "hostile")
    answer = await lk.client.get(through(connection_id, path), headers=lk.ws.auth("production"))
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_request"
    assert upstream.seen == []


async def test_a_request_body_over_the_cap_is_refused_413_and_reaches_no_one(
    tmp_path: Path, oauth_server: OAuthServer, upstream: Upstream
) -> None:
    settings = passthrough_settings(tmp_path, oauth_server, upstream, passthrough_max_request_bytes=1000)
    async with running_app(settings) as app:
        ws = await new_workspace(app.services, activate=())
        connection_id = await keyed_connection(app, ws, "hostile")
        answer = await app.client.post(
            through(connection_id, "upload"), headers=ws.auth("production"), content=b"x" * 1001
        )
        assert answer.status_code == 413 and answer.json()["error"]["code"] == "payload_too_large"
        within = await app.client.post(
            through(connection_id, "upload"), headers=ws.auth("production"), content=b"x" * 1000
        )
        assert within.status_code == 201 and within.json()["size"] == 1000
    assert len(upstream.seen) == 1


async def test_a_declared_answer_over_the_cap_is_a_502(
    tmp_path: Path, oauth_server: OAuthServer, upstream: Upstream
) -> None:
    settings = passthrough_settings(tmp_path, oauth_server, upstream, passthrough_max_response_bytes=100_000)
    async with running_app(settings) as app:
        ws = await new_workspace(app.services, activate=())
        connection_id = await keyed_connection(app, ws, "hostile")
        answer = await app.client.get(through(connection_id, "huge?bytes=100001"), headers=ws.auth("production"))
        assert answer.status_code == 502 and answer.json()["error"]["code"] == "provider_error"
        within = await app.client.get(through(connection_id, "huge?bytes=100000"), headers=ws.auth("production"))
        assert within.status_code == 200 and len(within.content) == 100_000


async def test_a_hanging_provider_is_answered_504_at_the_deadline(lk: Provisioned) -> None:
    connection_id = await keyed_connection(lk, lk.ws, "hostile")
    started = time.monotonic()
    answer = await lk.client.get(through(connection_id, "hang"), headers=lk.ws.auth("production"))
    assert answer.status_code == 504 and answer.json()["error"]["code"] == "provider_unavailable"
    assert time.monotonic() - started < 4  # the deadline is 2 s


async def test_a_provider_that_is_down_is_answered_502_provider_unavailable(
    tmp_path: Path, oauth_server: OAuthServer, upstream: Upstream
) -> None:
    upstream.stop()  # nothing listens on its port any more
    async with running_app(passthrough_settings(tmp_path, oauth_server, upstream)) as app:
        ws = await new_workspace(app.services, activate=())
        connection_id = await keyed_connection(app, ws, "hostile")
        answer = await app.client.get(through(connection_id, "contacts"), headers=ws.auth("production"))
        assert answer.status_code == 502 and answer.json()["error"]["code"] == "provider_unavailable"


async def test_the_access_log_names_method_integration_and_status_never_the_query_or_a_body(
    lk: Provisioned, caplog: pytest.LogCaptureFixture
) -> None:
    connection_id = await keyed_connection(lk, lk.ws, "hostile")
    with caplog.at_level(logging.DEBUG):
        answer = await lk.client.post(
            through(connection_id, "contacts/canary-path?token=canary-query"),
            headers=lk.ws.auth("production"),
            content=b"canary-body",
        )
    assert answer.status_code == 200
    logged = "\n".join(r.getMessage() for r in caplog.records)
    access = [r.getMessage() for r in caplog.records if r.name == "latchkey.access"]
    assert len(access) == 1 and access[0].startswith(f"POST /api/v1/passthrough/{connection_id}/… (hostile) 200 ")
    for canary in ("canary-path", "canary-query", "canary-body", API_KEY):
        assert canary not in logged


# ---- The sandbox: synthetic data behind expiring tokens -------------------------------------------


async def test_the_sandbox_serves_synthetic_data_through_passthrough_for_any_integration(lk: Running) -> None:
    ws = await new_workspace(lk.services)
    for slug in ("sandbox", "hubspot", "stripe"):
        made = await lk.client.post(
            "/api/v1/connections", headers=ws.auth(), json={"integration": slug, "external_xref": f"u-{slug}"}
        )
        assert made.status_code == 201, made.text
        connection_id = made.json()["data"]["id"]
        page = await lk.client.get(through(connection_id, "crm/contacts?limit=3"), headers=ws.auth())
        assert page.status_code == 200, page.text
        assert len(page.json()["data"]) == 3 and page.headers["latchkey-integration"] == slug
        again = await lk.client.get(through(connection_id, "crm/contacts?limit=3"), headers=ws.auth())
        assert again.json() == page.json()  # deterministic per connection
        created = await lk.client.post(
            through(connection_id, "crm/contacts"), headers=ws.auth(), json={"email": "ada@example.com"}
        )
        assert created.status_code == 201 and created.json()["email"] == "ada@example.com"


async def test_an_expired_sandbox_token_gets_401_and_passthrough_refreshes_and_retries(lk: Running) -> None:
    ws = await new_workspace(lk.services)
    made = await lk.client.post(
        "/api/v1/connections", headers=ws.auth(), json={"integration": "sandbox", "external_xref": "u"}
    )
    connection_id = made.json()["data"]["id"]
    state = await load_refresh_state(lk.db, lk.services.sealer, connection_id)
    assert state is not None
    account = account_of_access_token(lk.services.signer, state.credentials["access_token"])
    assert account is not None
    expired = mint_access_token(lk.services.signer, account, timedelta(seconds=-1))
    stale = {**state.credentials, "access_token": expired}  # Latchkey still thinks it valid for an hour
    await store_refreshed(
        lk.db, lk.services.sealer, state, stale, expires_at=state.connection.expires_at, metadata={}, now=utcnow()
    )
    direct = await lk.client.get("/sandbox/api/me", headers={"Authorization": f"Bearer {expired}"})
    assert direct.status_code == 401  # the sandbox provider really refuses it
    answer = await lk.client.get(through(connection_id, "me"), headers=ws.auth())
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == account  # the same account's data after the refresh
    row = await lk.db.fetch_one(sa.select(connections.c.status).where(connections.c.id == connection_id))
    assert row is not None and row["status"] == "healthy"


async def test_the_seeded_demo_connection_answers_the_readmes_passthrough_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from server.cli import cmd_seed_demo
    from tests.harness import make_settings

    settings = make_settings(tmp_path)
    for _ in range(2):  # seeding again keeps the connection and its ID
        assert await asyncio.to_thread(cmd_seed_demo, argparse.Namespace(), settings) == 0
    printed = capsys.readouterr().out
    key = printed.split("sandbox secret key: ", 1)[1].split()[0]
    connection_ids = {line.split()[2] for line in printed.splitlines() if "demo connection:" in line}
    assert len(connection_ids) == 1
    async with running_app(settings) as app:
        answer = await app.client.get(
            through(connection_ids.pop(), "crm/contacts"), headers={"Authorization": f"Bearer {key}"}
        )
    assert answer.status_code == 200 and len(answer.json()["data"]) == 10
