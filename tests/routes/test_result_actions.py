"""Where a redirect-mode flow ends on our own page (no URL for its outcome): the outcome, what to
do next, "Try again" back to the same flow's picker and "Back to app"."""

from __future__ import annotations

import html
from typing import Any

import httpx

from server.db import connect_sessions as session_store
from tests.harness import HOST_ORIGIN, SUCCESS_URL, Running, Workspace
from tests.routes.test_sandbox_flow import run_to_consent


async def finish(lk: Running, workspace: Workspace, decision: str, **extra: Any) -> httpx.Response:
    _, request_token = await run_to_consent(lk, workspace, **extra)
    decided = await lk.client.post("/sandbox/oauth/decide", data={"request": request_token, "decision": decision})
    return await lk.client.get(decided.headers["location"])


def link(page: httpx.Response, element_id: str) -> str | None:
    marker = f'id="{element_id}" href="'
    return html.unescape(page.text.split(marker, 1)[1].split('"', 1)[0]) if marker in page.text else None


async def test_a_success_without_a_success_url_shows_the_connection_id_and_the_way_back(
    lk: Running, workspace: Workspace
) -> None:
    page = await finish(lk, workspace, "approve", success_url=None, failure_url=SUCCESS_URL)
    assert page.status_code == 200
    listed = (await lk.client.get("/api/v1/connections", headers=workspace.auth())).json()["data"]
    [connection] = listed
    assert f'<code id="lk-connection-id">{connection["id"]}</code>' in page.text
    assert "You can close this window" not in page.text
    home = SUCCESS_URL.split("/", 3)[:3]
    assert link(page, "lk-back-to-app") == "/".join(home) + "/"  # the home of the host's other URL
    assert link(page, "lk-again") is None  # nothing to try again after a success


async def test_a_failure_without_a_failure_url_offers_try_again_on_the_same_flow(
    lk: Running, workspace: Workspace
) -> None:
    page = await finish(lk, workspace, "deny", success_url=None, failure_url=None, external_xref="user-again")
    assert page.status_code == 400 and 'data-error-code="access_denied"' in page.text
    assert link(page, "lk-back-to-app") is None  # the host named no URL and no origin in redirect mode
    again = link(page, "lk-again")
    assert again is not None and again.startswith("/picker/again?ctx=")
    picker = await lk.client.get(again)
    assert picker.status_code == 200 and 'data-integration="sandbox"' in picker.text
    assert 'data-external-xref="user-again"' in picker.text  # the same end-user's flow


async def test_try_again_is_refused_once_the_connect_session_is_revoked(lk: Running, workspace: Workspace) -> None:
    created = await lk.client.post(
        "/api/v1/connect-sessions",
        headers=workspace.auth(),
        json={"external_xref": "u-session", "integrations": ["sandbox"]},
    )
    session = created.json()["data"]
    picker = await lk.client.get("/picker", params={"session": session["token"], "mode": "redirect"})
    ctx = picker.text.split('href="/auth/sandbox/start?ctx=', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    start = await lk.client.get(f"/auth/sandbox/start?ctx={ctx}")
    consent = await lk.client.get(start.headers["location"])
    request_token = consent.text.split('name="request" value="', 1)[1].split('"', 1)[0]
    decided = await lk.client.post("/sandbox/oauth/decide", data={"request": request_token, "decision": "deny"})
    page = await lk.client.get(decided.headers["location"])
    again = link(page, "lk-again")
    assert again is not None
    assert (await lk.client.get(again)).status_code == 200  # still open: the picker again
    assert await session_store.revoke(lk.db, workspace.id, "sandbox", session["id"]) is not None
    refused = await lk.client.get(again)
    assert refused.status_code == 400 and 'data-error-code="expired_session"' in refused.text


async def test_a_forged_try_again_link_is_an_error_page(lk: Running, workspace: Workspace) -> None:
    page = await lk.client.get("/picker/again", params={"ctx": "forged.token"})
    assert page.status_code == 400 and 'data-error-code="invalid_state"' in page.text


async def test_a_reconnect_session_shows_its_one_integration_without_search(lk: Running, workspace: Workspace) -> None:
    made = await lk.client.post(
        "/api/v1/connections", headers=workspace.auth(), json={"integration": "sandbox", "external_xref": "u-re"}
    )
    assert made.status_code == 201, made.text
    connection_id = made.json()["data"]["id"]
    created = await lk.client.post(
        "/api/v1/connect-sessions",
        headers=workspace.auth(),
        json={"connection_id": connection_id, "origin": HOST_ORIGIN},
    )
    assert created.status_code == 201, created.text
    token = created.json()["data"]["token"]
    page = await lk.client.get("/picker", params={"session": token, "mode": "popup", "origin": HOST_ORIGIN})
    assert page.status_code == 200
    assert '<h1 id="lk-title">Reconnect Sandbox CRM</h1>' in page.text
    assert page.text.count('data-integration="') == 1
    assert 'id="lk-search"' not in page.text and 'id="lk-categories"' not in page.text
    plain = await lk.client.get(
        "/picker", params={"workspace": workspace.id, "env": "sandbox", "external_xref": "u", "mode": "redirect"}
    )
    assert '<h1 id="lk-title">Connect an integration</h1>' in plain.text and 'id="lk-search"' in plain.text


async def test_end_users_never_see_the_sandbox_category(lk: Running, workspace: Workspace) -> None:
    page = await lk.client.get(
        "/picker", params={"workspace": workspace.id, "env": "sandbox", "external_xref": "u", "mode": "redirect"}
    )
    assert 'value="sandbox"' not in page.text and "lk-cat-sandbox" not in page.text
    item = page.text.split('data-integration="sandbox"', 1)[1].split("</a>", 1)[0]
    assert '<span class="lk-meta">CRM</span>' in item  # its other category, not "Sandbox · CRM"
