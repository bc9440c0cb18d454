"""The embed page: allowlists, display options, the preview and the snippets built from them."""

from __future__ import annotations

import html
import re

from server.db.embed_settings import get_embed_settings
from server.db.workspaces import get_environment
from tests.dashboard.support import Member, post, sign_in
from tests.harness import FAILURE_URL, HOST_ORIGIN, SUCCESS_URL, Running, Workspace


def snippet(page: str, name: str) -> str:
    match = re.search(rf'<code id="code-{name}" data-snippet="{name}">(.*?)</code>', page, re.S)
    assert match is not None
    return html.unescape(match.group(1))


SETTINGS = {
    "allowed_origins": "https://app.example.com\nhttps://APP.example.com:443/\nhttp://localhost:3000",
    "allowed_redirect_urls": "https://app.example.com/latchkey/",
    "success_url": "https://app.example.com/connected",
    "failure_url": "https://app.example.com/failed",
    "public_mode": "on",
    "scopes": ["crm_contact_read"],
    "integrations": ["sandbox", "stripe"],
    "categories": ["crm"],
    "mode": "inline",
    "theme": "dark",
    "accent": "#FF5500",
    "lang": "de",
}


async def test_the_default_page_offers_working_snippets(lk: Running, workspace: Workspace, member: Member) -> None:
    await sign_in(lk.client, member)
    page = await lk.client.get("/dashboard/sandbox/embed")
    assert page.status_code == 200
    vanilla = snippet(page.text, "html")
    assert '<script src="http://latchkey.test/embed.js"></script>' in vanilla
    assert f'workspaceId: "{workspace.id}"' in vanilla and "Latchkey.open(" in vanilla
    for name in ("react", "vue", "angular", "curl", "python"):
        assert snippet(page.text, name)
    assert "frame-src 'self'" in page.headers["content-security-policy"]
    match = re.search(r'<iframe id="preview" src="([^"]+)"', page.text)
    assert match is not None
    preview = match.group(1)
    assert html.unescape(preview).startswith("/dashboard/sandbox/embed/preview?theme=auto&lang=en")


async def test_saving_updates_the_environment_the_settings_and_the_snippets(
    lk: Running, workspace: Workspace, member: Member
) -> None:
    csrf = await sign_in(lk.client, member)
    response = await post(lk.client, "/dashboard/sandbox/embed", csrf, SETTINGS)
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/sandbox/embed#snippets"
    env = await get_environment(lk.db, workspace.id, "sandbox")
    assert env.allowed_origins == ("https://app.example.com", "http://localhost:3000")  # normalised, de-duplicated
    # The success URL is covered by the prefix entry; the failure URL is not, so it is added.
    assert env.allowed_redirect_urls == (
        "https://app.example.com/latchkey/",
        "https://app.example.com/connected",
        "https://app.example.com/failed",
    )
    assert env.public_mode is True
    saved = await get_embed_settings(lk.db, workspace.id, "sandbox")
    assert (saved.mode, saved.theme, saved.accent, saved.lang) == ("inline", "dark", "ff5500", "de")
    assert (
        saved.scopes == ("crm_contact_read",)
        and saved.integrations == ("sandbox", "stripe")
        and saved.categories == ("crm",)
    )

    page = await lk.client.get("/dashboard/sandbox/embed")
    assert "Added https://app.example.com/connected, https://app.example.com/failed" in page.text
    vanilla = snippet(page.text, "html")
    assert "Latchkey.mount(" in vanilla and 'theme: "dark"' in vanilla and 'accent: "ff5500"' in vanilla
    assert 'lang: "de"' in vanilla and 'integrations: ["sandbox", "stripe"]' in vanilla
    assert 'mode="inline"' in snippet(page.text, "react") or "LatchkeyConnect" in snippet(page.text, "react")
    assert '"origin": "https://app.example.com"' in snippet(page.text, "curl")
    match = re.search(r'<iframe id="preview" src="([^"]+)"', page.text)
    assert match is not None
    preview = html.unescape(match.group(1))
    assert "theme=dark" in preview and "accent=ff5500" in preview and "integrations=sandbox%2Cstripe" in preview


