"""The dashboard in Chromium: sign in, activate an integration in the sandbox, create a test
connection, configure the embed, copy its script-tag snippet into a host page and run it to a
connection (popup, inline and redirect modes); keyboard use, small screens, screenshots of every
page in light and dark themes (test-artifacts/dashboard-*.png) and axe-core's WCAG 2.2 AA checks.

The dashboard tests use a workspace of their own on the shared `demo` Latchkey, so the other
browser tests' sandbox is left as it was. Its host app is a page server of its own on
http://localhost:PORT (a real loopback server: Chromium lets only those reach 127.0.0.1), which
serves whatever snippet a test pastes into it.
"""

from __future__ import annotations

import http.server
import os
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from server.crypto import Sealer
from server.dashboard import passwords
from server.db import activations as activation_store
from server.db import members as member_store
from server.db import workspaces as workspace_store
from server.db.database import close_database, open_database
from server.db.embed_settings import EmbedSettings, save_embed_settings
from tests.harness import SECRET, _in_own_thread, free_port

if TYPE_CHECKING:
    from tests.browser.conftest import Demo


AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
PASSWORD = "browser tests passphrase"
LAPTOP: ViewportSize = {"width": 1280, "height": 860}
PHONE: ViewportSize = {"width": 390, "height": 844}


@dataclass
class SnippetHost:
    """The developer's app: serves the pages a test gives it, on its own origin."""

    url: str
    pages: dict[str, str] = field(default_factory=dict)
    server: http.server.ThreadingHTTPServer | None = None


def _start_snippet_host() -> SnippetHost:
    port = free_port()
    host = SnippetHost(url=f"http://localhost:{port}")

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            body = host.pages.get(
                path, "<!doctype html><title>Back in the host app</title><h1>Back in the host app</h1>"
            )
            data = body.encode()
            self.send_response(200 if path in host.pages or path == "/done.html" else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    host.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=host.server.serve_forever, daemon=True).start()
    return host


@dataclass
class Dash:
    base: str
    host: str
    workspace_id: str
    sandbox_key: str
    email: str
    snippet_host: SnippetHost
    database_url: str

    def url(self, path: str) -> str:
        return f"{self.base}/dashboard{path}"

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method,
            f"{self.base}/api/v1{path}",
            headers={"Authorization": f"Bearer {self.sandbox_key}"},
            timeout=10,
            **kwargs,
        )


async def _seed(database_url: str, host: str, email: str) -> tuple[str, str]:
    db = open_database(database_url)
    await db.connect()
    try:
        created = await workspace_store.create_workspace(
            db, "Acme Notes", allowed_origins=[host], allowed_redirect_urls=[f"{host}/done.html"]
        )
        for slug in ("sandbox", "hubspot", "stripe", "slack"):
            await activation_store.activate(
                db, Sealer(SECRET), created.id, "sandbox", slug, client_id=None, client_secret=None, scopes=[]
            )
        await member_store.create_member(db, created.id, email, passwords.hash_password(PASSWORD))
        return created.id, created.api_keys["sandbox"]
    finally:
        await close_database(db)


@pytest.fixture(scope="module")
def dash(demo: Demo) -> Iterator[Dash]:
    email = f"dev-{secrets.token_hex(3)}@example.com"
    snippet_host = _start_snippet_host()
    workspace_id, key = _in_own_thread(_seed(demo.latchkey.settings.database_url, snippet_host.url, email))
    yield Dash(
        base=demo.base,
        host=snippet_host.url,
        workspace_id=workspace_id,
        sandbox_key=key,
        email=email,
        snippet_host=snippet_host,
        database_url=demo.latchkey.settings.database_url,
    )
    assert snippet_host.server is not None
    snippet_host.server.shutdown()


