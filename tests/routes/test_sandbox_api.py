"""The sandbox data API: a synthetic CRM that answers only the sandbox provider's own access tokens."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from typing import Any

import httpx
import pytest

from server.sandbox.data import COMPANIES, CONTACTS, DEALS
from server.sandbox.tokens import account_of_access_token, mint_access_token, mint_tokens, new_account
from server.services import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from server.signing import Signer
from tests.harness import BASE_URL, FAILURE_URL, SUCCESS_URL, Running, Workspace, query_of
from tests.lifecycle.support import credentials, set_expiry
from tests.routes.test_sandbox_flow import run_to_consent

SIZES = {"contacts": CONTACTS, "companies": COMPANIES, "deals": DEALS}
PREFIXES = {"contacts": "con_", "companies": "com_", "deals": "deal_"}


async def connect_by_oauth(lk: Running, workspace: Workspace, external_xref: str = "user-42") -> tuple[str, Any]:
    """A connection made by the whole sandbox redirect dance: its id and its credentials."""
    _, request_token = await run_to_consent(lk, workspace, external_xref=external_xref)
    decided = await lk.client.post("/sandbox/oauth/decide", data={"request": request_token, "decision": "approve"})
    callback = await lk.client.get(decided.headers["location"])
    assert callback.status_code == 302 and callback.headers["location"].startswith(SUCCESS_URL), callback.text
    connection_id = query_of(callback.headers["location"])["connection_id"]
    got = await credentials(lk, workspace, connection_id, env="sandbox")
    return connection_id, got.json()["data"]["credentials"]


async def call(
    lk: Running, path: str, token: str | None, method: str = "GET", headers: dict[str, str] | None = None, **kwargs: Any
) -> httpx.Response:
    sent = {**({"Authorization": f"Bearer {token}"} if token is not None else {}), **(headers or {})}
    return await lk.client.request(method, f"/sandbox/api{path}", headers=sent, **kwargs)


async def walk(lk: Running, token: str, collection: str, limit: int) -> list[dict[str, Any]]:
    """Every page of a list, following next_cursor (at most 30 pages)."""
    records: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": limit}
    for _ in range(30):
        answer = await call(lk, f"/crm/{collection}", token, params=params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert len(body["data"]) <= limit
        records.extend(body["data"])
        if body["next_cursor"] is None:
            return records
        params = {"limit": limit, "cursor": body["next_cursor"]}
    raise AssertionError("the list never ended")


async def everything(lk: Running, token: str) -> dict[str, Any]:
    me = (await call(lk, "/me", token)).json()
    return {"me": me, **{name: await walk(lk, token, name, 100) for name in SIZES}}


def assert_invalid_token(answer: httpx.Response, why: str = "") -> None:
    assert answer.status_code == 401, (why, answer.text)
    assert answer.json()["error"] == "invalid_token" and answer.json()["error_description"]
    assert answer.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert answer.headers["cache-control"] == "no-store"


async def test_tokens_from_a_real_sandbox_flow_read_the_data_api(lk: Running, workspace: Workspace) -> None:
    _, creds = await connect_by_oauth(lk, workspace)
    me = await call(lk, "/me", creds["access_token"])
    assert me.status_code == 200 and me.headers["cache-control"] == "no-store"
    assert me.json()["id"].startswith("acct_") and me.json()["name"]
    contacts = await call(lk, "/crm/contacts", creds["access_token"])
    assert contacts.status_code == 200 and contacts.headers["content-type"] == "application/json"
    body = contacts.json()
    assert len(body["data"]) == 10 and isinstance(body["next_cursor"], str)  # the default limit


async def test_records_are_plausible_and_deals_reference_the_accounts_companies_and_contacts(
    lk: Running, workspace: Workspace
) -> None:
    _, creds = await connect_by_oauth(lk, workspace)
    data = await everything(lk, creds["access_token"])
    for name, size in SIZES.items():
        assert len(data[name]) == size and all(r["id"].startswith(PREFIXES[name]) for r in data[name])
        assert all(re.fullmatch(r"2024-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["created_at"]) for r in data[name])
    emails = [c["email"] for c in data["contacts"]]
    assert len(set(emails)) == CONTACTS and all(re.fullmatch(r"[a-z.]+@[a-z-]+\.test", e) for e in emails)
    company_ids = {c["id"] for c in data["companies"]}
    contact_ids = {c["id"] for c in data["contacts"]}
    assert all(d["company_id"] in company_ids and d["contact_id"] in contact_ids for d in data["deals"])
    assert all(c["company_id"] in company_ids for c in data["contacts"])


async def test_a_record_is_read_by_its_id_and_an_unknown_id_is_a_json_404(lk: Running, workspace: Workspace) -> None:
    _, creds = await connect_by_oauth(lk, workspace)
    token = creds["access_token"]
    for name in SIZES:
        first = (await call(lk, f"/crm/{name}", token, params={"limit": 1})).json()["data"][0]
        one = await call(lk, f"/crm/{name}/{first['id']}", token)
        assert one.status_code == 200 and one.json() == first and one.headers["cache-control"] == "no-store"
        missing = await call(lk, f"/crm/{name}/{PREFIXES[name]}0000000000000000", token)
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    deal = (await call(lk, "/crm/deals", token, params={"limit": 1})).json()["data"][0]
    assert (await call(lk, f"/crm/contacts/{deal['id']}", token)).status_code == 404  # ids are per collection


async def test_an_unknown_path_under_the_api_is_a_json_404(lk: Running, workspace: Workspace) -> None:
    _, creds = await connect_by_oauth(lk, workspace)
    for path in ("/crm/widgets", "/crm", "/nothing/here", "/me/"):
        answer = await call(lk, path, creds["access_token"])
        assert answer.status_code == 404 and answer.json()["error"] == "not_found", path
    assert_invalid_token(await call(lk, "/crm/widgets", None))  # the token is checked first there too


async def test_the_same_account_sees_the_same_data_on_every_call_and_after_a_refresh(
    lk: Running, workspace: Workspace
) -> None:
    connection_id, creds = await connect_by_oauth(lk, workspace)
    before = await everything(lk, creds["access_token"])
    assert await everything(lk, creds["access_token"]) == before

    await set_expiry(lk, connection_id, -5)  # Latchkey refreshes against the sandbox provider on the next read
    refreshed = (await credentials(lk, workspace, connection_id, env="sandbox")).json()["data"]["credentials"]
    assert refreshed["access_token"] != creds["access_token"]
    assert await everything(lk, refreshed["access_token"]) == before


async def test_two_accounts_see_different_data(lk: Running, workspace: Workspace) -> None:
    _, first = await connect_by_oauth(lk, workspace, external_xref="user-1")
    _, second = await connect_by_oauth(lk, workspace, external_xref="user-2")
    one, two = await everything(lk, first["access_token"]), await everything(lk, second["access_token"])
    assert one["me"]["id"] != two["me"]["id"]
    for name in SIZES:
        assert {r["id"] for r in one[name]}.isdisjoint(r["id"] for r in two[name])
    assert [c["email"] for c in one["contacts"]] != [c["email"] for c in two["contacts"]]


@pytest.mark.parametrize("limit", [1, 3, 7, 10, 25, 100])
async def test_paging_walks_every_record_exactly_once(lk: Running, limit: int) -> None:
    token = mint_access_token(lk.services.signer, new_account())
    for name, size in SIZES.items():
        walked = await walk(lk, token, name, limit)
        assert len(walked) == size and len({r["id"] for r in walked}) == size
        assert walked == (await call(lk, f"/crm/{name}", token, params={"limit": 100})).json()["data"]


async def test_the_last_page_says_there_is_no_next_one(lk: Running) -> None:
    token = mint_access_token(lk.services.signer, new_account())
    whole = (await call(lk, "/crm/companies", token, params={"limit": COMPANIES})).json()
    assert len(whole["data"]) == COMPANIES and whole["next_cursor"] is None


@pytest.mark.parametrize("limit", ["0", "101", "-1", "1.5", "ten", "", " 5", "١"])
async def test_a_bad_limit_is_a_json_400(lk: Running, limit: str) -> None:
    token = mint_access_token(lk.services.signer, new_account())
    answer = await call(lk, "/crm/contacts", token, params={"limit": limit})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert "limit" in answer.json()["error_description"]


async def test_a_bad_or_foreign_cursor_is_a_json_400(lk: Running) -> None:
    token = mint_access_token(lk.services.signer, new_account())
    contacts_cursor = (await call(lk, "/crm/contacts", token)).json()["next_cursor"]
    other_account = mint_access_token(lk.services.signer, new_account())
    for path, cursor, who in [
        ("/crm/contacts", "not a cursor!", token),
        ("/crm/contacts", "", token),
        ("/crm/contacts", "%%%", token),
        ("/crm/deals", contacts_cursor, token),  # another list's cursor
        ("/crm/contacts", contacts_cursor, other_account),  # another account's
    ]:
        answer = await call(lk, path, who, params={"cursor": cursor})
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request", (path, cursor)
        assert "cursor" in answer.json()["error_description"]


def forged_tokens(signer: Signer) -> dict[str, str]:
    account = new_account()
    other = Signer("a-different-deployment-secret-0123456789abcdef")
    good = mint_access_token(signer, account)
    return {
        "expired": mint_access_token(signer, account, timedelta(seconds=-1)),
        "signed elsewhere": mint_access_token(other, account),
        "tampered": good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),
        "refresh token as access": mint_tokens(signer, account).refresh_token,
        "random": "sbx_at_" + "x" * 32,
        "a Latchkey API key": "lk_sbx_" + "y" * 43,
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/me"), ("GET", "/crm/contacts"), ("GET", "/crm/deals/deal_0"), ("POST", "/crm/contacts")],
)
async def test_expired_forged_and_wrong_kinds_of_token_get_a_401_with_the_challenge(
    lk: Running, method: str, path: str
) -> None:
    for why, token in forged_tokens(lk.services.signer).items():
        answer = await call(lk, path, token, method, json={"email": "ada@example.test"})
        assert_invalid_token(answer, why)
        assert "acct_" not in answer.text, why


async def test_a_missing_or_non_bearer_authorization_gets_a_401(lk: Running) -> None:
    token = mint_access_token(lk.services.signer, new_account())
    assert_invalid_token(await call(lk, "/me", None))
    for header in (f"Basic {token}", token, "Bearer", "Bearer "):
        assert_invalid_token(await lk.client.get("/sandbox/api/me", headers={"Authorization": header}))
    assert (await lk.client.get("/sandbox/api/me", headers={"Authorization": f"bearer {token}"})).status_code == 200


async def test_the_connections_token_gets_a_401_once_it_has_expired(lk: Running) -> None:
    """What the passthrough's refresh-and-retry relies on: an expired sandbox token really fails."""
    account = new_account()
    fresh = mint_access_token(lk.services.signer, account, timedelta(seconds=2))
    assert (await call(lk, "/me", fresh)).status_code == 200
    assert account_of_access_token(lk.services.signer, fresh, now=1e12) is None
    assert_invalid_token(await call(lk, "/me", mint_access_token(lk.services.signer, account, timedelta(0))))


