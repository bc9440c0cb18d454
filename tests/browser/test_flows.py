"""The widget's flows end to end in Chromium: popup, redirect and inline modes through the sandbox
provider and the Stripe API-key form, blocked and closed popups, forged messages, connect sessions.

The host page (pages/harness.html, on http://localhost:HPORT) records every callback, the promise's
outcome and every message it receives in `window.seen`; Latchkey runs on http://127.0.0.1:PORT.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import BrowserContext, FrameLocator, Page

if TYPE_CHECKING:
    from tests.browser.conftest import Demo


PAGES = Path(__file__).parent / "pages"
RIGHT_STRIPE_KEY = "sk_test_" + "a1B2c3D4e5F6g7H8i9J0k1L2"


# -- helpers --------------------------------------------------------------------------------------


def public_options(demo: Demo, xref: str, **extra: Any) -> dict[str, Any]:
    return {
        "workspaceId": demo.workspace_id,
        "environment": "sandbox",
        "externalXref": xref,
        "state": "host-state",
        **extra,
    }


def new_xref() -> str:
    return "user-" + secrets.token_hex(4)


def seen(page: Page) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = page.evaluate("window.seen")
    return entries


def kinds(page: Page) -> list[str]:
    return [entry["kind"] for entry in seen(page)]


def values(page: Page, kind: str) -> list[Any]:
    return [entry["value"] for entry in seen(page) if entry["kind"] == kind]


def wait_for(page: Page, *wanted: str, timeout: float = 10_000) -> None:
    page.wait_for_function("ks => window.seen.some(e => ks.includes(e.kind))", arg=list(wanted), timeout=timeout)


def connections_of(demo: Demo, xref: str) -> list[dict[str, Any]]:
    got = httpx.get(
        f"{demo.base}/api/v1/connections",
        params={"external_xref": xref},
        headers={"Authorization": f"Bearer {demo.sandbox_key}"},
        timeout=5,
    )
    assert got.status_code == 200
    listed: list[dict[str, Any]] = got.json()["data"]
    return listed


def open_harness(demo: Demo, page: Page) -> None:
    page.goto(f"{demo.host.url}/harness.html")
    page.wait_for_function("typeof window.Latchkey === 'object'")


def open_popup(page: Page, options: dict[str, Any]) -> Page:
    page.evaluate("o => { window.options = o; }", options)
    with page.expect_popup() as popup_info:
        page.click("#open")
    popup = popup_info.value
    popup.wait_for_load_state()
    return popup


def wait_closed(popup: Page, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not popup.is_closed():
        assert time.monotonic() < deadline, "the popup is still open"
        time.sleep(0.05)


def assert_connected(page: Page, demo: Demo, xref: str, integration: str, state: str | None = "host-state") -> str:
    wait_for(page, "resolved", "rejected")
    [connection] = values(page, "resolved")
    assert connection["connectionId"].startswith("conn_")
    assert connection == {
        "connectionId": connection["connectionId"],
        "integration": integration,
        "externalXref": xref,
        "state": state,
    }
    assert values(page, "success") == [connection] and values(page, "connection_created") == [connection]
    assert "error" not in kinds(page) and "close" not in kinds(page) and "rejected" not in kinds(page)
    [stored] = connections_of(demo, xref)
    assert stored["id"] == connection["connectionId"] and stored["integration"] == integration
    connection_id: str = connection["connectionId"]
    return connection_id


def assert_failed(page: Page, demo: Demo, xref: str, code: str) -> None:
    wait_for(page, "rejected", "resolved")
    [rejected] = values(page, "rejected")
    assert rejected["code"] == code and rejected["name"] == "LatchkeyError"
    assert values(page, "error") == [rejected]
    assert "success" not in kinds(page) and "close" not in kinds(page)
    assert connections_of(demo, xref) == []


# -- popup mode -----------------------------------------------------------------------------------


def test_popup_approve_resolves_with_the_connection(demo: Demo, page: Page) -> None:
    xref = new_xref()
    open_harness(demo, page)
    popup = open_popup(page, public_options(demo, xref))
    popup.click("a[data-integration=sandbox]")
    popup.click("button[value=approve]")
    assert_connected(page, demo, xref, "sandbox")
    assert "connection.created" in values(page, "event") and "load" in kinds(page)
    wait_closed(popup)  # the embed closes the popup once it has the result


def test_popup_deny_rejects_with_access_denied(demo: Demo, page: Page) -> None:
    xref = new_xref()
    open_harness(demo, page)
    popup = open_popup(page, public_options(demo, xref))
    popup.click("a[data-integration=sandbox]")
    popup.click("button[value=deny]")
    assert_failed(page, demo, xref, "access_denied")


# -- redirect mode --------------------------------------------------------------------------------


def redirect_options(demo: Demo, xref: str) -> dict[str, Any]:
    return public_options(
        demo,
        xref,
        mode="redirect",
        integrations=["sandbox"],
        successUrl=f"{demo.host.url}/done.html",
        failureUrl=f"{demo.host.url}/done.html?failed=1",
    )


def test_redirect_approve_lands_on_the_success_url(demo: Demo, page: Page) -> None:
    xref = new_xref()
    open_harness(demo, page)
    page.evaluate("o => { window.options = o; }", redirect_options(demo, xref))
    page.click("#open")
    page.wait_for_url(f"{demo.base}/picker?**")
    assert parse_qs(urlsplit(page.url).query)["mode"] == ["redirect"]
    page.click("a[data-integration=sandbox]")
    page.click("button[value=approve]")
    page.wait_for_url(f"{demo.host.url}/done.html?**")
    query = parse_qs(urlsplit(page.url).query)
    [stored] = connections_of(demo, xref)
    assert query == {"connection_id": [stored["id"]], "integration": ["sandbox"], "state": ["host-state"]}


def test_redirect_deny_lands_on_the_failure_url(demo: Demo, page: Page) -> None:
    xref = new_xref()
    open_harness(demo, page)
    page.evaluate("o => { window.options = o; }", redirect_options(demo, xref))
    page.click("#open")
    page.click("a[data-integration=sandbox]")
    page.click("button[value=deny]")
    page.wait_for_url(f"{demo.host.url}/done.html?**")
    query = parse_qs(urlsplit(page.url).query)
    assert query["failed"] == ["1"] and query["error"] == ["access_denied"] and query["state"] == ["host-state"]
    assert "connection_id" not in query and connections_of(demo, xref) == []


# -- inline mode ----------------------------------------------------------------------------------


def mount_inline(page: Page, options: dict[str, Any]) -> FrameLocator:
    page.evaluate("o => window.mountInline(o)", options)
    wait_for(page, "load")
    return page.frame_locator("#inline iframe")


def test_inline_oauth_runs_in_a_popup_and_reaches_the_host(demo: Demo, page: Page) -> None:
    xref = new_xref()
    open_harness(demo, page)
    picker = mount_inline(page, public_options(demo, xref, integrations=["sandbox", "stripe"]))
    with page.expect_popup() as popup_info:
        picker.locator("a[data-integration=sandbox]").click()
    popup = popup_info.value
    popup.click("button[value=approve]")
    connection = wait_for_inline_result(page)
    assert connection["kind"] == "success"
    assert connection["value"]["integration"] == "sandbox" and connection["value"]["externalXref"] == xref
    [stored] = connections_of(demo, xref)
    assert stored["id"] == connection["value"]["connectionId"]
    assert values(page, "event").count("connection.created") == 1 and "error" not in kinds(page)
    # The popup posted to the iframe (its opener), which relayed the result to the host.
    relayed = [m for m in values(page, "message") if m["type"] == "connection.created"]
    assert relayed == [{"origin": demo.base, "type": "connection.created", "connectionId": stored["id"]}]
    assert page.locator("#inline iframe").count() == 1  # an inline picker stays until destroy()


def test_inline_oauth_deny_reaches_the_host_as_an_error(demo: Demo, page: Page) -> None:
    xref = new_xref()
    open_harness(demo, page)
    picker = mount_inline(page, public_options(demo, xref, integrations=["sandbox"]))
    with page.expect_popup() as popup_info:
        picker.locator("a[data-integration=sandbox]").click()
    popup_info.value.click("button[value=deny]")
    outcome = wait_for_inline_result(page)
    assert outcome == {
        "kind": "error",
        "value": {"code": "access_denied", "name": "LatchkeyError", "message": outcome["value"]["message"]},
    }
    assert "success" not in kinds(page) and connections_of(demo, xref) == []


def wait_for_inline_result(page: Page) -> dict[str, Any]:
    wait_for(page, "success", "error", "close")
    [outcome] = [e for e in seen(page) if e["kind"] in ("success", "error", "close")]
    return outcome


# -- popup blocked, popup closed ------------------------------------------------------------------


BLOCK_POPUPS = "window.open = function () { return null; };"


def test_blocked_popup_rejects_with_popup_blocked(demo: Demo, context: BrowserContext, page: Page) -> None:
    page.add_init_script(BLOCK_POPUPS)
    open_harness(demo, page)
    page.evaluate("o => { window.options = o; }", public_options(demo, new_xref()))
    page.click("#open")
    wait_for(page, "rejected")
    [rejected] = values(page, "rejected")
    assert rejected["code"] == "popup_blocked" and values(page, "error") == [rejected]
    assert len(context.pages) == 1 and page.url == f"{demo.host.url}/harness.html"


def test_blocked_popup_with_fallback_goes_to_the_picker_in_redirect_mode(demo: Demo, page: Page) -> None:
    xref = new_xref()
    page.add_init_script(BLOCK_POPUPS)
    open_harness(demo, page)
    options = public_options(
        demo, xref, integrations=["sandbox"], fallbackToRedirect=True, successUrl=f"{demo.host.url}/done.html"
    )
    page.evaluate("o => { window.options = o; }", options)
    page.click("#open")
    page.wait_for_url(f"{demo.base}/picker?**")
    query = parse_qs(urlsplit(page.url).query)
    assert query["mode"] == ["redirect"] and "nonce" not in query and "channel" not in query
    page.click("a[data-integration=sandbox]")
    page.click("button[value=approve]")
    page.wait_for_url(f"{demo.host.url}/done.html?**")
    [stored] = connections_of(demo, xref)
    assert parse_qs(urlsplit(page.url).query)["connection_id"] == [stored["id"]]


def test_closing_the_popup_calls_on_close_and_rejects_with_closed(demo: Demo, page: Page) -> None:
    xref = new_xref()
    open_harness(demo, page)
    popup = open_popup(page, public_options(demo, xref))
    popup.close()
    wait_for(page, "rejected", timeout=5000)
    assert values(page, "rejected") == [{"code": "closed", "name": "LatchkeyError", "message": "The picker was closed"}]
    assert "close" in kinds(page) and "error" not in kinds(page) and "success" not in kinds(page)


def test_closing_the_popup_at_the_provider_rejects_with_closed_within_seconds(demo: Demo, page: Page) -> None:
    xref = new_xref()
    open_harness(demo, page)
    popup = open_popup(page, public_options(demo, xref))
    [channel] = parse_qs(urlsplit(popup.url).query)["channel"]
    popup.click("a[data-integration=hubspot]")  # to the (sandbox) provider: the flow has started
    popup.locator("button[value=approve]").wait_for()
    started = httpx.get(f"{demo.base}/widget/result", params={"channel": channel}, timeout=5).json()
    assert started == {"status": "pending", "started": True}
    time.sleep(1.2)  # the embed's poll has seen the start too
    popup.close()
    began = time.monotonic()
    wait_for(page, "rejected", timeout=8000)
    assert values(page, "rejected")[0]["code"] == "closed" and "close" in kinds(page)
    assert time.monotonic() - began < 6
    assert connections_of(demo, xref) == []


def test_the_pickers_close_button_calls_on_close(demo: Demo, page: Page) -> None:
    open_harness(demo, page)
    popup = open_popup(page, public_options(demo, new_xref()))
    with popup.expect_event("close"):
        popup.click("#lk-close")
    wait_for(page, "rejected", timeout=5000)
    assert values(page, "rejected")[0]["code"] == "closed" and kinds(page).count("close") == 1


# -- forged messages ------------------------------------------------------------------------------


def test_a_forged_message_from_another_origin_is_ignored(demo: Demo, page: Page, other_site: str) -> None:
    xref = new_xref()
    open_harness(demo, page)
    popup = open_popup(page, public_options(demo, xref, integrations=["sandbox"]))
    nonce = parse_qs(urlsplit(popup.url).query)["nonce"][0]  # the attacker even knows the nonce
    page.evaluate(
        "src => { const f = document.createElement('iframe'); f.src = src; document.body.appendChild(f); }",
        f"{other_site}/forge.html?nonce={nonce}",
    )
    page.wait_for_function("o => window.seen.some(e => e.kind === 'message' && e.value.origin === o)", arg=other_site)
    # The host's own window posting a perfect copy is refused too: not Latchkey's origin, not the popup.
    page.evaluate(
        """n => window.postMessage({source: 'latchkey', version: 1, nonce: n, type: 'connection.created',
                     connectionId: 'conn_forged', integration: 'sandbox', externalXref: null, state: null}, '*')""",
        nonce,
    )
    page.wait_for_function(
        "() => window.seen.filter(e => e.kind === 'message' && e.value.connectionId === 'conn_forged').length === 2"
    )
    page.wait_for_timeout(300)
    assert not {"success", "resolved", "error", "rejected"} & set(kinds(page))
    # The real flow still ends normally, with the real connection.
    popup.click("a[data-integration=sandbox]")
    popup.click("button[value=approve]")
    connection_id = assert_connected(page, demo, xref, "sandbox")
    assert connection_id != "conn_forged"


# -- the API-key form (Stripe) --------------------------------------------------------------------

# Both need the server changes proposed with this file: (1) our pages send no referrer, so Chromium
# posts the credentials form with `Origin: null` and server/routes/auth.py refuses it as cross-site;
# (2) the sandbox's simulated rejection (`bad…`) never sees a Stripe key, whose pattern fails first.
FORM_FIX_PENDING = pytest.mark.xfail(
    strict=True,
    reason="pending server fix: credentials form refused as cross-site (Origin: null); sk_test_bad… accepted",
)


def submit_stripe_key(frame: Page | FrameLocator, key: str) -> None:
    frame.locator("#f-api_key").fill(key)
    frame.locator("#lk-credentials button[type=submit]").click()


def test_popup_stripe_form_refuses_wrong_keys_then_accepts_a_right_one(demo: Demo, page: Page) -> None:
    xref = new_xref()
    open_harness(demo, page)
    popup = open_popup(page, public_options(demo, xref, integrations=["stripe"]))
    popup.click("a[data-integration=stripe]")
    submit_stripe_key(popup, "bad_key_0123456789")  # not a Stripe key at all: the field says so
    popup.locator("[data-field-error=api_key]:not(:empty)").wait_for(timeout=5000)
    submit_stripe_key(popup, "sk_test_" + "bad" + "0" * 21)  # well-formed, refused by the sandbox "provider"
    popup.locator(".lk-alert[data-error-code=invalid_credentials]").wait_for(timeout=5000)
    assert popup.locator("#lk-credentials").is_visible()
    assert not {"success", "resolved", "error", "rejected"} & set(kinds(page)) and connections_of(demo, xref) == []
    submit_stripe_key(popup, RIGHT_STRIPE_KEY)
    assert_connected(page, demo, xref, "stripe")


def test_inline_stripe_form_refuses_a_wrong_key_then_accepts_a_right_one(demo: Demo, page: Page) -> None:
    xref = new_xref()
    open_harness(demo, page)
    picker = mount_inline(page, public_options(demo, xref, integrations=["stripe", "sandbox"]))
    picker.locator("a[data-integration=stripe]").click()  # forms stay in the iframe: no popup
    submit_stripe_key(picker, "sk_test_" + "bad" + "0" * 21)
    picker.locator(".lk-alert[data-error-code=invalid_credentials]").wait_for(timeout=5000)
    assert not {"success", "error"} & set(kinds(page)) and connections_of(demo, xref) == []
    submit_stripe_key(picker, RIGHT_STRIPE_KEY)
    outcome = wait_for_inline_result(page)
    assert outcome["kind"] == "success" and outcome["value"]["integration"] == "stripe"
    [stored] = connections_of(demo, xref)
    assert stored["id"] == outcome["value"]["connectionId"] and "credentials" not in stored


# -- connect sessions -----------------------------------------------------------------------------


def mint_session(demo: Demo, xref: str, **extra: Any) -> str:
    body = {
        "external_xref": xref,
        "integrations": ["sandbox"],
        "origin": demo.host.url,
        "state": "session-state",
        **extra,
    }
    got = httpx.post(
        f"{demo.base}/api/v1/connect-sessions",
        json=body,
        headers={"Authorization": f"Bearer {demo.sandbox_key}"},
        timeout=5,
    )
    assert got.status_code == 201, got.text
    token: str = got.json()["data"]["token"]
    return token


def test_connect_session_opens_the_picker_and_binds_the_end_user(demo: Demo, page: Page) -> None:
    xref = new_xref()
    token = mint_session(demo, xref)
    open_harness(demo, page)
    popup = open_popup(page, {"sessionToken": token})
    assert [a.get_attribute("data-integration") for a in popup.locator("a.lk-item").all()] == ["sandbox"]
    popup.click("a[data-integration=sandbox]")
    popup.click("button[value=approve]")
    assert_connected(page, demo, xref, "sandbox", state="session-state")