def sign_in(page: Page, dash: Dash, next_path: str = "/sandbox/integrations") -> None:
    page.goto(dash.url(f"/sign-in?next=/dashboard{next_path}"))
    page.fill("#email", dash.email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(dash.url(next_path))


@pytest.fixture
def signed_in(context: BrowserContext, dash: Dash) -> Page:
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in(page, dash)
    return page


# -- sign in and out -----------------------------------------------------------------------------


def test_sign_in_with_the_keyboard_and_sign_out(page: Page, dash: Dash) -> None:
    page.goto(dash.url("/sandbox/connections"))
    page.wait_for_url("**/dashboard/sign-in?next=*")
    expect(page.locator("#email")).to_be_focused()  # autofocus
    page.keyboard.type(dash.email)
    page.keyboard.press("Tab")
    page.keyboard.type("not the password")
    page.keyboard.press("Enter")
    expect(page.locator("[data-error-code=invalid_credentials]")).to_be_visible()
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(dash.url("/sandbox/connections"))  # back where the visitor was going
    expect(page.locator(".dk-account")).to_contain_text(dash.email)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(dash.url("/sign-in"))
    expect(page.locator(".dk-flash")).to_have_text("You are signed out.")
    page.goto(dash.url("/sandbox/integrations"))
    page.wait_for_url("**/dashboard/sign-in?next=*")


def test_the_environment_switcher_changes_every_page(signed_in: Page, dash: Dash) -> None:
    page = signed_in
    for section in ("integrations", "connections", "embed", "api-keys", "webhooks", "activity"):
        page.goto(dash.url(f"/sandbox/{section}"))
        page.get_by_role("navigation", name="Environment").get_by_role("link", name="Production").click()
        page.wait_for_url(dash.url(f"/production/{section}"))
        expect(page.locator(".dk-env[aria-current=page]")).to_have_text("Production")
        expect(page.locator(".dk-env-note")).to_have_count(0)  # the sandbox banner is gone


# -- the three main tasks --------------------------------------------------------------------------


def test_activate_an_integration_in_the_sandbox(signed_in: Page, dash: Dash) -> None:
    page = signed_in
    page.fill("#q", "zoom")  # filters as one types
    expect(page.locator("#integration-list > li:not([hidden])")).to_have_count(1)
    expect(page.locator("#integration-count")).to_have_text("1 integration shown")
    page.click("button[data-activate=zoom]")
    expect(page.locator(".dk-flash")).to_have_text("Zoom is active in Sandbox.")
    expect(page.locator("li[data-integration=zoom] .dk-status")).to_have_text("Active")
    listed = dash.api("GET", "/integrations").json()["data"]
    assert next(i for i in listed if i["slug"] == "zoom")["active"] is True

    page.click("li[data-integration=zoom] a.dk-manage")
    expect(page.locator("#redirect-uri")).to_have_text(f"{dash.base}/auth/zoom/callback")
    page.get_by_text("Deactivate Zoom…").click()
    page.get_by_role("button", name="Deactivate Zoom").click()
    expect(page.locator("[data-state=inactive]")).to_be_visible()


OUTSIDE_ITS_CARD = """() => Array.from(document.querySelectorAll('.dk-int')).flatMap((card) => {
  const box = card.getBoundingClientRect();
  return Array.from(card.querySelectorAll('.dk-int-foot > *')).filter((part) => {
    const r = part.getBoundingClientRect();
    return r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.bottom > box.bottom + 0.5;
  }).map((part) => card.querySelector('h2').textContent.trim() + ': ' + part.textContent.trim());
})"""


def test_every_integration_cards_footer_stays_inside_its_card(signed_in: Page, dash: Dash) -> None:
    page = signed_in
    for width in (1280, 1024, 860, 600, 390, 320):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(dash.url("/production/integrations"))  # every auth kind's label, and Activate / Set up
        assert page.locator(".dk-int").count() > 40
        assert page.evaluate(OUTSIDE_ITS_CARD) == [], f"at {width} px"


def test_create_a_test_connection(signed_in: Page, dash: Dash) -> None:
    page = signed_in
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Connections").click()
    xref = page.input_value("#test-xref")
    page.click("[data-create-test]")
    page.wait_for_url(re.compile(r".*/dashboard/sandbox/connections/conn_\w+$"))
    expect(page.locator("h1")).to_have_text(xref)
    expect(page.locator("[data-connection-status=healthy]")).to_be_visible()
    expect(page.locator("[data-event='connection.created']")).to_be_visible()
    connection_id = page.url.rsplit("/", 1)[1]
    assert dash.api("GET", f"/connections/{connection_id}").json()["data"]["external_xref"] == xref
    page.click("a.dk-back")
    expect(page.locator(f"tr[data-connection={connection_id}]")).to_be_visible()


def _configure_embed(page: Page, dash: Dash, mode: str) -> None:
    page.goto(dash.url("/sandbox/embed"))
    page.check(f"input[name=mode][value={mode}]")
    page.fill("#success_url", f"{dash.host}/done.html" if mode == "redirect" else "")
    page.select_option("#theme", "light")
    page.click("[data-save-embed]")
    page.wait_for_url(dash.url("/sandbox/embed#snippets"))
    expect(page.locator(".dk-flash")).to_contain_text("Embed settings saved")


def _copy_snippet(page: Page, dash: Dash) -> str:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=dash.base)
    page.get_by_role("tab", name="HTML").click()
    page.locator("#snippet-html [data-copy]").click()
    expect(page.locator("#snippet-html [data-copy]")).to_contain_text("Copied")
    copied: str = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.text_content("#code-html")
    return copied


