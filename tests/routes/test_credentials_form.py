"""API-key forms in the sandbox: the pattern is checked, the provider is simulated, and only a
verified credential consumes the form's flow and writes a connection."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from server.db.tables import connections, flows
from tests.harness import BASE_URL, FAILURE_URL, SUCCESS_URL, Running, Workspace, query_of

GOOD_KEY = "sk_test_" + "a1B2c3D4e5F6g7H8i9J0k1L2"
BAMBOO_SUBDOMAIN = "acme"
BAMBOO_GOOD = "A1b2C3d4E5f6G7h8I9j0"
BAMBOO_BAD = "bad" + "X" * 20  # matches BambooHR's pattern and starts with "bad"


def error_code(page: httpx.Response) -> str | None:
    marker = 'data-error-code="'
    return page.text.split(marker, 1)[1].split('"', 1)[0] if marker in page.text else None


def field_error(page: httpx.Response, name: str) -> str:
    match = re.search(rf'data-field-error="{name}">([^<]*)<', page.text)
    assert match, page.text
    return unescape(match.group(1)).strip()


async def start_link(lk: Running, workspace: Workspace, slug: str) -> str:
    page = await lk.client.get(
        "/picker",
        params={
            "workspace": workspace.id,
            "env": "sandbox",
            "external_xref": "user-42",
            "mode": "redirect",
            "integrations": slug,
            "success_url": SUCCESS_URL,
            "failure_url": FAILURE_URL,
            "state": "host-state-1",
        },
    )
    assert page.status_code == 200, page.text
    marker = f'href="/auth/{slug}/start?ctx='
    assert marker in page.text
    return f"/auth/{slug}/start?ctx=" + unescape(page.text.split(marker, 1)[1].split('"', 1)[0])


async def open_form(lk: Running, workspace: Workspace, slug: str = "stripe") -> str:
    page = await lk.client.get(await start_link(lk, workspace, slug))
    assert page.status_code == 200 and 'id="lk-credentials"' in page.text
    match = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert match is not None
    return unescape(match.group(1))


async def post(
    lk: Running, token: str | None, slug: str = "stripe", headers: dict[str, str] | None = None, **fields: str
) -> httpx.Response:
    data = {**({"form_token": token} if token is not None else {}), **fields}
    return await lk.client.post(
        f"/auth/{slug}/credentials", data=data, headers={"Origin": BASE_URL} if headers is None else headers
    )


async def count_connections(lk: Running) -> int:
    n: int = await lk.db.fetch_val(sa.select(sa.func.count()).select_from(connections))
    return n


async def consumed_flows(lk: Running) -> int:
    n: int = await lk.db.fetch_val(
        sa.select(sa.func.count()).select_from(flows).where(flows.c.consumed_at.is_not(None))
    )
    return n


async def assert_nothing_written(lk: Running) -> None:
    assert await count_connections(lk) == 0 and await consumed_flows(lk) == 0


@pytest.fixture
async def bamboohr(lk: Running, workspace: Workspace) -> Workspace:
    answer = await lk.client.put("/api/v1/integrations/bamboohr", headers=workspace.auth(), json={})
    assert answer.status_code == 200
    return workspace


async def test_start_renders_the_form(lk: Running, workspace: Workspace) -> None:
    page = await lk.client.get(await start_link(lk, workspace, "stripe"))
    assert page.status_code == 200
    assert 'action="/auth/stripe/credentials"' in page.text and 'name="api_key"' in page.text
    assert re.search(r'name="api_key" type="password"', page.text)
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert await lk.db.fetch_val(sa.select(sa.func.count()).select_from(flows)) == 0  # written when submitted
    await assert_nothing_written(lk)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": "http://evil.test"},
        {"Referer": "http://evil.test/page"},
        {"Origin": "null"},
        {"Origin": BASE_URL + ".evil.test"},
    ],
)
async def test_a_post_from_elsewhere_is_refused(lk: Running, workspace: Workspace, headers: dict[str, str]) -> None:
    token = await open_form(lk, workspace)
    answer = await post(lk, token, headers=headers, api_key=GOOD_KEY)
    assert answer.status_code == 403 and error_code(answer) == "invalid_request" and "location" not in answer.headers
    await assert_nothing_written(lk)
    assert (await post(lk, token, api_key=GOOD_KEY)).status_code == 303  # the form itself is still good


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site", "Origin": BASE_URL},
        {"Sec-Fetch-Site": "same-site", "Origin": BASE_URL},
        {"Sec-Fetch-Site": "none", "Referer": BASE_URL + "/x"},
    ],
)
async def test_fetch_metadata_saying_another_site_wins_over_a_matching_origin(
    lk: Running, workspace: Workspace, headers: dict[str, str]
) -> None:
    token = await open_form(lk, workspace)
    answer = await post(lk, token, headers=headers, api_key=GOOD_KEY)
    assert answer.status_code == 403 and error_code(answer) == "invalid_request"
    await assert_nothing_written(lk)


async def test_a_same_origin_post_with_origin_null_is_accepted_by_fetch_metadata(
    lk: Running, workspace: Workspace
) -> None:
    """Our pages send no referrer, so browsers post their forms with `Origin: null`."""
    token = await open_form(lk, workspace)
    answer = await post(lk, token, headers={"Sec-Fetch-Site": "same-origin", "Origin": "null"}, api_key=GOOD_KEY)
    assert answer.status_code == 303 and answer.headers["location"].startswith(SUCCESS_URL)


async def test_a_same_origin_referer_is_accepted_without_origin(lk: Running, workspace: Workspace) -> None:
    token = await open_form(lk, workspace)
    answer = await post(lk, token, headers={"Referer": f"{BASE_URL}/auth/stripe/start?ctx=x"}, api_key=GOOD_KEY)
    assert answer.status_code == 303


@pytest.mark.parametrize("value", ["pk_test_" + "a" * 24, "sk_test_short", "not a key", "sk_prod_" + "a" * 24, ""])
async def test_a_field_outside_its_pattern_shows_the_form_again(lk: Running, workspace: Workspace, value: str) -> None:
    token = await open_form(lk, workspace)
    answer = await post(lk, token, api_key=value)
    assert answer.status_code == 400 and error_code(answer) == "invalid_request"
    message = field_error(answer, "api_key")
    assert message == ("This field is required." if value == "" else "Expected format: rk_live_...")
    assert value not in answer.text or value == ""  # a secret field is never echoed back
    assert 'id="lk-credentials"' in answer.text and token in unescape(answer.text)
    await assert_nothing_written(lk)
    assert (await post(lk, token, api_key=GOOD_KEY)).status_code == 303


async def test_the_sandbox_rejects_a_prefixed_key_whose_last_part_starts_with_bad(
    lk: Running, workspace: Workspace
) -> None:
    token = await open_form(lk, workspace)
    answer = await post(lk, token, api_key="sk_test_bad" + "x" * 21)
    assert answer.status_code == 400 and error_code(answer) == "invalid_credentials"
    assert "sk_test_bad" not in answer.text
    await assert_nothing_written(lk)
    assert (await post(lk, token, api_key=GOOD_KEY)).status_code == 303  # the same form token still works


async def test_a_stripe_key_starting_with_bad_fails_the_pattern_before_the_simulation(
    lk: Running, workspace: Workspace
) -> None:
    token = await open_form(lk, workspace)
    answer = await post(lk, token, api_key="bad_" + "x" * 24)
    assert answer.status_code == 400 and error_code(answer) == "invalid_request"
    await assert_nothing_written(lk)


async def test_a_key_the_sandbox_rejects_shows_invalid_credentials_and_the_form_still_works(
    lk: Running, bamboohr: Workspace
) -> None:
    token = await open_form(lk, bamboohr, "bamboohr")
    answer = await post(lk, token, "bamboohr", subdomain=BAMBOO_SUBDOMAIN, username=BAMBOO_BAD, password="x")
    assert answer.status_code == 400 and error_code(answer) == "invalid_credentials"
    assert "rejected these credentials" in answer.text and BAMBOO_BAD not in answer.text
    assert f'value="{BAMBOO_SUBDOMAIN}"' in answer.text  # non-secret fields are kept for the retry
    await assert_nothing_written(lk)
    again = await post(lk, token, "bamboohr", subdomain=BAMBOO_SUBDOMAIN, username=BAMBOO_GOOD, password="x")
    assert again.status_code == 303 and again.headers["location"].startswith(SUCCESS_URL + "?")
    assert await count_connections(lk) == 1


async def test_a_right_key_makes_a_connection_and_redirects_with_it(lk: Running, workspace: Workspace) -> None:
    token = await open_form(lk, workspace)
    answer = await post(lk, token, api_key=GOOD_KEY)
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith(SUCCESS_URL + "?")
    result = query_of(location)
    assert result["integration"] == "stripe" and result["state"] == "host-state-1"
    assert re.fullmatch(r"conn_[A-Za-z0-9]{16}", result["connection_id"])
    assert GOOD_KEY not in location
    assert await count_connections(lk) == 1 and await consumed_flows(lk) == 1


async def test_reposting_the_same_form_token_is_state_reused(lk: Running, workspace: Workspace) -> None:
    token = await open_form(lk, workspace)
    first = await post(lk, token, api_key=GOOD_KEY)
    connection_id = query_of(first.headers["location"])["connection_id"]
    again = await post(lk, token, api_key="sk_test_" + "Z" * 24)
    assert again.status_code == 400 and error_code(again) == "state_reused" and "location" not in again.headers
    assert await count_connections(lk) == 1
    got = await lk.client.get(f"/api/v1/connections/{connection_id}?include=credentials", headers=workspace.auth())
    assert got.json()["data"]["credentials"]["fields"]["api_key"] == GOOD_KEY  # the replay changed nothing


async def test_stored_fields_come_back_only_with_include_credentials(lk: Running, workspace: Workspace) -> None:
    answer = await post(lk, await open_form(lk, workspace), api_key=GOOD_KEY)
    connection_id = query_of(answer.headers["location"])["connection_id"]
    plain = await lk.client.get(f"/api/v1/connections/{connection_id}", headers=workspace.auth())
    assert plain.status_code == 200 and GOOD_KEY not in plain.text and "credentials" not in plain.json()["data"]
    assert plain.json()["data"]["metadata"] == {}  # a secret field is not metadata
    listed = await lk.client.get("/api/v1/connections", headers=workspace.auth())
    assert GOOD_KEY not in listed.text
    full = await lk.client.get(f"/api/v1/connections/{connection_id}?include=credentials", headers=workspace.auth())
    assert full.json()["data"]["credentials"] == {"type": "api_key", "fields": {"api_key": GOOD_KEY}}
    assert full.json()["data"]["external_xref"] == "user-42"


async def test_non_secret_fields_become_metadata(lk: Running, bamboohr: Workspace) -> None:
    answer = await post(
        lk,
        await open_form(lk, bamboohr, "bamboohr"),
        "bamboohr",
        subdomain=BAMBOO_SUBDOMAIN,
        username=BAMBOO_GOOD,
        password="x",
    )
    connection_id = query_of(answer.headers["location"])["connection_id"]
    plain = await lk.client.get(f"/api/v1/connections/{connection_id}", headers=bamboohr.auth())
    metadata = plain.json()["data"]["metadata"]
    assert metadata["subdomain"] == BAMBOO_SUBDOMAIN and BAMBOO_GOOD not in plain.text


@pytest.mark.parametrize("token", [None, "", "not-a-token"])
async def test_a_missing_or_forged_form_token_is_invalid_state(
    lk: Running, workspace: Workspace, token: str | None
) -> None:
    await open_form(lk, workspace)
    answer = await post(lk, token, api_key=GOOD_KEY)
    assert answer.status_code == 400 and error_code(answer) == "invalid_state"
    await assert_nothing_written(lk)


async def test_a_tampered_form_token_is_invalid_state(lk: Running, workspace: Workspace) -> None:
    token = await open_form(lk, workspace)
    answer = await post(lk, token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"), api_key=GOOD_KEY)
    assert answer.status_code == 400 and error_code(answer) == "invalid_state"
    await assert_nothing_written(lk)


async def test_a_form_token_of_another_integration_is_invalid_state(lk: Running, bamboohr: Workspace) -> None:
    token = await open_form(lk, bamboohr, "bamboohr")
    answer = await post(lk, token, "stripe", api_key=GOOD_KEY)
    assert answer.status_code == 400 and error_code(answer) == "invalid_state"
    await assert_nothing_written(lk)


async def test_a_start_link_for_another_integration_does_not_open_a_form(lk: Running, workspace: Workspace) -> None:
    link = await start_link(lk, workspace, "stripe")
    answer = await lk.client.get(link.replace("/auth/stripe/", "/auth/shopify/"))
    assert answer.status_code == 302 and answer.headers["location"].startswith(FAILURE_URL)
    assert query_of(answer.headers["location"])["error"] == "integration_not_active"
    assert await lk.db.fetch_val(sa.select(sa.func.count()).select_from(flows)) == 0


async def test_a_typed_store_host_on_a_private_network_is_never_contacted(tmp_path: Path) -> None:
    """SSRF: a verification request to a host the end-user types must not reach private addresses."""
    import json as _json

    from tests.harness import make_settings, new_workspace, running_app

    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "shopkey.json").write_text(
        _json.dumps(
            {
                "slug": "shopkey",
                "name": "Shop Key",
                "categories": ["commerce"],
                "docs": "https://shop.example/docs",
                "auth": {
                    "kind": "api_key",
                    "fields": [
                        {"name": "store_host", "label": "Store host"},
                        {"name": "api_key", "label": "Key", "secret": True},
                    ],
                    "verify": {"url": "https://{store_host}/api/me"},
                },
                "scopes": {"commerce_order_read": []},
            }
        )
    )
    async with running_app(make_settings(tmp_path, catalog_dir=folder)) as lk:
        ws = await new_workspace(lk.services, activate=())
        await lk.client.put("/api/v1/integrations/shopkey", headers=ws.auth("production"), json={})
        made = await lk.client.post(
            "/api/v1/auth-urls",
            headers=ws.auth("production"),
            json={
                "integration": "shopkey",
                "external_xref": "u",
                "success_url": SUCCESS_URL,
                "failure_url": FAILURE_URL,
            },
        )
        page = await lk.client.get(made.json()["data"]["url"])
        match = re.search(r'name="form_token" value="([^"]+)"', page.text)
        assert match is not None
        token = unescape(match.group(1))
        for host in ("127.0.0.1", "10.1.2.3", "localhost"):
            answer = await lk.client.post(
                "/auth/shopkey/credentials",
                headers={"Origin": BASE_URL},
                data={"form_token": token, "store_host": host, "api_key": "k"},
            )
            assert answer.status_code == 400 and 'data-field-error="store_host"' in answer.text
            assert "private network" in answer.text
        assert await lk.db.fetch_val(sa.select(sa.func.count()).select_from(connections)) == 0


async def test_the_typed_host_check_connects_to_the_address_it_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name answers a public address to the check, then loopback to a second lookup.

    The verification request must connect to the address that was checked (or fail), never look
    the name up again and reach the loopback listener.
    """
    import asyncio
    import json as _json
    import socket

    from tests.harness import make_settings, new_workspace, running_app

    reached: list[str] = []

    async def listener(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        reached.append("connected")
        writer.close()

    server = await asyncio.start_server(listener, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    real_getaddrinfo = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host: object, *args: object, **kwargs: object) -> object:
        if host in ("rebind.example", b"rebind.example"):  # AnyIO asks with the IDNA-encoded bytes
            lookups.append("rebind.example")
            address = "93.184.216.34" if len(lookups) == 1 else "127.0.0.1"
            return real_getaddrinfo(address, *args, **kwargs)  # type: ignore[arg-type]  # the resolver's own signature
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]  # the resolver's own signature

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "shopkey.json").write_text(
        _json.dumps(
            {
                "slug": "shopkey",
                "name": "Shop Key",
                "categories": ["commerce"],
                "docs": "https://shop.example/docs",
                "auth": {
                    "kind": "api_key",
                    "fields": [
                        {"name": "store_host", "label": "Store host"},
                        {"name": "api_key", "label": "Key", "secret": True},
                    ],
                    "verify": {"url": f"https://{{store_host}}:{port}/api/me"},
                },
                "scopes": {"commerce_order_read": []},
            }
        )
    )
    try:
        async with running_app(make_settings(tmp_path, catalog_dir=folder, http_timeout=1.0)) as lk:
            ws = await new_workspace(lk.services, activate=())
            await lk.client.put("/api/v1/integrations/shopkey", headers=ws.auth("production"), json={})
            made = await lk.client.post(
                "/api/v1/auth-urls",
                headers=ws.auth("production"),
                json={
                    "integration": "shopkey",
                    "external_xref": "u",
                    "success_url": SUCCESS_URL,
                    "failure_url": FAILURE_URL,
                },
            )
            page = await lk.client.get(made.json()["data"]["url"])
            match = re.search(r'name="form_token" value="([^"]+)"', page.text)
            assert match is not None
            answer = await lk.client.post(
                "/auth/shopkey/credentials",
                headers={"Origin": BASE_URL},
                data={"form_token": unescape(match.group(1)), "store_host": "rebind.example", "api_key": "k"},
            )
            assert answer.status_code == 400 and 'data-error-code="provider_unavailable"' in answer.text
            assert reached == [] and lookups == ["rebind.example"]
            assert await lk.db.fetch_val(sa.select(sa.func.count()).select_from(connections)) == 0
    finally:
        server.close()
        await server.wait_closed()


