"""The integration picker page: what it offers, what it refuses, and how it may be framed."""

from __future__ import annotations

import html
import json

import httpx
import sqlalchemy as sa

from server.db.tables import flows
from tests.harness import FAILURE_URL, HOST_ORIGIN, SUCCESS_URL, Running, Workspace, new_workspace


def params(workspace: Workspace, **extra: str | None) -> dict[str, str]:
    values: dict[str, str | None] = {
        "workspace": workspace.id,
        "env": "sandbox",
        "external_xref": "user-1",
        "mode": "redirect",
        "success_url": SUCCESS_URL,
        "failure_url": FAILURE_URL,
    }
    values.update(extra)
    return {k: v for k, v in values.items() if v is not None}


def offered(page: httpx.Response) -> list[str]:
    return sorted(part.split('"', 1)[0] for part in page.text.split('data-integration="')[1:])


def error_code(page: httpx.Response) -> str | None:
    marker = 'data-error-code="'
    return page.text.split(marker, 1)[1].split('"', 1)[0] if marker in page.text else None


def frame_ancestors(page: httpx.Response) -> str:
    csp: str = page.headers["content-security-policy"]
    return (
        next(d.strip() for d in csp.split(";") if d.strip().startswith("frame-ancestors"))
        .removeprefix("frame-ancestors ")
        .strip()
    )


async def picker(lk: Running, workspace: Workspace, **extra: str | None) -> httpx.Response:
    return await lk.client.get("/picker", params=params(workspace, **extra))


async def test_public_mode_lists_activated_integrations_only(lk: Running, workspace: Workspace) -> None:
    page = await picker(lk, workspace)
    assert page.status_code == 200
    assert offered(page) == ["sandbox", "shopify", "stripe"]
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"


async def test_each_offer_links_to_its_start_with_a_signed_context(lk: Running, workspace: Workspace) -> None:
    page = await picker(lk, workspace)
    for slug in ("sandbox", "shopify", "stripe"):
        assert f'href="/auth/{slug}/start?ctx=' in page.text


async def test_activating_and_deactivating_changes_the_offer(lk: Running, workspace: Workspace) -> None:
    await lk.client.put("/api/v1/integrations/hubspot", headers=workspace.auth(), json={})
    await lk.client.delete("/api/v1/integrations/shopify", headers=workspace.auth())
    assert offered(await picker(lk, workspace)) == ["hubspot", "sandbox", "stripe"]


async def test_integrations_filter(lk: Running, workspace: Workspace) -> None:
    assert offered(await picker(lk, workspace, integrations="stripe")) == ["stripe"]
    assert offered(await picker(lk, workspace, integrations="stripe,shopify")) == ["shopify", "stripe"]
    # A filter naming an integration that is not activated offers nothing more.
    assert offered(await picker(lk, workspace, integrations="hubspot,stripe")) == ["stripe"]


async def test_unknown_integration_in_the_filter_is_an_error_page(lk: Running, workspace: Workspace) -> None:
    page = await picker(lk, workspace, integrations="stripe,no-such-thing")
    assert page.status_code == 400 and error_code(page) == "integration_not_found" and offered(page) == []


async def test_categories_filter(lk: Running, workspace: Workspace) -> None:
    assert offered(await picker(lk, workspace, categories="commerce")) == ["shopify", "stripe"]
    assert offered(await picker(lk, workspace, categories="crm")) == ["sandbox"]
    assert offered(await picker(lk, workspace, categories="crm,accounting")) == ["sandbox", "stripe"]
    assert offered(await picker(lk, workspace, categories="hris")) == []


async def test_a_malformed_category_is_an_error_page(lk: Running, workspace: Workspace) -> None:
    page = await picker(lk, workspace, categories="CRM;drop")
    assert page.status_code == 400 and error_code(page) == "invalid_request"


async def test_scopes_hide_integrations_that_cannot_grant_them(lk: Running, workspace: Workspace) -> None:
    assert offered(await picker(lk, workspace, scopes="crm_deal_read")) == ["sandbox"]
    assert offered(await picker(lk, workspace, scopes="commerce_order_read")) == ["shopify", "stripe"]
    assert offered(await picker(lk, workspace, scopes="crm_contact_read")) == ["sandbox", "shopify", "stripe"]
    assert offered(await picker(lk, workspace, scopes="crm_deal_read,commerce_order_read")) == []