async def test_invalid_settings_are_explained_and_nothing_is_saved(
    lk: Running, workspace: Workspace, member: Member
) -> None:
    csrf = await sign_in(lk.client, member)
    before = await get_environment(lk.db, workspace.id, "sandbox")
    bad = {
        **SETTINGS,
        "allowed_origins": "https://app.example.com/path",
        "accent": "orange",
        "success_url": "javascript:alert(1)",
        "theme": "neon",
    }
    response = await post(lk.client, "/dashboard/sandbox/embed", csrf, bad)
    assert response.status_code == 400 and 'data-error-code="invalid_request"' in response.text
    for field in ("allowed_origins", "accent", "success_url", "theme"):
        assert f'id="{field}-error"' in response.text
    assert await get_environment(lk.db, workspace.id, "sandbox") == before
    assert (await get_embed_settings(lk.db, workspace.id, "sandbox")).saved is False
    # The form keeps what was typed.
    assert "https://app.example.com/path" in response.text


async def test_redirect_mode_needs_a_success_url(lk: Running, workspace: Workspace, member: Member) -> None:
    csrf = await sign_in(lk.client, member)
    response = await post(
        lk.client, "/dashboard/sandbox/embed", csrf, {**SETTINGS, "mode": "redirect", "success_url": ""}
    )
    assert response.status_code == 400 and 'id="success_url-error"' in response.text


async def test_the_preview_is_the_picker_framed_only_by_the_dashboard(
    lk: Running, workspace: Workspace, member: Member
) -> None:
    await sign_in(lk.client, member)
    preview = await lk.client.get(
        "/dashboard/sandbox/embed/preview?theme=dark&accent=ff5500&lang=fr&integrations=sandbox,stripe"
    )
    assert preview.status_code == 200
    assert preview.headers["content-security-policy"].endswith("frame-ancestors 'self'")
    assert (
        'data-theme="dark"' in preview.text and 'data-accent="ff5500"' in preview.text and 'lang="fr"' in preview.text
    )
    offered = re.findall(r'data-integration="([a-z-]+)"', preview.text)
    assert sorted(offered) == ["sandbox", "stripe"]  # shopify is active but filtered out
    assert 'data-mode="inline"' in preview.text and 'data-host-origin="http://latchkey.test"' in preview.text
    # Signed out, there is no preview.
    lk.client.cookies.clear()
    assert (await lk.client.get("/dashboard/sandbox/embed/preview")).status_code == 303


async def test_production_without_public_mode_explains_connect_sessions(
    lk: Running, workspace: Workspace, member: Member
) -> None:
    await sign_in(lk.client, member)
    page = await lk.client.get("/dashboard/production/embed")
    assert "Public mode is off" in page.text
    vanilla = snippet(page.text, "html")
    assert "sessionToken: sessionToken" in vanilla and "workspaceId" not in vanilla
    assert "No integration is active here yet" in page.text


async def test_popup_without_allowed_origins_is_warned_about(lk: Running, workspace: Workspace, member: Member) -> None:
    csrf = await sign_in(lk.client, member)
    await post(lk.client, "/dashboard/sandbox/embed", csrf, {**SETTINGS, "allowed_origins": "", "mode": "popup"})
    page = await lk.client.get("/dashboard/sandbox/embed")
    assert "Popup and inline modes need your page" in page.text


async def test_existing_allowlists_show_in_the_form(lk: Running, workspace: Workspace, member: Member) -> None:
    await sign_in(lk.client, member)
    page = await lk.client.get("/dashboard/sandbox/embed")
    assert HOST_ORIGIN in page.text and SUCCESS_URL in page.text and FAILURE_URL in page.text
