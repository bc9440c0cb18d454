"""Connect sessions and authorization links are server-side records: the first browser that starts
a flow with one owns it, an authorization link is used up by its successful flow, both expire and
can be revoked. A refused start reaches no provider and writes no flow."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from html import unescape
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from server.db.clock import utcnow
from server.db.tables import connect_sessions, connections, flows
from tests.harness import FAILURE_URL, HOST_ORIGIN, SUCCESS_URL, Running, Workspace, query_of

GOOD_KEY = "sk_test_" + "a1B2c3D4e5F6g7H8i9J0k1L2"


def error_code(page: httpx.Response) -> str | None:
    found = re.search(r'data-error-code="([a-z_]+)"', page.text)
    return found.group(1) if found else None


@pytest.fixture
async def other_browser(lk: Running) -> AsyncIterator[httpx.AsyncClient]:
    """A second browser: the same service, its own cookie jar."""
    transport = httpx.ASGITransport(app=lk.app)
    async with httpx.AsyncClient(transport=transport, base_url=lk.services.settings.base_url) as client:
        yield client


async def new_session(lk: Running, workspace: Workspace, **body: Any) -> dict[str, Any]:
    made = await lk.client.post(
        "/api/v1/connect-sessions",
        headers=workspace.auth(),
        json={"external_xref": "user-1", "success_url": SUCCESS_URL, "failure_url": FAILURE_URL, **body},
    )
    assert made.status_code == 201, made.text
    data: dict[str, Any] = made.json()["data"]
    return data


async def new_auth_url(lk: Running, workspace: Workspace, integration: str = "sandbox") -> dict[str, Any]:
    made = await lk.client.post(
        "/api/v1/auth-urls",
        headers=workspace.auth(),
        json={
            "integration": integration,
            "external_xref": "user-1",
            "success_url": SUCCESS_URL,
            "failure_url": FAILURE_URL,
        },
    )
    assert made.status_code == 201, made.text
    data: dict[str, Any] = made.json()["data"]
    return data


async def start_link(browser: httpx.AsyncClient, picker_url: str, slug: str = "sandbox") -> str:
    """Open the picker in this browser and return its start link for `slug`."""
    page = await browser.get(picker_url)
    assert page.status_code == 200, page.text
    marker = f'href="/auth/{slug}/start?ctx='
    assert marker in page.text
    return f"/auth/{slug}/start?ctx=" + unescape(page.text.split(marker, 1)[1].split('"', 1)[0])


async def count(lk: Running, table: sa.Table) -> int:
    n: int = await lk.db.fetch_val(sa.select(sa.func.count()).select_from(table))
    return n


async def approve(browser: httpx.AsyncClient, started: httpx.Response) -> httpx.Response:
    """The end-user approves at the sandbox provider; returns the callback's answer."""
    consent = await browser.get(started.headers["location"])
    request_token = consent.text.split('name="request" value="', 1)[1].split('"', 1)[0]
    decided = await browser.post("/sandbox/oauth/decide", data={"request": request_token, "decision": "approve"})
    return await browser.get(decided.headers["location"])


async def test_a_connect_session_is_refused_in_a_second_browser_once_one_started_with_it(
    lk: Running, workspace: Workspace, other_browser: httpx.AsyncClient
) -> None:
    session = await new_session(lk, workspace)
    mine = await lk.client.get(await start_link(lk.client, session["url"]))
    assert mine.status_code == 302
    flows_before = await count(lk, flows)
    theirs = await other_browser.get(await start_link(other_browser, session["url"]))
    assert theirs.status_code == 403 and error_code(theirs) == "session_used"
    assert "location" not in theirs.headers and await count(lk, flows) == flows_before


async def test_the_browser_that_started_a_session_may_start_again_and_connect_another_integration(
    lk: Running, workspace: Workspace
) -> None:
    session = await new_session(lk, workspace)
    first = await lk.client.get(await start_link(lk.client, session["url"]))
    assert first.status_code == 302
    again = await lk.client.get(await start_link(lk.client, session["url"]))  # after a denial, say
    assert again.status_code == 302
    form = await lk.client.get(await start_link(lk.client, session["url"], "stripe"))
    assert form.status_code == 200 and 'id="lk-credentials"' in form.text