async def test_scopes_outside_an_activations_own_list_are_hidden(lk: Running, workspace: Workspace) -> None:
    await lk.client.put(
        "/api/v1/integrations/shopify", headers=workspace.auth(), json={"scopes": ["commerce_item_read"]}
    )
    assert offered(await picker(lk, workspace, scopes="commerce_order_read")) == ["stripe"]
    assert offered(await picker(lk, workspace, scopes="commerce_item_read")) == ["shopify", "stripe"]


async def test_unknown_scope_is_an_error_page(lk: Running, workspace: Workspace) -> None:
    page = await picker(lk, workspace, scopes="crm_contact_read,crm_everything")
    assert page.status_code == 400 and error_code(page) == "invalid_request"
    assert "crm_everything" in page.text and offered(page) == []


async def test_origin_not_allowed_in_popup_mode_is_an_error_page(lk: Running, workspace: Workspace) -> None:
    for origin in ("http://evil.test", "http://host.test.evil.example", "http://host.test:8080", "null"):
        page = await picker(lk, workspace, mode="popup", origin=origin)
        assert page.status_code == 400 and error_code(page) == "origin_not_allowed", origin
        assert offered(page) == [] and "ctx=" not in page.text


async def test_popup_mode_needs_an_origin(lk: Running, workspace: Workspace) -> None:
    page = await picker(lk, workspace, mode="popup", origin=None)
    assert page.status_code == 400 and error_code(page) == "invalid_request"


async def test_popup_mode_with_an_allowed_origin(lk: Running, workspace: Workspace) -> None:
    page = await picker(lk, workspace, mode="popup", origin=HOST_ORIGIN)
    assert page.status_code == 200 and f'data-host-origin="{HOST_ORIGIN}"' in page.text
    assert frame_ancestors(page) == "'none'"


async def test_redirect_urls_off_the_allowlist_are_an_error_page(lk: Running, workspace: Workspace) -> None:
    page = await picker(lk, workspace, success_url="http://host.test/elsewhere")
    assert page.status_code == 400 and error_code(page) == "redirect_not_allowed" and offered(page) == []


async def test_inline_mode_may_be_framed_by_the_allowed_origins_only(lk: Running, workspace: Workspace) -> None:
    await lk.client.patch(
        "/api/v1/environment",
        headers=workspace.auth(),
        json={"allowed_origins": [HOST_ORIGIN, "https://second.example"]},
    )
    page = await picker(lk, workspace, mode="inline", origin=HOST_ORIGIN)
    assert page.status_code == 200
    assert frame_ancestors(page).split() == [HOST_ORIGIN, "https://second.example"]


async def test_other_modes_may_not_be_framed(lk: Running, workspace: Workspace) -> None:
    for mode in ("redirect", "popup"):
        page = await picker(lk, workspace, mode=mode, origin=HOST_ORIGIN if mode == "popup" else None)
        assert page.status_code == 200 and frame_ancestors(page) == "'none'", mode


async def test_error_pages_may_not_be_framed_by_an_origin_off_the_allowlist(lk: Running, workspace: Workspace) -> None:
    page = await picker(lk, workspace, mode="inline", origin="http://evil.test", nonce="n" * 16)
    assert page.status_code == 400 and frame_ancestors(page) == "'none'"
    assert "data-payload" not in page.text and "result.js" not in page.text  # and it tells no one


def posted(page: httpx.Response) -> dict[str, object]:
    raw = page.text.split('data-payload="', 1)[1].split('"', 1)[0]
    message: dict[str, object] = json.loads(html.unescape(raw))
    return message


async def test_an_inline_error_page_may_be_framed_by_the_allowed_host_and_tells_it_why(
    lk: Running, workspace: Workspace
) -> None:
    page = await picker(lk, workspace, mode="inline", origin=HOST_ORIGIN, nonce="n" * 16, external_xref=None)
    assert page.status_code == 400 and error_code(page) == "invalid_request"
    assert frame_ancestors(page) == HOST_ORIGIN  # that origin alone, not the whole allowlist
    assert f'data-host-origin="{HOST_ORIGIN}"' in page.text and "/static/result.js" in page.text
    message = posted(page)
    assert message["type"] == "connection.failed" and message["nonce"] == "n" * 16
    assert message["error"] == "invalid_request" and "external_xref" in str(message["errorDescription"])


