"""The pages' translations: complete catalogs, language choice, and <html lang> that matches."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import httpx
import pytest
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.pofile import read_po

from server.error_texts import BROWSER_CODES, END_USER_TEXTS
from server.flow.credentials import FieldProblem
from server.i18n import LOCALE_DIR, catalog_path, message_catalogs, negotiate, requested_lang
from server.languages import LANGS
from server.pages import make_templates
from tests.harness import Running, Workspace, new_workspace

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "templates"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}
PYTHON_SOURCES = (ROOT / "server" / "error_texts.py",)  # the ones babel.cfg lists


def template_msgids() -> set[str | tuple[str, ...]]:
    found = extract_from_dir(
        str(TEMPLATES),
        method_map=[("**.html", "jinja2.ext:babel_extract")],
        keywords=KEYWORDS,
        options_map={"**.html": {"extensions": "jinja2.ext.i18n"}},
        comment_tags=(),
    )
    ids = {message if isinstance(message, str) else tuple(message) for _, _, message, _, _ in found}
    for source in PYTHON_SOURCES:
        ids |= {message for _, message, _, _ in extract_from_file("python", str(source), keywords={"N_": None})}
    return ids


def test_templates_have_translatable_strings() -> None:
    ids = template_msgids()
    assert "Connect an integration" in ids and ("%(num)d integration", "%(num)d integrations") in ids
    assert set(END_USER_TEXTS.values()) <= ids  # the error codes' texts, from Python


def test_babel_config_extracts_every_python_source_the_test_reads() -> None:
    config = (LOCALE_DIR / "babel.cfg").read_text()
    assert {f"[python: {source.relative_to(ROOT)}]" for source in PYTHON_SOURCES} <= set(config.splitlines())


def test_every_error_code_an_end_user_can_see_has_a_text() -> None:
    assert set(END_USER_TEXTS) == BROWSER_CODES


@pytest.mark.parametrize("lang", LANGS)
def test_every_template_string_is_translated_in_every_catalog(lang: str) -> None:
    with catalog_path(lang).open("rb") as po:
        catalog = read_po(po, locale=lang)
    missing = []
    for msgid in sorted(template_msgids(), key=str):
        key = msgid if isinstance(msgid, str) else msgid[0]
        message = catalog.get(key)
        strings = (
            []
            if message is None
            else ([message.string] if isinstance(message.string, str) else list(message.string or ()))
        )
        if message is None or message.fuzzy or not strings or not all(strings):
            missing.append(msgid)
    assert missing == []
    plural = catalog.get("%(num)d integration")
    assert plural is not None and plural.string is not None
    assert catalog.num_plurals == len(plural.string)


@pytest.mark.parametrize("lang", LANGS)
def test_translations_keep_their_placeholders(lang: str) -> None:
    with catalog_path(lang).open("rb") as po:
        catalog = read_po(po, locale=lang)
    for message in catalog:
        if not message.id:
            continue
        source = message.id if isinstance(message.id, str) else message.id[1]
        assert message.string is not None, (lang, message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        for string in strings:
            for placeholder in ("%(name)s", "%(app)s", "%(num)d", "%(example)s"):
                assert (placeholder in source) == (placeholder in string), (lang, message.id, string)


def test_catalogs_cover_exactly_the_supported_languages() -> None:
    on_disk = {p.parent.parent.name for p in LOCALE_DIR.glob("*/LC_MESSAGES/latchkey.po")}
    assert on_disk == set(LANGS)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ja,en-US;q=0.9,en;q=0.8", "ja"),
        ("de-CH, de;q=0.9", "de"),
        ("pt-BR, es;q=0.5, fr;q=0.7", "fr"),
        ("fr;q=0, es", "es"),
        ("zh-CN", "en"),
        ("", "en"),
        (None, "en"),
        ("en;q=abc, ja;q=0.1", "ja"),
    ],
)
def test_accept_language_picks_the_best_supported_language(header: str | None, expected: str) -> None:
    assert negotiate(header) == expected


def test_lang_parameter_is_used_only_when_supported() -> None:
    assert requested_lang("ja-JP") == "ja" and requested_lang("FR") == "fr"
    assert requested_lang("zz") is None and requested_lang("") is None and requested_lang(None) is None


async def picker(
    lk: Running, workspace: Workspace, headers: dict[str, str] | None = None, **params: str
) -> httpx.Response:
    query = {"workspace": workspace.id, "env": "sandbox", "external_xref": "user-42", "mode": "redirect", **params}
    return await lk.client.get("/picker", params=query, headers=headers or {})


async def test_picker_renders_japanese_with_lang_ja(lk: Running, workspace: Workspace) -> None:
    page = await picker(lk, workspace, lang="ja")
    assert page.status_code == 200
    assert '<html lang="ja"' in page.text
    assert "連携サービスを接続" in page.text and "連携サービスを検索" in page.text
    assert "Connect an integration" not in page.text


async def test_picker_follows_accept_language_without_lang(lk: Running, workspace: Workspace) -> None:
    page = await picker(lk, workspace, headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert '<html lang="de"' in page.text and "Integration verbinden" in page.text


async def test_lang_parameter_wins_over_accept_language(lk: Running, workspace: Workspace) -> None:
    page = await picker(lk, workspace, headers={"Accept-Language": "de"}, lang="es")
    assert '<html lang="es"' in page.text and "Conectar una integración" in page.text


async def test_unknown_lang_falls_back_to_english(lk: Running, workspace: Workspace) -> None:
    page = await picker(lk, workspace, headers={"Accept-Language": "zh-CN"}, lang="zz")
    assert '<html lang="en"' in page.text and "Connect an integration" in page.text


async def test_pages_after_the_picker_keep_its_language(lk: Running, workspace: Workspace) -> None:
    page = await picker(lk, workspace, headers={"Accept-Language": "fr-FR"})
    start = page.text.split('href="/auth/stripe/start?ctx=', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    form = await lk.client.get(f"/auth/stripe/start?ctx={start}")
    assert form.status_code == 200
    assert '<html lang="fr"' in form.text and "Connecter Stripe" in form.text


async def test_error_page_follows_accept_language_and_keeps_the_code(lk: Running) -> None:
    page = await lk.client.get("/auth/no-such-thing/start", headers={"Accept-Language": "es"})
    assert page.status_code == 404
    assert '<html lang="es"' in page.text and "Código de error:" in page.text
    assert 'data-error-code="integration_not_found"' in page.text


async def test_translated_strings_are_escaped(lk: Running) -> None:
    workspace = await new_workspace(lk.services, activate=())
    await lk.db.execute("UPDATE workspaces SET name = :n WHERE id = :i", {"n": "<b>Evil & Co</b>", "i": workspace.id})
    page = await picker(lk, workspace, lang="fr")
    assert "<b>Evil" not in page.text and "&lt;b&gt;Evil &amp; Co&lt;/b&gt;" in page.text
    assert 'data-state="empty"' in page.text


def field_problems_in(lang: str) -> dict[str, str]:
    """templates/field_problems.html's wording of every FieldProblem, rendered in `lang`."""
    module = make_templates(TEMPLATES).env.get_template("field_problems.html")
    rendered: Any = module.make_module(dict(message_catalogs().template_callables(lang)))
    macro = rendered.field_problem
    return {problem: str(macro(problem, "Shop", "acme")) for problem in get_args(FieldProblem)}


@pytest.mark.parametrize("lang", LANGS)
def test_every_field_problem_is_worded_distinctly_in_every_language(lang: str) -> None:
    worded = field_problems_in(lang)
    assert all(worded.values()) and len(set(worded.values())) == len(worded), worded  # none falls to another's
    if lang != "en":
        english = field_problems_in("en")
        assert all(english[problem] != text for problem, text in worded.items()), worded