async def test_creating_a_contact_answers_201_with_a_location_and_stores_nothing(lk: Running) -> None:
    token = mint_access_token(lk.services.signer, new_account())
    before = await walk(lk, token, "contacts", 100)
    made = await call(lk, "/crm/contacts", token, "POST", json={"email": "grace@hopper.test", "name": " Grace Hopper "})
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
    contact = made.json()
    assert contact["id"].startswith("con_") and contact["object"] == "contact"
    assert contact["email"] == "grace@hopper.test" and contact["name"] == "Grace Hopper"
    assert made.headers["location"] == f"{BASE_URL}/sandbox/api/crm/contacts/{contact['id']}"
    assert (await call(lk, f"/crm/contacts/{contact['id']}", token)).status_code == 404  # not stored
    assert await walk(lk, token, "contacts", 100) == before
    nameless = await call(lk, "/crm/contacts", token, "POST", json={"email": "ada@example.test"})
    assert nameless.status_code == 201 and nameless.json()["name"] is None
    assert nameless.json()["id"] != contact["id"]


@pytest.mark.parametrize(
    "body",
    [b"", b"{not json", b"[]", b'"ada@example.test"', b"\xff\xfe", b'{"email": "ada\\u0000@example.test"}'],
)
async def test_a_contact_body_that_is_not_a_clean_json_object_is_a_400(lk: Running, body: bytes) -> None:
    token = mint_access_token(lk.services.signer, new_account())
    answer = await call(lk, "/crm/contacts", token, "POST", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request", answer.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "email"),
        ({"name": "Ada"}, "email"),
        ({"email": None}, "email"),
        ({"email": "ada"}, "email"),
        ({"email": "ada@localhost"}, "email"),
        ({"email": "ada lovelace@example.test"}, "email"),
        ({"email": 42}, "email"),
        ({"email": "a" * 250 + "@example.test"}, "email"),
        ({"email": "ada@example.test", "name": 7}, "name"),
        ({"email": "ada@example.test", "name": "  "}, "name"),
        ({"email": "ada@example.test", "name": "n" * 201}, "name"),
        ({"email": "ada@example.test", "company_id": "com_1"}, "company_id"),
    ],
)
async def test_a_contact_with_a_wrong_field_is_a_422_naming_it(lk: Running, body: dict[str, Any], field: str) -> None:
    token = mint_access_token(lk.services.signer, new_account())
    answer = await call(lk, "/crm/contacts", token, "POST", json=body)
    assert answer.status_code == 422 and answer.json()["error"] == "invalid_fields", answer.text
    assert field in answer.json()["fields"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/me", "GET, HEAD"),
        ("POST", "/me", "GET, HEAD"),
        ("PUT", "/crm/contacts", "GET, HEAD, POST"),
        ("POST", "/crm/deals", "GET, HEAD"),
        ("POST", "/crm/companies", "GET, HEAD"),
        ("PATCH", "/crm/contacts/con_0", "GET, HEAD"),
        ("DELETE", "/crm/deals/deal_0", "GET, HEAD"),
    ],
)
async def test_other_methods_are_a_json_405_with_allow(lk: Running, method: str, path: str, allow: str) -> None:
    token = mint_access_token(lk.services.signer, new_account())
    for who in (token, None):  # the method is refused before the token is looked at
        answer = await call(lk, path, who, method)
        assert answer.status_code == 405 and answer.json()["error"] == "method_not_allowed"
        assert answer.headers["allow"] == allow and answer.headers["cache-control"] == "no-store"


