"""The pages an end-user ends on in their own window, in Chromium: a redirect-mode flow with no URL
for its outcome (the README tour's first URL) shows the outcome and the way on; a reconnect session
shows its one integration."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

import httpx
from playwright.sync_api import Page

from tests.browser.test_flows import connections_of, new_xref, open_harness, open_popup

if TYPE_CHECKING:
    from tests.browser.conftest import Demo


def test_a_redirect_flow_without_urls_offers_try_again_then_shows_the_connection_id(demo: Demo, page: Page) -> None:
    xref = new_xref()
    query = urlencode({"workspace": demo.workspace_id, "env": "sandbox", "external_xref": xref, "mode": "redirect"})
    page.goto(f"{demo.base}/picker?{query}")
    page.click("a[data-integration=sandbox]")
    page.click("button[value=deny]")
    assert page.get_attribute("[data-error-code]", "data-error-code") == "access_denied"
    assert page.locator("#lk-back-to-app").count() == 0  # the host named nowhere to go back to
    page.get_by_role("link", name="Try again").click()
    page.click("a[data-integration=sandbox]")  # the same flow's picker
    page.click("button[value=approve]")
    shown = page.text_content("#lk-connection-id")
    [stored] = connections_of(demo, xref)
    assert shown == stored["id"]
    assert page.get_by_text("You can close this window").count() == 0
    assert page.get_by_role("link", name="Try again").count() == 0


def test_a_reconnect_session_shows_reconnect_and_its_one_integration(demo: Demo, page: Page) -> None:
    auth = {"Authorization": f"Bearer {demo.sandbox_key}"}
    made = httpx.post(
        f"{demo.base}/api/v1/connections",
        json={"integration": "sandbox", "external_xref": new_xref()},
        headers=auth,
        timeout=5,
    )
    assert made.status_code == 201, made.text
    session = httpx.post(
        f"{demo.base}/api/v1/connect-sessions",
        json={"connection_id": made.json()["data"]["id"], "origin": demo.host.url},
        headers=auth,
        timeout=5,
    )
    assert session.status_code == 201, session.text
    open_harness(demo, page)
    popup = open_popup(page, {"sessionToken": session.json()["data"]["token"]})
    assert popup.get_by_role("heading", level=1).text_content() == "Reconnect Sandbox CRM"
    assert popup.locator("a.lk-item").count() == 1
    assert popup.locator("#lk-search").count() == 0 and popup.locator("#lk-categories").count() == 0


def test_the_picker_shows_no_sandbox_chip(demo: Demo, page: Page) -> None:
    query = urlencode({"workspace": demo.workspace_id, "env": "sandbox", "external_xref": "u", "mode": "redirect"})
    page.goto(f"{demo.base}/picker?{query}")
    chips = [label.text_content() for label in page.locator("#lk-categories label").all()]
    assert chips and "Sandbox" not in chips
