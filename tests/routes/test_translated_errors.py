"""What an end-user reads when something fails is in the page's language: the text for the error
code, the form fields' problems with the expected format, and the sandbox's consent page. The
service's own English message stays under "Details for support"."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import httpx

from server.error_texts import END_USER_TEXTS
from tests.harness import BASE_URL, HOST_ORIGIN, Running, Workspace
from tests.routes.test_credentials_form import field_error
from tests.routes.test_sandbox_flow import picker_params


async def start_url(lk: Running, workspace: Workspace, slug: str, **extra: Any) -> str:
    page = await lk.client.get("/picker", params=picker_params(workspace, integrations=slug, **extra))
    assert page.status_code == 200, page.text
    marker = f'href="/auth/{slug}/start?ctx='
    return f"/auth/{slug}/start?ctx=" + unescape(page.text.split(marker, 1)[1].split('"', 1)[0])


def before_details(page: httpx.Response) -> str:
    """The text the end-user first reads: no tags (nor the host's payload in them), no details for support."""
    body = page.text.split("<body", 1)[1]
    return unescape(re.sub(r"<[^>]*>", " ", re.sub(r"<details.*?</details>", "", body, flags=re.S)))


async def test_a_declined_authorization_reads_in_the_pickers_language(lk: Running, workspace: Workspace) -> None:
    extra = {"lang": "ja", "mode": "popup", "origin": HOST_ORIGIN, "nonce": "n" * 22}
    start = await lk.client.get(await start_url(lk, workspace, "sandbox", **extra))
    consent = await lk.client.get(start.headers["location"])
    token = consent.text.split('name="request" value="', 1)[1].split('"', 1)[0]
    decided = await lk.client.post("/sandbox/oauth/decide", data={"request": token, "decision": "deny"})
    page = await lk.client.get(decided.headers["location"], follow_redirects=True)
    assert page.status_code == 400 and '<html lang="ja"' in page.text
    assert 'data-error-code="access_denied"' in page.text
    assert "認可が拒否されたため、何も接続されていません。" in page.text
    assert "declined" not in before_details(page)
    assert "The authorization was declined." in page.text  # for support, under the details


async def test_an_error_page_speaks_the_requested_language_for_its_code(lk: Running, workspace: Workspace) -> None:
    page = await lk.client.get("/picker", params=picker_params(workspace, lang="de", external_xref=""))
    assert page.status_code == 400 and '<html lang="de"' in page.text
    assert "Dieser Link ist unvollständig oder fehlerhaft." in page.text
    assert "external_xref" not in before_details(page)


async def test_the_sandbox_consent_page_speaks_the_pickers_language(lk: Running, workspace: Workspace) -> None:
    start = await lk.client.get(await start_url(lk, workspace, "sandbox", lang="fr"), headers={"Accept-Language": "en"})
    assert "ui_locales=fr" in start.headers["location"]
    consent = await lk.client.get(start.headers["location"], headers={"Accept-Language": "en"})
    assert consent.status_code == 200 and '<html lang="fr"' in consent.text
    assert ">Approve<" not in consent.text


async def test_a_key_in_the_wrong_format_says_the_expected_format_in_the_pages_language(
    lk: Running, workspace: Workspace
) -> None:
    form = await lk.client.get(await start_url(lk, workspace, "stripe", lang="es"))
    assert 'data-msg-pattern="Formato esperado: rk_live_..."' in form.text
    token = unescape(re.search(r'name="form_token" value="([^"]+)"', form.text).group(1))  # type: ignore[union-attr]
    answer = await lk.client.post(
        "/auth/stripe/credentials", data={"form_token": token, "api_key": "not a key"}, headers={"Origin": BASE_URL}
    )
    assert answer.status_code == 400 and '<html lang="es"' in answer.text
    assert field_error(answer, "api_key") == "Formato esperado: rk_live_..."
    empty = await lk.client.post(
        "/auth/stripe/credentials", data={"form_token": token, "api_key": ""}, headers={"Origin": BASE_URL}
    )
    assert field_error(empty, "api_key") == "Este campo es obligatorio."


async def test_a_shop_name_in_the_wrong_format_marks_its_field_with_an_example(
    lk: Running, workspace: Workspace
) -> None:
    start = await start_url(lk, workspace, "shopify", lang="ja")
    page = await lk.client.get(f"{start}&shop=not%20a%20shop")
    assert page.status_code == 400 and '<html lang="ja"' in page.text
    assert field_error(page, "shop") == "想定される形式: acme-store"
    assert 'aria-invalid="true"' in page.text
    assert "not valid" not in before_details(page)


def test_every_code_an_end_user_can_see_has_its_own_text() -> None:
    texts = list(END_USER_TEXTS.values())
    assert len(set(texts)) == len(texts)