async def test_a_test_connections_tokens_read_the_data_api_and_keep_their_account_across_a_refresh(
    lk: Running, workspace: Workspace
) -> None:
    made = await lk.client.post(
        "/api/v1/connections", headers=workspace.auth(), json={"integration": "hubspot", "external_xref": "u-1"}
    )
    assert made.status_code == 201, made.text
    connection_id = made.json()["data"]["id"]
    creds = (await credentials(lk, workspace, connection_id, env="sandbox")).json()["data"]["credentials"]
    assert creds["access_token"].startswith("sbx_at_") and creds["refresh_token"].startswith("sbx_rt_")
    me = await call(lk, "/me", creds["access_token"])
    assert me.status_code == 200 and me.json()["id"].startswith("acct_")
    await set_expiry(lk, connection_id, -5)
    refreshed = (await credentials(lk, workspace, connection_id, env="sandbox")).json()["data"]["credentials"]
    assert (await call(lk, "/me", refreshed["access_token"])).json() == me.json()


async def test_two_test_connections_get_two_accounts(lk: Running, workspace: Workspace) -> None:
    accounts = set()
    for xref in ("u-1", "u-2"):
        made = await lk.client.post(
            "/api/v1/connections", headers=workspace.auth(), json={"integration": "hubspot", "external_xref": xref}
        )
        creds = (await credentials(lk, workspace, made.json()["data"]["id"], env="sandbox")).json()["data"]
        accounts.add((await call(lk, "/me", creds["credentials"]["access_token"])).json()["id"])
    assert len(accounts) == 2


