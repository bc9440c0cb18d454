"""What the host learns when the picker cannot open, in Chromium, with the host on another site.

An inline picker whose parameters name an environment that allows the host's origin shows its
error page inside the frame and posts `connection.failed` with the stable code (onError fires);
anything else — a forged session token, an origin off the allowlist — is refused a frame by the
browser, and the embed fails with `load_failed` soon after the frame's load event instead of
leaving the host with Chrome's blocked-frame icon and no callback.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from playwright.sync_api import Page, expect

from tests.browser.test_flows import kinds, new_xref, open_harness, public_options, values, wait_for

if TYPE_CHECKING:
    from tests.browser.conftest import Demo

PAGES = Path(__file__).parent / "pages"


def mount_inline(page: Page, options: dict[str, Any]) -> None:
    page.evaluate("o => window.mountInline(o)", options)


def inline_error_code(page: Page) -> str | None:
    frame = page.frame_locator("#inline iframe")
    section = frame.locator("[data-error-code]")
    section.wait_for(timeout=10_000)
    return section.get_attribute("data-error-code")


def the_only_error(page: Page) -> dict[str, Any]:
    wait_for(page, "error", timeout=10_000)
    [error] = values(page, "error")
    assert error["name"] == "LatchkeyError"
    assert "success" not in kinds(page) and "load" not in kinds(page)
    found: dict[str, Any] = error
    return found


def test_an_inline_picker_without_an_end_user_shows_its_error_in_the_frame_and_calls_on_error(
    demo: Demo, page: Page
) -> None:
    open_harness(demo, page)
    options = public_options(demo, new_xref(), lang="de", theme="dark")
    del options["externalXref"]
    mount_inline(page, options)
    assert inline_error_code(page) == "invalid_request"
    error = the_only_error(page)
    assert error["code"] == "invalid_request" and "external_xref" in error["message"]
    frame = page.frame_locator("#inline iframe")
    assert frame.locator("html").get_attribute("lang") == "de"  # the request's lang and theme, not the browser's
    assert frame.locator("html").get_attribute("data-theme") == "dark"
    # The end-user reads German; the host's onError keeps the service's English message.
    expect(frame.locator("#lk-error-text")).to_have_text(
        "Dieser Link ist unvollständig oder fehlerhaft. Öffnen Sie das Verbindungsfenster erneut aus der Anwendung."
    )
    expect(frame.locator("details.lk-details")).not_to_have_attribute("open", "")


def test_an_inline_picker_with_a_revoked_session_shows_expired_session_in_the_frame(demo: Demo, page: Page) -> None:
    token, session_id = mint_session_with_id(demo, new_xref())
    got = httpx.delete(
        f"{demo.base}/api/v1/connect-sessions/{session_id}",
        headers={"Authorization": f"Bearer {demo.sandbox_key}"},
        timeout=5,
    )
    assert got.status_code in (200, 204), got.text
    open_harness(demo, page)
    mount_inline(page, {"sessionToken": token})
    assert inline_error_code(page) == "expired_session"
    assert the_only_error(page)["code"] == "expired_session"


def test_an_inline_picker_with_a_forged_session_fails_with_load_failed(demo: Demo, page: Page) -> None:
    open_harness(demo, page)
    mount_inline(page, {"sessionToken": "cs_" + "x" * 40})
    error = the_only_error(page)
    assert error["code"] == "load_failed"
    # Nothing names an environment, so nothing may frame the error page: the browser refused it.
    frame = page.main_frame.child_frames[0]
    assert frame.url.startswith("chrome-error:")


def test_an_inline_picker_on_an_origin_off_the_allowlist_fails_with_load_failed(
    demo: Demo, page: Page, other_site: str
) -> None:
    page.goto(f"{other_site}/harness.html")  # an origin on no allowlist
    page.evaluate(
        "base => new Promise((resolve, reject) => { const s = document.createElement('script');"
        " s.src = base + '/embed.js'; s.onload = resolve; s.onerror = reject; document.head.appendChild(s); })",
        demo.base,
    )
    mount_inline(page, {**public_options(demo, new_xref()), "baseUrl": demo.base})
    error = the_only_error(page)
    assert error["code"] == "load_failed"
    assert page.main_frame.child_frames[0].url.startswith("chrome-error:")  # the origin may not frame even the error


def mint_session_with_id(demo: Demo, xref: str) -> tuple[str, str]:
    got = httpx.post(
        f"{demo.base}/api/v1/connect-sessions",
        json={"external_xref": xref, "integrations": ["sandbox"], "origin": demo.host.url},
        headers={"Authorization": f"Bearer {demo.sandbox_key}"},
        timeout=5,
    )
    assert got.status_code == 201, got.text
    data = got.json()["data"]
    return data["token"], data["id"]