async def test_a_popup_error_page_tells_the_allowed_host_but_may_not_be_framed(
    lk: Running, workspace: Workspace
) -> None:
    page = await picker(lk, workspace, mode="popup", origin=HOST_ORIGIN, nonce="n" * 16, scopes="no_such_scope")
    assert page.status_code == 400 and frame_ancestors(page) == "'none'"
    assert posted(page)["error"] == error_code(page) == "invalid_request"


async def test_a_revoked_sessions_error_page_tells_its_host(lk: Running, workspace: Workspace) -> None:
    created = await lk.client.post(
        "/api/v1/connect-sessions", headers=workspace.auth(), json={"external_xref": "u-1", "origin": HOST_ORIGIN}
    )
    session = created.json()["data"]
    assert (await lk.client.delete(f"/api/v1/connect-sessions/{session['id']}", headers=workspace.auth())).is_success
    page = await lk.client.get(
        "/picker", params={"session": session["token"], "mode": "inline", "origin": HOST_ORIGIN, "nonce": "n" * 16}
    )
    assert error_code(page) == "expired_session" and frame_ancestors(page) == HOST_ORIGIN
    assert posted(page)["error"] == "expired_session"
    forged = await lk.client.get(
        "/picker", params={"session": "x" * 40, "mode": "inline", "origin": HOST_ORIGIN, "nonce": "n" * 16}
    )
    assert error_code(forged) == "invalid_state" and frame_ancestors(forged) == "'none'"
    assert "data-payload" not in forged.text


async def test_error_pages_follow_the_requests_lang_and_theme(lk: Running, workspace: Workspace) -> None:
    page = await lk.client.get(
        "/picker",
        params=params(workspace, scopes="no_such_scope", lang="ja", theme="dark"),
        headers={"Accept-Language": "fr"},
    )
    assert page.status_code == 400 and '<html lang="ja" data-theme="dark"' in page.text


async def test_empty_state_when_nothing_is_activated(lk: Running) -> None:
    bare = await new_workspace(lk.services, activate=())
    page = await picker(lk, bare)
    assert page.status_code == 200 and offered(page) == []
    assert 'data-state="empty"' in page.text


async def test_empty_state_when_filters_leave_nothing(lk: Running, workspace: Workspace) -> None:
    page = await picker(lk, workspace, integrations="stripe", categories="crm")
    assert page.status_code == 200 and offered(page) == [] and 'data-state="empty"' in page.text


async def test_sandbox_only_integrations_never_appear_in_production(lk: Running, workspace: Workspace) -> None:
    other = await new_workspace(lk.services, activate=(), public_production=True)
    await lk.client.put("/api/v1/integrations/stripe", headers=other.auth("production"), json={})
    page = await picker(lk, other, env="production")
    assert page.status_code == 200 and offered(page) == ["stripe"]
    assert (await picker(lk, other, env="production", integrations="sandbox")).status_code == 400


async def test_unknown_workspace_or_environment(lk: Running, workspace: Workspace) -> None:
    missing = await lk.client.get("/picker", params={**params(workspace), "workspace": "ws_nope"})
    assert missing.status_code == 404 and error_code(missing) == "not_found"
    page = await picker(lk, workspace, env="staging")
    assert page.status_code == 400 and error_code(page) == "invalid_request"


async def test_a_missing_external_xref_is_an_error_page(lk: Running, workspace: Workspace) -> None:
    page = await picker(lk, workspace, external_xref=None)
    assert page.status_code == 400 and error_code(page) == "invalid_request"


async def test_display_options_are_checked(lk: Running, workspace: Workspace) -> None:
    for bad in (
        {"mode": "fullscreen"},
        {"theme": "neon"},
        {"accent": "red;}"},
        {"nonce": "short"},
        {"channel": "x"},
        {"state": "s" * 513},
    ):
        page = await picker(lk, workspace, **bad)
        assert page.status_code == 400 and error_code(page) == "invalid_request", bad


async def test_showing_the_picker_writes_no_flow(lk: Running, workspace: Workspace) -> None:
    await picker(lk, workspace)
    assert await lk.db.fetch_val(sa.select(sa.func.count()).select_from(flows)) == 0