async def test_a_sandbox_client_credentials_connections_token_reads_the_data_api(
    lk: Running, workspace: Workspace
) -> None:
    activated = await lk.client.put("/api/v1/integrations/greenhouse", headers=workspace.auth(), json={})
    assert activated.status_code == 200, activated.text
    link = await lk.client.post(
        "/api/v1/auth-urls",
        headers=workspace.auth(),
        json={
            "integration": "greenhouse",
            "external_xref": "u-cc",
            "success_url": SUCCESS_URL,
            "failure_url": FAILURE_URL,
        },
    )
    page = await lk.client.get(link.json()["data"]["url"])
    match = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert match is not None, page.text
    done = await lk.client.post(
        "/auth/greenhouse/credentials",
        headers={"Origin": BASE_URL},
        data={"form_token": unescape(match.group(1)), "client_id": "cid", "client_secret": "csecret", "user_id": "7"},
    )
    assert done.status_code == 303 and done.headers["location"].startswith(SUCCESS_URL), done.text
    connection_id = query_of(done.headers["location"])["connection_id"]
    creds = (await credentials(lk, workspace, connection_id, env="sandbox")).json()["data"]["credentials"]
    assert creds["access_token"].startswith("sbx_cc_")
    assert (await call(lk, "/me", creds["access_token"])).status_code == 200


async def test_the_token_endpoint_refreshes_into_the_same_account_and_refuses_a_refresh_token_it_did_not_sign(
    lk: Running,
) -> None:
    signer = lk.services.signer
    account = new_account()
    client = {"client_id": SANDBOX_CLIENT_ID, "client_secret": SANDBOX_CLIENT_SECRET, "grant_type": "refresh_token"}
    good = await lk.client.post(
        "/sandbox/oauth/token", data={**client, "refresh_token": mint_tokens(signer, account).refresh_token}
    )
    assert good.status_code == 200, good.text
    body = good.json()
    assert body["expires_in"] == 3600
    assert account_of_access_token(signer, body["access_token"]) == account
    assert (await call(lk, "/me", body["access_token"])).json()["id"] == account
    for bad in (
        "sbx_rt_" + "x" * 32,
        mint_access_token(signer, account),
        mint_tokens(Signer("z" * 40), account).refresh_token,
    ):
        refused = await lk.client.post("/sandbox/oauth/token", data={**client, "refresh_token": bad})
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