@pytest.mark.parametrize("mode", ["popup", "inline", "redirect"])
def test_the_copied_script_tag_snippet_runs_to_a_connection_in_a_host_page(
    signed_in: Page, dash: Dash, mode: str
) -> None:
    page = signed_in
    _configure_embed(page, dash, mode)
    snippet = _copy_snippet(page, dash)
    assert f'workspaceId: "{dash.workspace_id}"' in snippet and "user-123" in snippet

    # The developer pastes it into their page and puts their user's ID in place of the example.
    xref = f"snippet-{mode}-{secrets.token_hex(3)}"
    host_page = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Host</title></head><body>"
        f"<h1>Acme Notes</h1>\n{snippet.replace('user-123', xref)}</body></html>"
    )
    dash.snippet_host.pages[f"/connect-{mode}.html"] = host_page
    host_url = f"{dash.host}/connect-{mode}.html"
    logs: list[str] = []
    host = page.context.new_page()
    host.on("console", lambda message: logs.append(message.text))
    host.on("pageerror", lambda error: logs.append(f"pageerror: {error}"))
    host.goto(host_url)
    host.wait_for_function("typeof window.Latchkey === 'object'")

    if mode == "popup":
        with host.expect_popup() as opened:
            host.click("#latchkey-connect")
        popup = opened.value
        popup.click("a[data-integration=sandbox]")
        popup.click("button[value=approve]")
    elif mode == "inline":
        frame = host.frame_locator("#latchkey-picker iframe")
        with host.expect_popup() as opened:
            frame.locator("a[data-integration=sandbox]").click()
        opened.value.click("button[value=approve]")
    else:
        host.click("#latchkey-connect")
        host.wait_for_url(f"{dash.base}/picker?**")
        host.click("a[data-integration=sandbox]")
        host.click("button[value=approve]")
        host.wait_for_url(f"{dash.host}/done.html?**")

    [connection] = _wait_for_connections(dash, xref, host)
    assert connection["integration"] == "sandbox" and connection["status"] == "healthy"
    if mode == "redirect":
        assert f"connection_id={connection['id']}" in host.url
    else:
        _wait_until(
            host,
            lambda: any(f"Connected sandbox {connection['id']}" in line for line in logs),
            f"the snippet's log, got {logs}",
        )
    assert not [line for line in logs if line.startswith(("pageerror", "Latchkey:"))]


def _wait_for_connections(dash: Dash, xref: str, page: Page, timeout: float = 10.0) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def check() -> bool:
        found[:] = dash.api("GET", "/connections", params={"external_xref": xref}).json()["data"]
        return bool(found)

    _wait_until(page, check, f"a connection for {xref}", timeout)
    return found


