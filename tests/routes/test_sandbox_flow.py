"""The sandbox environment's full redirect dance: picker → start → consent → callback → host."""

from __future__ import annotations

from typing import Any

import httpx
import sqlalchemy as sa

from server.db.tables import connections
from tests.harness import FAILURE_URL, HOST_ORIGIN, SUCCESS_URL, Running, Workspace, query_of


def picker_params(workspace: Workspace, **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "workspace": workspace.id,
        "env": "sandbox",
        "external_xref": "user-42",
        "mode": "redirect",
        "success_url": SUCCESS_URL,
        "failure_url": FAILURE_URL,
        "state": "host-state-1",
    }
    params.update(extra)
    return params


async def start_link(lk: Running, workspace: Workspace, slug: str = "sandbox", **extra: Any) -> str:
    page = await lk.client.get("/picker", params=picker_params(workspace, **extra))
    assert page.status_code == 200, page.text
    marker = f'href="/auth/{slug}/start?ctx='
    assert marker in page.text
    return page.text.split(marker, 1)[1].split('"', 1)[0].replace("&amp;", "&")


async def run_to_consent(lk: Running, workspace: Workspace, **extra: Any) -> tuple[httpx.Response, str]:
    ctx = await start_link(lk, workspace, **extra)
    start = await lk.client.get(f"/auth/sandbox/start?ctx={ctx}")
    assert start.status_code == 302, start.text
    consent = await lk.client.get(start.headers["location"])
    assert consent.status_code == 200
    request_token = consent.text.split('name="request" value="', 1)[1].split('"', 1)[0]
    return start, request_token


async def count_connections(lk: Running) -> int:
    n: int = await lk.db.fetch_val(sa.select(sa.func.count()).select_from(connections))
    return n


async def test_sandbox_approve_redirects_to_success_url_with_connection(lk: Running, workspace: Workspace) -> None:
    start, request_token = await run_to_consent(lk, workspace, scopes="crm_contact_read,user_profile")
    authorize = query_of(start.headers["location"])
    assert authorize["code_challenge_method"] == "S256"
    assert authorize["scope"] == "contacts.read profile"
    decided = await lk.client.post("/sandbox/oauth/decide", data={"request": request_token, "decision": "approve"})
    assert decided.status_code == 302
    callback = await lk.client.get(decided.headers["location"])
    assert callback.status_code == 302, callback.text
    target = callback.headers["location"]
    assert target.startswith(SUCCESS_URL + "?")
    result = query_of(target)
    assert result["integration"] == "sandbox" and result["state"] == "host-state-1"
    got = await lk.client.get(
        f"/api/v1/connections/{result['connection_id']}?include=credentials", headers=workspace.auth()
    )
    assert got.status_code == 200
    data = got.json()["data"]
    assert data["external_xref"] == "user-42" and data["status"] == "healthy"
    assert data["credentials"]["access_token"].startswith("sbx_at_")
    assert data["scopes_granted"] == ["crm_contact_read", "user_profile"] and data["partial_grant"] is False


async def test_sandbox_deny_redirects_to_failure_url_and_writes_nothing(lk: Running, workspace: Workspace) -> None:
    _, request_token = await run_to_consent(lk, workspace)
    decided = await lk.client.post("/sandbox/oauth/decide", data={"request": request_token, "decision": "deny"})
    callback = await lk.client.get(decided.headers["location"])
    assert callback.status_code == 302
    result = query_of(callback.headers["location"])
    assert callback.headers["location"].startswith(FAILURE_URL + "?")
    assert result["error"] == "access_denied" and result["state"] == "host-state-1"
    assert await count_connections(lk) == 0


async def test_popup_mode_result_page_posts_to_the_exact_host_origin(lk: Running, workspace: Workspace) -> None:
    channel = "c" * 43
    _, request_token = await run_to_consent(
        lk, workspace, mode="popup", origin=HOST_ORIGIN, nonce="n" * 22, channel=channel
    )
    decided = await lk.client.post("/sandbox/oauth/decide", data={"request": request_token, "decision": "approve"})
    page = await lk.client.get(decided.headers["location"])
    assert page.status_code == 200
    assert f'data-host-origin="{HOST_ORIGIN}"' in page.text
    assert "&#34;type&#34;: &#34;connection.created&#34;" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    polled = await lk.client.get("/widget/result", params={"channel": channel}, headers={"Origin": HOST_ORIGIN})
    body = polled.json()
    assert body["status"] == "done" and body["message"]["type"] == "connection.created"
    assert body["message"]["nonce"] == "n" * 22
    assert polled.headers["access-control-allow-origin"] == HOST_ORIGIN
    other = await lk.client.get("/widget/result", params={"channel": channel}, headers={"Origin": "http://evil.test"})
    assert "access-control-allow-origin" not in other.headers
