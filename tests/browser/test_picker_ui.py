"""The picker page as a person uses it, in Chromium: keyboard, search, categories, close, small
screens, themes and languages, the API-key form, and axe-core's WCAG 2.2 AA checks.

The demo workspace offers Sandbox CRM, HubSpot, Shopify, Slack and Stripe in its sandbox.
Screenshots go to test-artifacts/ (picker-light.png, picker-dark.png, picker-ja.png, …).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Browser, FrameLocator, Page, expect

if TYPE_CHECKING:
    from tests.browser.conftest import Demo


AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
OFFERED = ["hubspot", "sandbox", "shopify", "slack", "stripe"]  # sorted by name: HubSpot, Sandbox CRM, …
RIGHT_STRIPE_KEY = "sk_test_" + "Zx81Qw47Er65Ty03Ui92Op18"


def picker_url(demo: Demo, **params: Any) -> str:
    query = {
        "workspace": demo.workspace_id,
        "env": "sandbox",
        "external_xref": "picker-user",
        "mode": "popup",
        "origin": demo.host.url,
        "nonce": "picker-ui-nonce-0123456789",
    }
    query.update({k: v for k, v in params.items() if v is not None})
    return f"{demo.base}/picker?{urlencode(query)}"


def visible_integrations(page: Page) -> list[str]:
    slugs: list[str] = page.eval_on_selector_all(
        "a.lk-item", "els => els.filter(e => e.offsetParent).map(e => e.dataset.integration)"
    )
    return slugs


def focused_integration(page: Page) -> str | None:
    slug: str | None = page.evaluate("document.activeElement && document.activeElement.dataset.integration || null")
    return slug


def status_text(page: Page) -> str:
    text = page.text_content("#lk-count")
    assert text is not None
    return text.strip()


def csp_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    return errors


# -- keyboard -------------------------------------------------------------------------------------


def test_keyboard_only_selection_opens_the_sandbox_consent_page(demo: Demo, page: Page) -> None:
    page.goto(picker_url(demo, mode="redirect", origin=None))
    for _ in range(12):  # Tab from the top of the page until the list's one tab stop has focus
        page.keyboard.press("Tab")
        if focused_integration(page):
            break
    assert focused_integration(page) == "hubspot"
    page.keyboard.press("End")
    assert focused_integration(page) == "stripe"
    page.keyboard.press("Home")
    assert focused_integration(page) == "hubspot"
    page.keyboard.press("ArrowDown")
    assert focused_integration(page) == "sandbox"
    assert page.evaluate("[...document.querySelectorAll('a.lk-item')].filter(a => a.tabIndex === 0).length") == 1
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # a visible focus ring
    page.keyboard.press("Enter")
    page.wait_for_url(f"{demo.base}/sandbox/oauth/authorize?**")
    assert page.locator("button[value=approve]").is_visible()


def test_arrow_keys_move_between_the_search_box_and_the_list(demo: Demo, page: Page) -> None:
    page.goto(picker_url(demo))
    page.focus("#lk-search")
    page.keyboard.press("ArrowDown")
    assert focused_integration(page) == "hubspot"
    page.keyboard.press("ArrowUp")
    assert page.evaluate("document.activeElement.id") == "lk-search"


# -- search and categories ------------------------------------------------------------------------


def test_search_filters_the_list_and_announces_the_count(demo: Demo, page: Page) -> None:
    page.goto(picker_url(demo))
    assert (
        page.get_attribute("#lk-count", "role") == "status" and page.get_attribute("#lk-count", "aria-live") == "polite"
    )
    assert status_text(page) == "5 integrations" and visible_integrations(page) == OFFERED
    page.fill("#lk-search", "sl")
    expect(page.locator("#lk-count")).to_have_text("1 integration")
    assert visible_integrations(page) == ["slack"]
    page.fill("#lk-search", "commerce")  # category names are searched too
    expect(page.locator("#lk-count")).to_have_text("2 integrations")
    assert visible_integrations(page) == ["shopify", "stripe"]
    page.fill("#lk-search", "no such app")
    expect(page.locator("#lk-count")).to_have_text("No matching integrations")
    assert visible_integrations(page) == [] and page.locator("#lk-noresults").is_visible()
    page.click("#lk-reset")
    expect(page.locator("#lk-count")).to_have_text("5 integrations")
    assert visible_integrations(page) == OFFERED and not page.locator("#lk-noresults").is_visible()


def test_a_mouse_wheel_reaches_the_last_category_chip_on_a_narrow_picker(demo: Demo, page: Page) -> None:
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto(picker_url(demo))
    row = page.locator("#lk-categories")
    width = row.evaluate("r => [r.scrollWidth, r.clientWidth]")
    assert width[0] > width[1] + 40, "the chip row should overflow at 320 px for this test to mean anything"
    assert row.evaluate("r => getComputedStyle(r).scrollbarWidth") == "thin"  # a scrollbar to drag, not hidden
    last = page.locator("#lk-categories label").last
    box = row.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    at_end = "r => r.scrollLeft + r.clientWidth >= r.scrollWidth - 1"
    for _ in range(30):
        if row.evaluate(at_end):
            break
        page.mouse.wheel(0, 40)
        page.wait_for_timeout(30)
    assert row.evaluate(at_end)
    chip, frame = last.bounding_box(), row.bounding_box()
    assert chip is not None and frame is not None and chip["x"] + chip["width"] <= frame["x"] + frame["width"] + 1
    assert page.evaluate("window.scrollY") == 0  # the wheel moved the chips, not the page
    page.mouse.wheel(0, 120)  # at the end of the row the wheel is the page's again
    page.wait_for_function("() => window.scrollY > 0")


def test_escape_in_a_filled_search_box_clears_it_first(demo: Demo, page: Page) -> None:
    page.goto(picker_url(demo))
    page.fill("#lk-search", "hub")
    page.keyboard.press("Escape")
    assert page.input_value("#lk-search") == "" and visible_integrations(page) == OFFERED


def test_category_filter_is_a_keyboard_operable_radio_group(demo: Demo, page: Page) -> None:
    page.goto(picker_url(demo))
    assert page.locator("fieldset.lk-filter legend").text_content() == "Category"
    page.click("label[for=lk-cat-commerce]")
    expect(page.locator("#lk-count")).to_have_text("2 integrations")
    assert visible_integrations(page) == ["shopify", "stripe"]
    page.fill("#lk-search", "stri")
    expect(page.locator("#lk-count")).to_have_text("1 integration")
    assert visible_integrations(page) == ["stripe"]  # search and category combine
    page.fill("#lk-search", "")
    page.focus("#lk-cat-commerce")
    page.keyboard.press("ArrowRight")  # native radio group: arrows move the selection
    assert page.evaluate("document.querySelector('input[name=lk-category]:checked').value") == "crm"
    expect(page.locator("#lk-count")).to_have_text("2 integrations")
    assert visible_integrations(page) == ["hubspot", "sandbox"]


# -- inline mode: close and resize -----------------------------------------------------------------


def open_inline_host(demo: Demo, page: Page, **params: str) -> FrameLocator:
    page.goto(f"{demo.host.url}/picker-inline.html?{urlencode(params)}")
    page.wait_for_function("window.messages.some(m => m.type === 'loaded')")
    return page.frame_locator("iframe")


def host_messages(page: Page) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = page.evaluate("window.messages")
    return messages


def test_escape_posts_closed_to_the_host(demo: Demo, page: Page) -> None:
    frame = open_inline_host(demo, page)
    frame.locator("#lk-search").focus()
    page.keyboard.press("Escape")
    page.wait_for_function("window.messages.some(m => m.type === 'closed')")
    closed = [m for m in host_messages(page) if m["type"] == "closed"]
    assert len(closed) == 1
    assert closed[0]["nonce"] == "picker-ui-nonce-0123456789" and closed[0]["state"] == "host-state"
    assert closed[0]["source"] == "latchkey" and closed[0]["version"] == 1


def test_inline_picker_reports_its_height_and_shrinks_with_its_content(demo: Demo, page: Page) -> None:
    frame = open_inline_host(demo, page)
    page.wait_for_function("window.messages.some(m => m.type === 'resize')")
    full = [m["height"] for m in host_messages(page) if m["type"] == "resize"][-1]
    assert 300 < full < 1000
    frame.locator("#lk-search").fill("slack")
    page.wait_for_function(
        "h => window.messages.filter(m => m.type === 'resize').some(m => m.height < h - 100)", arg=full
    )
    frame.locator("#lk-search").fill("")
    page.wait_for_function("h => window.messages.filter(m => m.type === 'resize').slice(-1)[0].height === h", arg=full)
    assert page.evaluate("document.querySelector('iframe').height") == str(full)


def test_close_button_is_offered_only_where_there_is_something_to_close(demo: Demo, page: Page) -> None:
    page.goto(picker_url(demo, mode="popup"))
    assert page.evaluate("window.opener") is None and page.locator("#lk-close").is_visible()
    page.goto(picker_url(demo, mode="redirect", origin=None))
    assert page.locator("#lk-close").count() == 0  # nothing to close back to


# -- small screens, themes, languages --------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "de", "ja"])
def test_picker_fits_a_320px_phone_without_horizontal_scrolling(demo: Demo, browser: Browser, lang: str) -> None:
    context = browser.new_context(
        viewport={"width": 320, "height": 640}, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    try:
        page = context.new_page()
        page.goto(picker_url(demo, lang=lang))
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 320
        boxes = page.eval_on_selector_all("a.lk-item", "els => els.map(e => e.getBoundingClientRect().toJSON())")
        assert len(boxes) == 5
        assert all(b["left"] >= 0 and b["right"] <= 320 and b["width"] > 250 for b in boxes)
        for slug in OFFERED:
            item = page.locator(f"a.lk-item[data-integration={slug}]")
            item.scroll_into_view_if_needed()
            assert item.is_visible()
        page.fill("#lk-search", "zzz")
        page.wait_for_selector("#lk-noresults:not([hidden])")
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 320
    finally:
        context.close()


@pytest.mark.parametrize(
    ("name", "params", "scheme"),
    [
        ("picker-light", {"theme": "light"}, "light"),
        ("picker-dark", {"theme": "dark"}, "light"),
        ("picker-auto-dark", {"theme": "auto"}, "dark"),
        ("picker-ja", {"theme": "light", "lang": "ja"}, "light"),
        ("picker-accent", {"theme": "light", "accent": "ffd60a"}, "light"),
    ],
)
def test_picker_screenshots(
    demo: Demo, browser: Browser, artifacts: Path, name: str, params: dict[str, str], scheme: Literal["light", "dark"]
) -> None:
    context = browser.new_context(viewport={"width": 480, "height": 720}, color_scheme=scheme)
    try:
        page = context.new_page()
        errors = csp_errors(page)
        page.goto(picker_url(demo, **params))
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
        assert errors == []  # no inline style or script anywhere
        dark = page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgb(255, 255, 255)"
        assert dark == (name in ("picker-dark", "picker-auto-dark"))
    finally:
        context.close()


def test_picker_in_japanese_has_a_matching_html_lang(demo: Demo, page: Page) -> None:
    page.goto(picker_url(demo, lang="ja"))
    assert page.get_attribute("html", "lang") == "ja"
    assert page.text_content("h1") == "連携サービスを接続" and status_text(page) == "5 件の連携サービス"
    assert page.get_attribute("#lk-search", "placeholder") == "連携サービスを検索"


def test_accept_language_chooses_the_language_without_a_lang_parameter(demo: Demo, browser: Browser) -> None:
    context = browser.new_context(locale="fr-FR")
    try:
        page = context.new_page()
        page.goto(picker_url(demo))
        assert page.get_attribute("html", "lang") == "fr" and page.text_content("h1") == "Connecter une intégration"
    finally:
        context.close()


def test_accent_text_colour_keeps_contrast(demo: Demo, page: Page) -> None:
    for accent, text in (("ffd60a", "rgb(0, 0, 0)"), ("1e3a8a", "rgb(255, 255, 255)")):
        page.goto(picker_url(demo, theme="light", accent=accent))
        assert page.evaluate(
            "getComputedStyle(document.documentElement).getPropertyValue('--lk-on-accent').trim()"
        ) in ("#000000", "#ffffff")
        chip = page.locator("label[for=lk-cat-all]")
        assert chip.evaluate("e => getComputedStyle(e).color") == text


def test_empty_picker_says_how_to_activate_integrations(demo: Demo, page: Page) -> None:
    page.goto(picker_url(demo, integrations="gmail"))  # known, but not activated in the demo workspace
    empty = page.locator("[data-state=empty]")
    assert empty.is_visible()
    shown = empty.text_content()
    assert shown is not None
    assert "activate integrations" in shown and "/api/v1/integrations/" in shown
    assert page.locator("a.lk-item").count() == 0


def test_picker_security_headers(demo: Demo) -> None:
    got = httpx.get(picker_url(demo, mode="inline"), timeout=5)
    csp = got.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
    assert f"frame-ancestors {demo.host.url}" in csp
    assert got.headers["referrer-policy"] == "no-referrer"
    assert not re.search(r"\sstyle=", got.text) and "<style" not in got.text and "<script>" not in got.text
    assert not re.search(r"(src|href)=\"(https?:)?//", got.text)  # everything from Latchkey itself
    popup = httpx.get(picker_url(demo, mode="popup"), timeout=5)
    assert "frame-ancestors 'none'" in popup.headers["content-security-policy"]


# -- the API-key form (Stripe) ----------------------------------------------------------------------


def test_stripe_form_validates_fields_then_accepts_a_right_key(demo: Demo, page: Page, artifacts: Path) -> None:
    success = f"{demo.host.url}/done.html"
    page.goto(picker_url(demo, mode="redirect", origin=None, success_url=success, failure_url=success))
    page.click("a[data-integration=stripe]")
    page.wait_for_url(f"{demo.base}/auth/stripe/start?**")
    page.wait_for_load_state()
    key = page.locator("#f-api_key")
    error = page.locator("[data-field-error=api_key]")
    page.click("#lk-credentials button[type=submit]")  # empty
    assert key.get_attribute("aria-invalid") == "true" and error.text_content() == "This field is required."
    assert page.evaluate("document.activeElement.id") == "f-api_key"
    key.fill("pk_test_not_a_secret_key")
    page.click("#lk-credentials button[type=submit]")
    assert key.get_attribute("aria-invalid") == "true"
    assert error.text_content() == "Expected format: rk_live_..." and error.is_visible()
    described_by = key.get_attribute("aria-describedby")
    assert described_by is not None and "e-api_key" in described_by
    assert "/auth/stripe/start" in page.url  # nothing was sent
    page.screenshot(path=str(artifacts / "picker-credentials-invalid.png"), full_page=True)
    key.fill(RIGHT_STRIPE_KEY)
    assert key.get_attribute("aria-invalid") is None and error.text_content() == ""
    page.click("#lk-credentials button[type=submit]")
    page.wait_for_url(f"{success}?**")
    assert "connection_id=conn_" in page.url and "integration=stripe" in page.url


def test_stripe_form_shows_the_servers_message_for_a_refused_key(demo: Demo, page: Page) -> None:
    page.goto(picker_url(demo, mode="redirect", origin=None, lang="de"))
    page.click("a[data-integration=stripe]")
    page.wait_for_url(f"{demo.base}/auth/stripe/start?**")
    heading = page.text_content("h1")
    assert page.get_attribute("html", "lang") == "de" and heading is not None and "Stripe verbinden" in heading
    page.fill("#f-api_key", "sk_test_" + "x" * 24)
    page.evaluate("document.querySelector('#lk-credentials').noValidate = true")
    # The server checks again: with client-side checks bypassed, a wrong key still gets per-field messages.
    page.evaluate("""() => { const f = document.querySelector('#lk-credentials');
                             f.querySelector('#f-api_key').value = 'nope'; HTMLFormElement.prototype.submit.call(f); }""")
    page.wait_for_selector(".lk-alert[data-error-code=invalid_request]")
    assert page.get_attribute("#f-api_key", "aria-invalid") == "true"
    field_error = page.text_content("[data-field-error=api_key]")
    assert field_error is not None and field_error.strip() != ""


# -- axe-core: WCAG 2.2 AA --------------------------------------------------------------------------


@pytest.fixture
def axe_page(browser: Browser) -> Iterator[Page]:
    if not AXE.is_file():
        if os.environ.get("CI"):
            pytest.fail("axe-core is missing: run `make browser-deps` (cd tests/browser && npm ci)")
        pytest.skip("axe-core is not installed: run `make browser-deps`")
    # axe is injected as an inline script, which our CSP (rightly) forbids: this context bypasses it.
    context = browser.new_context(
        bypass_csp=True, viewport={"width": 480, "height": 720}, reduced_motion="reduce"
    )  # axe must not measure mid-transition colours
    yield context.new_page()
    context.close()


def axe_violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})", WCAG_22_AA
    )
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:4]} {v['nodes'][0].get('failureSummary', '')}"
        for v in result["violations"]
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"theme": "light"},
        {"theme": "dark"},
        {"theme": "light", "accent": "ffd60a"},
        {"theme": "dark", "accent": "1e3a8a"},
        {"theme": "light", "accent": "808080", "lang": "ja"},
        {"theme": "dark", "lang": "fr", "mode": "inline"},
    ],
    ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()),
)
def test_picker_has_no_wcag_violations(demo: Demo, axe_page: Page, params: dict[str, str]) -> None:
    axe_page.goto(picker_url(demo, **params))
    assert axe_violations(axe_page) == []
    axe_page.click("label[for=lk-cat-commerce]")
    axe_page.fill("#lk-search", "zzz")  # the filtered, empty-result state
    axe_page.wait_for_selector("#lk-noresults:not([hidden])")
    assert axe_violations(axe_page) == []


def test_empty_picker_has_no_wcag_violations(demo: Demo, axe_page: Page) -> None:
    axe_page.goto(picker_url(demo, integrations="gmail", theme="dark"))
    assert axe_violations(axe_page) == []


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_credentials_form_has_no_wcag_violations(demo: Demo, axe_page: Page, theme: str) -> None:
    axe_page.goto(picker_url(demo, theme=theme, accent="0ea5e9"))
    axe_page.click("a[data-integration=stripe]")
    axe_page.wait_for_url(f"{demo.base}/auth/stripe/start?**")
    axe_page.wait_for_load_state()
    assert axe_violations(axe_page) == []
    axe_page.fill("#f-api_key", "wrong")
    axe_page.click("#lk-credentials button[type=submit]")
    assert axe_page.get_attribute("#f-api_key", "aria-invalid") == "true"
    assert axe_violations(axe_page) == []


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_sandbox_consent_page_has_no_wcag_violations(
    demo: Demo, axe_page: Page, theme: Literal["light", "dark"]
) -> None:
    axe_page.emulate_media(color_scheme=theme)
    axe_page.goto(picker_url(demo, mode="redirect", origin=None))
    axe_page.click("a[data-integration=sandbox]")
    axe_page.wait_for_url(f"{demo.base}/sandbox/oauth/authorize?**")
    assert axe_violations(axe_page) == []


def test_error_page_has_no_wcag_violations(demo: Demo, axe_page: Page) -> None:
    axe_page.goto(f"{demo.base}/auth/no-such-integration/start")
    assert axe_page.locator("[data-error-code=integration_not_found]").is_visible()
    assert axe_violations(axe_page) == []


# -- the logos ---------------------------------------------------------------------------------------


def test_shopify_slack_and_stripe_logos_look_different_and_all_load(demo: Demo, page: Page) -> None:
    """Once three near-identical green-and-purple "S" tiles: now two brand marks and a monogram."""
    page.goto(picker_url(demo))
    logos = {slug: page.locator(f"a[data-integration={slug}] img.lk-logo") for slug in ("shopify", "slack", "stripe")}
    for logo in logos.values():
        logo.scroll_into_view_if_needed()  # they load lazily
        expect(logo).to_have_js_property("complete", True)
        assert logo.evaluate("img => img.naturalWidth") == 40
    pictures = {slug: logo.screenshot() for slug, logo in logos.items()}
    assert len(set(pictures.values())) == 3
    marks = {slug: httpx.get(f"{demo.base}/logos/{slug}.svg").text for slug in logos}
    assert "<path" in marks["shopify"] and "<path" in marks["stripe"] and ">Sl</text>" in marks["slack"]