async def test_an_inline_picker_whose_frame_gets_no_cookie_keeps_its_session(
    lk: Running, workspace: Workspace, other_browser: httpx.AsyncClient
) -> None:
    session = await new_session(lk, workspace, origin=HOST_ORIGIN)
    picker = session["url"].replace("mode=redirect", "mode=inline") + f"&origin={HOST_ORIGIN}"
    link = await start_link(lk.client, picker, "stripe")
    for _ in range(2):  # third-party cookies blocked: the frame never keeps the binding cookie
        lk.client.cookies.clear()
        form = await lk.client.get(link)
        assert form.status_code == 200 and 'id="lk-credentials"' in form.text
    stranger = await other_browser.get(await start_link(other_browser, picker, "stripe"))
    assert stranger.status_code == 403 and error_code(stranger) == "session_used"


async def test_an_auth_url_is_used_up_by_its_successful_flow(lk: Running, workspace: Workspace) -> None:
    link = await new_auth_url(lk, workspace)
    started = await lk.client.get(link["url"])
    assert started.status_code == 302
    back = await approve(lk.client, started)
    assert back.status_code == 302 and back.headers["location"].startswith(SUCCESS_URL)
    again = await lk.client.get(link["url"])
    assert again.status_code == 403 and error_code(again) == "session_used"
    assert await count(lk, connections) == 1


async def test_an_auth_url_stays_usable_after_a_denial(lk: Running, workspace: Workspace) -> None:
    link = await new_auth_url(lk, workspace)
    started = await lk.client.get(link["url"])
    consent = await lk.client.get(started.headers["location"])
    request_token = consent.text.split('name="request" value="', 1)[1].split('"', 1)[0]
    decided = await lk.client.post("/sandbox/oauth/decide", data={"request": request_token, "decision": "deny"})
    denied = await lk.client.get(decided.headers["location"])
    assert query_of(denied.headers["location"])["error"] == "access_denied"
    assert (await lk.client.get(link["url"])).status_code == 302


async def test_an_auth_url_opened_in_another_browser_is_refused(
    lk: Running, workspace: Workspace, other_browser: httpx.AsyncClient
) -> None:
    link = await new_auth_url(lk, workspace)
    assert (await lk.client.get(link["url"])).status_code == 302
    flows_before = await count(lk, flows)
    theirs = await other_browser.get(link["url"])
    assert theirs.status_code == 403 and error_code(theirs) == "session_used"
    assert "location" not in theirs.headers and await count(lk, flows) == flows_before


async def test_two_flows_of_one_auth_url_cannot_both_connect(lk: Running, workspace: Workspace) -> None:
    link = await new_auth_url(lk, workspace)
    first = await lk.client.get(link["url"])
    second = await lk.client.get(link["url"])  # the same browser, two tabs
    assert first.status_code == second.status_code == 302
    assert (await approve(lk.client, first)).headers["location"].startswith(SUCCESS_URL)
    late = await approve(lk.client, second)
    assert query_of(late.headers["location"])["error"] == "session_used"
    assert await count(lk, connections) == 1