async def test_a_control_character_in_a_form_field_is_invalid_request_and_writes_nothing(
    lk: Running, bamboohr: Workspace
) -> None:
    token = await open_form(lk, bamboohr, "bamboohr")
    answer = await post(
        lk, token, "bamboohr", subdomain=BAMBOO_SUBDOMAIN, username=BAMBOO_GOOD, password="x\x00"
    )  # password: a field without a pattern
    assert answer.status_code == 400 and error_code(answer) == "invalid_request"
    await assert_nothing_written(lk)
    # The form was not used up.
    retried = await post(lk, token, "bamboohr", subdomain=BAMBOO_SUBDOMAIN, username=BAMBOO_GOOD, password="x")
    assert retried.status_code in (302, 303) and await count_connections(lk) == 1


@pytest.mark.parametrize(
    "query", ["external_xref=user%7F", "external_xref=user%C2%85", "external_xref=user%ED%A0%80", "x=1&state=s%00"]
)
async def test_a_picker_link_with_a_control_character_is_an_error_page(
    lk: Running, workspace: Workspace, query: str
) -> None:
    xref = "" if "external_xref" in query else "external_xref=u&"
    page = await lk.client.get(f"/picker?workspace={workspace.id}&env=sandbox&mode=redirect&{xref}{query}")
    assert page.status_code == 400 and error_code(page) == "invalid_request"
    assert page.headers["content-type"].startswith("text/html")
    assert await lk.db.fetch_val(sa.select(sa.func.count()).select_from(flows)) == 0
