"""Popup mode end to end: host page on localhost, Latchkey on 127.0.0.1, sandbox provider."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
from playwright.sync_api import Page

if TYPE_CHECKING:
    from tests.browser.conftest import Demo


def test_popup_approve_gives_the_host_a_connection_id(demo: Demo, page: Page) -> None:
    page.goto(f"{demo.host.url}/popup.html")
    with page.expect_popup() as popup_info:
        page.click("#connect")
    popup = popup_info.value
    popup.wait_for_load_state()
    popup.click("a[data-integration=sandbox]")
    popup.click("button[value=approve]")
    page.wait_for_function("document.getElementById('out').textContent.length > 0", timeout=10000)
    out = page.text_content("#out")
    assert out is not None
    assert out.startswith("ok conn_") and out.endswith(" host-state")
    connection_id = out.split()[1]
    got = httpx.get(
        f"{demo.base}/api/v1/connections/{connection_id}", headers={"Authorization": f"Bearer {demo.sandbox_key}"}
    )
    assert got.status_code == 200 and got.json()["data"]["external_xref"] == "browser-user"


def test_popup_deny_reports_access_denied(demo: Demo, page: Page) -> None:
    page.goto(f"{demo.host.url}/popup.html")
    with page.expect_popup() as popup_info:
        page.click("#connect")
    popup = popup_info.value
    popup.click("a[data-integration=sandbox]")
    popup.click("button[value=deny]")
    page.wait_for_function("document.getElementById('out').textContent.length > 0", timeout=10000)
    assert page.text_content("#out") == "error access_denied"