async def test_an_expired_session_or_link_gets_expired_session(lk: Running, workspace: Workspace) -> None:
    session = await new_session(lk, workspace)
    link = await new_auth_url(lk, workspace)
    started_link = await start_link(lk.client, session["url"])
    await lk.db.execute(connect_sessions.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    for url in (session["url"], link["url"], started_link):
        page = await lk.client.get(url)
        assert page.status_code == 400 and error_code(page) == "expired_session", url
    assert await count(lk, flows) == 0


async def test_a_revoked_connect_session_starts_nothing(
    lk: Running, workspace: Workspace, other_browser: httpx.AsyncClient
) -> None:
    session = await new_session(lk, workspace)
    assert session["id"].startswith("cs_") and session["expires_at"].endswith("Z")
    link = await start_link(lk.client, session["url"])
    other = await lk.client.delete(f"/api/v1/connect-sessions/{session['id']}", headers=workspace.auth("production"))
    assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
    revoked = await lk.client.delete(f"/api/v1/connect-sessions/{session['id']}", headers=workspace.auth())
    assert revoked.status_code == 204
    for page in (await lk.client.get(session["url"]), await lk.client.get(link)):
        assert page.status_code == 400 and error_code(page) == "expired_session"
    assert await count(lk, flows) == 0


async def test_a_revoked_session_lets_no_started_flow_complete(lk: Running, workspace: Workspace) -> None:
    session = await new_session(lk, workspace)
    started = await lk.client.get(await start_link(lk.client, session["url"]))
    await lk.client.delete(f"/api/v1/connect-sessions/{session['id']}", headers=workspace.auth())
    back = await approve(lk.client, started)
    assert back.headers["location"].startswith(FAILURE_URL)
    assert query_of(back.headers["location"])["error"] == "expired_session"
    assert await count(lk, connections) == 0


async def test_the_token_is_kept_only_as_its_hash(lk: Running, workspace: Workspace) -> None:
    session = await new_session(lk, workspace)
    link = await new_auth_url(lk, workspace)
    rows = [dict(r._mapping) for r in await lk.db.fetch_all(sa.select(connect_sessions))]
    stored = repr(rows)
    assert len(rows) == 2 and session["token"] not in stored
    assert query_of(link["url"])["link"] not in stored


async def test_the_binding_cookie_lives_no_longer_than_a_connect_session(lk: Running, workspace: Workspace) -> None:
    session = await new_session(lk, workspace)
    started = await lk.client.get(await start_link(lk.client, session["url"]))
    cookie = started.headers["set-cookie"]
    assert "latchkey_bind=" in cookie and f"Max-Age={lk.services.settings.connect_session_max_age}" in cookie
    assert lk.services.settings.connect_session_max_age == 1800


async def test_a_reauthorization_session_cannot_start_another_integration(lk: Running, workspace: Workspace) -> None:
    made = await lk.client.post(
        "/api/v1/connections", headers=workspace.auth(), json={"integration": "stripe", "external_xref": "user-7"}
    )
    session = await new_session(lk, workspace, connection_id=made.json()["data"]["id"], external_xref=None)
    stripe_link = await start_link(lk.client, session["url"], "stripe")
    forged = stripe_link.replace("/auth/stripe/", "/auth/sandbox/")
    refused = await lk.client.get(forged)
    assert refused.status_code == 302
    assert query_of(refused.headers["location"])["error"] == "integration_not_active"
    assert await count(lk, flows) == 0 and await count(lk, connections) == 1


async def test_a_reauthorization_session_never_writes_a_new_connection_in_place_of_a_deleted_one(
    lk: Running, workspace: Workspace
) -> None:
    made = await lk.client.post(
        "/api/v1/connections", headers=workspace.auth(), json={"integration": "stripe", "external_xref": "user-7"}
    )
    connection_id = made.json()["data"]["id"]
    session = await new_session(lk, workspace, connection_id=connection_id, external_xref=None)
    form = await lk.client.get(await start_link(lk.client, session["url"], "stripe"))
    token = unescape(form.text.split('name="form_token" value="', 1)[1].split('"', 1)[0])
    assert (await lk.client.delete(f"/api/v1/connections/{connection_id}", headers=workspace.auth())).status_code == 204
    submitted = await lk.client.post(
        "/auth/stripe/credentials",
        data={"form_token": token, "api_key": GOOD_KEY},
        headers={"Origin": lk.services.settings.base_url},
    )
    assert submitted.status_code == 303 and query_of(submitted.headers["location"])["error"] == "not_found"
    assert await count(lk, connections) == 0