def _wait_until(page: Page, condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll with Playwright's own wait, so that the page's events (console) keep arriving meanwhile."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(100)


def test_the_preview_follows_the_form_before_saving(signed_in: Page, dash: Dash) -> None:
    page = signed_in
    page.goto(dash.url("/sandbox/embed"))
    preview = page.frame_locator("#preview")
    expect(preview.locator("a[data-integration=hubspot]")).to_be_visible()
    page.check("input[name=integrations][value=stripe]")
    page.select_option("#theme", "dark")
    expect(page.locator("#unsaved")).to_contain_text("Unsaved changes")
    expect(page.locator("#preview")).to_have_attribute("src", re.compile(r"integrations=stripe"))
    expect(preview.locator("a[data-integration=hubspot]")).to_have_count(0)
    expect(preview.locator("html")).to_have_attribute("data-theme", "dark")
    preview.locator("a[data-integration=stripe]").click()  # inert in the preview
    expect(page.locator(".dk-preview-note")).to_contain_text("Preview only")
    assert page.url == dash.url("/sandbox/embed")


def test_snippet_tabs_work_with_the_keyboard(signed_in: Page, dash: Dash) -> None:
    page = signed_in
    page.goto(dash.url("/sandbox/embed"))
    page.get_by_role("tab", name="HTML").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="React")).to_be_focused()
    expect(page.get_by_role("tab", name="React")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#snippet-react")).to_be_visible()
    expect(page.locator("#snippet-html")).to_be_hidden()
    page.keyboard.press("End")
    expect(page.get_by_role("tab", name="API · Python")).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="HTML")).to_be_focused()


# -- every page: screenshots, small screens, axe ------------------------------------------------------


async def _default_embed(database_url: str, workspace_id: str) -> None:
    db = open_database(database_url)
    await db.connect()
    try:
        await save_embed_settings(db, EmbedSettings(workspace_id, "sandbox", scopes=("crm_contact_read",)))
    finally:
        await close_database(db)


def _pages(dash: Dash) -> dict[str, str]:
    """Every page, with something on it: connections, a webhook endpoint with deliveries, embed settings."""
    _in_own_thread(_default_embed(dash.database_url, dash.workspace_id))  # whatever earlier tests saved
    hooks = dash.api("GET", "/webhooks").json()["data"]
    if not hooks:
        hooks = [
            dash.api(
                "POST", "/webhooks", json={"url": "https://hooks.acme.example/latchkey", "description": "CRM sync"}
            ).json()["data"]
        ]
    made = dash.api(
        "POST",
        "/connections",
        json={
            "integration": "hubspot",
            "external_xref": "ada@acme.example",
            "scopes": ["crm_contact_read", "crm_deal_read"],
        },
    ).json()["data"]
    dash.api("POST", "/connections", json={"integration": "stripe", "external_xref": "grace@acme.example"})
    return {
        "sign-in": "/sign-in",
        "integrations": "/sandbox/integrations",
        "integration": "/production/integrations/hubspot",
        "connections": "/sandbox/connections",
        "connection": f"/sandbox/connections/{made['id']}",
        "embed": "/sandbox/embed",
        "api-keys": "/sandbox/api-keys",
        "webhooks": "/sandbox/webhooks",
        "webhook": f"/sandbox/webhooks/{hooks[0]['id']}",
        "activity": "/sandbox/activity",
        "not-found": "/sandbox/connections/conn_nothing_here",
    }


@pytest.fixture(scope="module")
def every_page(dash: Dash) -> dict[str, str]:
    return _pages(dash)


