"""Connect sessions: minted by the host's backend, they open the picker where public links may not."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import sqlalchemy as sa

from server.db.clock import utcnow
from server.db.tables import connect_sessions, connections, flows
from tests.harness import FAILURE_URL, HOST_ORIGIN, SUCCESS_URL, Running, Workspace, new_workspace


def offered(page: httpx.Response) -> list[str]:
    """The integration slugs a picker page offers."""
    return sorted(part.split('"', 1)[0] for part in page.text.split('data-integration="')[1:])


def error_code(page: httpx.Response) -> str | None:
    marker = 'data-error-code="'
    return page.text.split(marker, 1)[1].split('"', 1)[0] if marker in page.text else None


async def session(lk: Running, workspace: Workspace, env: str = "sandbox", **body: Any) -> httpx.Response:
    return await lk.client.post(
        "/api/v1/connect-sessions", headers=workspace.auth(env), json={"external_xref": "user-1", **body}
    )


async def flow_count(lk: Running) -> int:
    n: int = await lk.db.fetch_val(sa.select(sa.func.count()).select_from(flows))
    return n


async def test_a_session_gives_a_token_and_a_picker_url(lk: Running, workspace: Workspace) -> None:
    made = await session(lk, workspace, success_url=SUCCESS_URL, failure_url=FAILURE_URL, state="s1")
    assert made.status_code == 201
    data = made.json()["data"]
    assert data["expires_at"].endswith("Z") and data["token"]
    url = urlsplit(data["url"])
    assert url.path == "/picker" and parse_qs(url.query)["session"] == [data["token"]]
    page = await lk.client.get(data["url"])
    assert page.status_code == 200 and offered(page) == ["sandbox", "shopify", "stripe"]
    assert 'data-state="s1"' in page.text and 'data-external-xref="user-1"' in page.text


async def test_origin_not_allowed_is_refused(lk: Running, workspace: Workspace) -> None:
    for origin in ("http://evil.test", "http://host.test.evil.example", "http://host.test:8080", "https://host.test"):
        made = await session(lk, workspace, origin=origin)
        assert made.status_code == 400 and made.json()["error"]["code"] == "origin_not_allowed", origin
        assert "token" not in made.text


async def test_an_allowed_origin_is_accepted_in_any_spelling(lk: Running, workspace: Workspace) -> None:
    made = await session(lk, workspace, origin="HTTP://HOST.TEST:80/")
    assert made.status_code == 201
    page = await lk.client.get(made.json()["data"]["url"])
    assert page.status_code == 200 and f'data-host-origin="{HOST_ORIGIN}"' in page.text


async def test_redirect_not_allowed_is_refused(lk: Running, workspace: Workspace) -> None:
    for body in (
        {"success_url": "http://host.test/elsewhere"},
        {"failure_url": "http://evil.test/failed"},
        {"success_url": SUCCESS_URL + "#x"},
        {"success_url": "http://host.test.evil.example/connected"},
    ):
        made = await session(lk, workspace, **body)
        assert made.status_code == 400 and made.json()["error"]["code"] == "redirect_not_allowed", body


async def test_a_session_opens_the_picker_where_public_links_are_refused(lk: Running, workspace: Workspace) -> None:
    assert (
        await lk.client.put("/api/v1/integrations/stripe", headers=workspace.auth("production"), json={})
    ).status_code == 200
    public = await lk.client.get(
        "/picker",
        params={"workspace": workspace.id, "env": "production", "external_xref": "user-1", "mode": "redirect"},
    )
    assert public.status_code == 403 and error_code(public) == "session_required"
    assert 'data-integration="' not in public.text
    made = await session(lk, workspace, "production")
    page = await lk.client.get(made.json()["data"]["url"])
    assert page.status_code == 200 and offered(page) == ["stripe"]
    assert "/auth/stripe/start?ctx=" in page.text


async def test_public_links_work_in_production_once_public_mode_is_on(lk: Running, workspace: Workspace) -> None:
    await lk.client.put("/api/v1/integrations/stripe", headers=workspace.auth("production"), json={})
    await lk.client.patch("/api/v1/environment", headers=workspace.auth("production"), json={"public_mode": True})
    page = await lk.client.get(
        "/picker", params={"workspace": workspace.id, "env": "production", "external_xref": "u", "mode": "redirect"}
    )
    assert page.status_code == 200 and offered(page) == ["stripe"]


async def test_a_tampered_session_gets_an_error_page(lk: Running, workspace: Workspace) -> None:
    token = (await session(lk, workspace)).json()["data"]["token"]
    bad = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    page = await lk.client.get("/picker", params={"session": bad, "mode": "redirect"})
    assert page.status_code == 400 and error_code(page) == "invalid_state"
    assert "ctx=" not in page.text and await flow_count(lk) == 0


async def test_a_token_of_another_kind_is_not_a_session(lk: Running, workspace: Workspace) -> None:
    made = await lk.client.post(
        "/api/v1/auth-urls",
        headers=workspace.auth(),
        json={"integration": "stripe", "external_xref": "u", "success_url": SUCCESS_URL, "failure_url": FAILURE_URL},
    )
    link = parse_qs(urlsplit(made.json()["data"]["url"]).query)["link"][0]
    page = await lk.client.get("/picker", params={"session": link, "mode": "redirect"})
    assert page.status_code == 400 and error_code(page) == "invalid_state"


async def test_an_expired_session_gets_an_error_page(lk: Running, workspace: Workspace) -> None:
    token = (await session(lk, workspace)).json()["data"]["token"]
    await lk.db.execute(connect_sessions.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    page = await lk.client.get("/picker", params={"session": token, "mode": "redirect"})
    assert page.status_code == 400 and error_code(page) == "expired_session"
    assert "ctx=" not in page.text


async def test_the_picker_honours_the_sessions_integrations_filter(lk: Running, workspace: Workspace) -> None:
    made = await session(lk, workspace, integrations=["stripe"])
    page = await lk.client.get(made.json()["data"]["url"])
    assert offered(page) == ["stripe"]
    # The page's own query string cannot widen what the host's backend allowed.
    widened = await lk.client.get(
        "/picker",
        params={
            "session": made.json()["data"]["token"],
            "mode": "redirect",
            "integrations": "sandbox,shopify,stripe",
            "scopes": "",
        },
    )
    assert offered(widened) == ["stripe"]


async def test_the_picker_honours_the_sessions_scopes(lk: Running, workspace: Workspace) -> None:
    made = await session(lk, workspace, scopes=["crm_deal_read"])
    page = await lk.client.get(made.json()["data"]["url"])
    assert offered(page) == ["sandbox"]
    same = await lk.client.get(
        "/picker", params={"session": made.json()["data"]["token"], "mode": "redirect", "scopes": "commerce_order_read"}
    )
    assert offered(same) == ["sandbox"]


async def test_a_session_made_for_one_origin_cannot_be_used_from_another(lk: Running, workspace: Workspace) -> None:
    await lk.client.patch(
        "/api/v1/environment", headers=workspace.auth(), json={"allowed_origins": [HOST_ORIGIN, "http://other.test"]}
    )
    token = (await session(lk, workspace, origin=HOST_ORIGIN)).json()["data"]["token"]
    page = await lk.client.get("/picker", params={"session": token, "mode": "popup", "origin": "http://other.test"})
    assert page.status_code == 400 and error_code(page) == "origin_not_allowed"


async def test_reauthorization_session_is_pinned_to_the_connection(lk: Running, workspace: Workspace) -> None:
    made = await lk.client.post(
        "/api/v1/connections", headers=workspace.auth(), json={"integration": "shopify", "external_xref": "user-7"}
    )
    connection_id = made.json()["data"]["id"]
    answer = await lk.client.post(
        "/api/v1/connect-sessions", headers=workspace.auth(), json={"connection_id": connection_id}
    )
    assert answer.status_code == 201
    page = await lk.client.get(answer.json()["data"]["url"])
    assert offered(page) == ["shopify"] and 'data-external-xref="user-7"' in page.text


async def test_reauthorization_session_with_another_users_xref_is_400(lk: Running, workspace: Workspace) -> None:
    made = await lk.client.post(
        "/api/v1/connections", headers=workspace.auth(), json={"integration": "shopify", "external_xref": "user-7"}
    )
    answer = await session(lk, workspace, connection_id=made.json()["data"]["id"], external_xref="user-8")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_request"


async def test_reauthorization_session_for_another_workspaces_connection_is_404(
    lk: Running, workspace: Workspace
) -> None:
    made = await lk.client.post(
        "/api/v1/connections", headers=workspace.auth(), json={"integration": "shopify", "external_xref": "user-7"}
    )
    connection_id = made.json()["data"]["id"]
    other = await new_workspace(lk.services)
    answer = await lk.client.post(
        "/api/v1/connect-sessions", headers=other.auth(), json={"connection_id": connection_id}
    )
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found" and "token" not in answer.text
    answer = await session(lk, workspace, "production", connection_id=connection_id)
    assert answer.status_code == 404
    assert await lk.db.fetch_val(sa.select(sa.func.count()).select_from(connections)) == 1


async def test_a_session_needs_an_external_xref(lk: Running, workspace: Workspace) -> None:
    answer = await lk.client.post("/api/v1/connect-sessions", headers=workspace.auth(), json={})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_request"
    assert "external_xref" in answer.json()["error"]["message"]


async def test_auth_url_goes_straight_to_one_integrations_start(lk: Running, workspace: Workspace) -> None:
    made = await lk.client.post(
        "/api/v1/auth-urls",
        headers=workspace.auth(),
        json={"integration": "stripe", "external_xref": "u", "success_url": SUCCESS_URL, "failure_url": FAILURE_URL},
    )
    assert made.status_code == 201
    url = made.json()["data"]["url"]
    assert urlsplit(url).path == "/auth/stripe/start"
    form = await lk.client.get(url)
    assert form.status_code == 200 and 'id="lk-credentials"' in form.text


async def test_auth_url_needs_both_redirect_urls(lk: Running, workspace: Workspace) -> None:
    for body in ({"success_url": SUCCESS_URL}, {"failure_url": FAILURE_URL}):
        made = await lk.client.post(
            "/api/v1/auth-urls", headers=workspace.auth(), json={"integration": "stripe", "external_xref": "u", **body}
        )
        assert made.status_code == 400 and made.json()["error"]["code"] == "invalid_request"