def _visit(page: Page, dash: Dash, name: str, path: str) -> None:
    if name == "sign-in":
        page.context.clear_cookies()
    page.goto(dash.url(path))
    page.wait_for_load_state("networkidle")
    if name == "embed":
        page.locator("#preview").scroll_into_view_if_needed()  # lazy: loads once on screen
        page.frame_locator("#preview").locator("#lk-picker").wait_for()
        page.evaluate("window.scrollTo(0, 0)")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_screenshots_of_every_page(
    browser: Browser, dash: Dash, every_page: dict[str, str], artifacts: Path, theme: Literal["light", "dark"]
) -> None:
    context = browser.new_context(viewport=LAPTOP, color_scheme=theme)
    try:
        page = context.new_page()
        for name, path in every_page.items():
            if (name != "sign-in" and "sign-in" in page.url) or page.url == "about:blank":
                sign_in(page, dash)
            _visit(page, dash, name, path)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} scrolls sideways by {overflow}px on a laptop"
            page.screenshot(path=str(artifacts / f"dashboard-{name}-{theme}.png"), full_page=True)
            if name == "sign-in":
                sign_in(page, dash)
    finally:
        context.close()


def test_every_page_fits_a_phone(browser: Browser, dash: Dash, every_page: dict[str, str], artifacts: Path) -> None:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        sign_in(page, dash)
        for name, path in every_page.items():
            if name == "sign-in":
                continue
            _visit(page, dash, name, path)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} scrolls sideways by {overflow}px on a phone"
            if name in ("integrations", "connections", "embed", "connection"):
                page.screenshot(path=str(artifacts / f"dashboard-{name}-phone.png"), full_page=False)
        # The sections stay one tap away.
        nav = page.get_by_role("navigation", name="Sections")
        for label in ("Integrations", "Connections", "Embed", "API keys", "Webhooks"):
            expect(nav.get_by_role("link", name=label)).to_be_attached()
    finally:
        context.close()


@pytest.fixture
def axe_context(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    if not AXE.is_file():
        if os.environ.get("CI"):
            pytest.fail("axe-core is missing: run `make browser-deps` (cd tests/browser && npm ci)")
        pytest.skip("axe-core is not installed: run `make browser-deps`")
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        # axe is injected as an inline script, which our CSP (rightly) forbids: this context bypasses it.
        context = browser.new_context(
            bypass_csp=True, reduced_motion="reduce", **options
        )  # no mid-transition colours for axe
        contexts.append(context)
        return context

    yield make
    for context in contexts:
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
    "theme,viewport", [("light", LAPTOP), ("dark", LAPTOP), ("light", PHONE)], ids=["light", "dark", "phone"]
)
def test_every_page_has_no_wcag_violations(
    axe_context: Callable[..., BrowserContext],
    dash: Dash,
    every_page: dict[str, str],
    theme: Literal["light", "dark"],
    viewport: ViewportSize,
) -> None:
    page = axe_context(viewport=viewport, color_scheme=theme).new_page()
    found: dict[str, list[str]] = {}
    for name, path in every_page.items():
        if name == "sign-in":
            _visit(page, dash, name, path)
            found[name] = axe_violations(page)
            sign_in(page, dash)
            continue
        _visit(page, dash, name, path)
        found[name] = axe_violations(page)
    assert {k: v for k, v in found.items() if v} == {}


def test_pages_with_errors_and_secrets_have_no_wcag_violations(
    axe_context: Callable[..., BrowserContext], dash: Dash
) -> None:
    page = axe_context(viewport=LAPTOP, color_scheme="dark").new_page()
    sign_in(page, dash, "/production/integrations/hubspot")
    page.click("form.lk-form button[type=submit]")  # production OAuth without credentials: field errors
    expect(page.locator("#client_id-error")).to_be_visible()
    assert axe_violations(page) == []
    page.goto(dash.url("/sandbox/webhooks"))
    page.fill("#url", "http://10.0.0.1/hook")
    page.click("form.lk-form button[type=submit]")
    expect(page.locator("#url-error")).to_be_visible()
    assert axe_violations(page) == []
    page.goto(dash.url("/sandbox/embed"))
    page.fill("#accent", "orange")
    page.click("[data-save-embed]")
    expect(page.locator("#accent-error")).to_be_visible()
    assert axe_violations(page) == []
    page.goto(dash.url("/sandbox/integrations?q=zzzz"))
    expect(page.locator("#integration-none")).to_be_visible()
    assert axe_violations(page) == []
