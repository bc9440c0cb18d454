"""The integrations' logos: simple-icons marks wherever the package has the brand, distinct
monograms where it does not, files that match what the catalog and the package say, small enough
for the picker."""

from __future__ import annotations

import re
from html import escape

import pytest

from server.catalog.loader import LOGO_DIR, load_catalog
from server.catalog.logo_art import (
    SIMPLE_ICONS,
    SOURCE,
    Icon,
    draw_mark,
    draw_monogram,
    expected_files,
    ink_on,
    read_icons,
)
from server.catalog.models import Integration

CATALOG = load_catalog()
BUILTIN = [entry for entry in CATALOG if not entry.custom]
MAX_LOGO_BYTES = 4608  # the largest mark (Mailchimp's) is about 4.3 KB; the picker loads them lazily

needs_package = pytest.mark.skipif(
    not (SIMPLE_ICONS / "package.json").exists(),
    reason=f"simple-icons is not installed at {SIMPLE_ICONS} (make setup installs the widget's npm packages)",
)


def normalised(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def test_every_builtin_entry_says_where_its_logo_comes_from() -> None:
    for entry in BUILTIN:
        assert entry.logo and entry.logo_source and SOURCE.fullmatch(entry.logo_source), entry.slug


@needs_package
def test_the_logo_files_are_what_the_catalog_and_simple_icons_make() -> None:
    expected = expected_files()
    assert set(expected) == {entry.logo for entry in BUILTIN}
    drifted = [name for name, svg in expected.items() if (LOGO_DIR / name).read_text() != svg]
    assert drifted == [], "run: .venv/bin/python -m server.catalog.logo_art"


@needs_package
def test_no_monogram_stands_in_for_a_brand_simple_icons_has() -> None:
    _, icons = read_icons()
    titles = {normalised(icon.title): slug for slug, icon in icons.items()} | {slug: slug for slug in icons}
    missed = {
        entry.slug: titles[normalised(entry.name)]
        for entry in BUILTIN
        if entry.logo_source == "monogram" and normalised(entry.name) in titles and not entry.sandbox_only
    }
    assert missed == {}


def monograms() -> list[Integration]:
    return [entry for entry in BUILTIN if entry.logo_source == "monogram"]


def test_every_monogram_has_its_own_letters() -> None:
    letters = [entry.initials for entry in monograms()]
    assert len(letters) == len(set(letters)), sorted(letters)


def test_slack_salesforce_and_microsofts_monograms_differ_in_letters_and_colour() -> None:
    entries = [CATALOG.get(slug) for slug in ("slack", "salesforce", "microsoft-teams", "outlook", "onedrive")]
    drawn = {entry.initials: entry.color for entry in entries if entry is not None and entry.logo_source == "monogram"}
    assert len(drawn) == 5 and len(set(drawn.values())) == 5, drawn


def test_every_logo_file_is_a_small_svg_named_for_its_brand() -> None:
    for entry in BUILTIN:
        svg = (LOGO_DIR / str(entry.logo)).read_text()
        assert len(svg.encode()) <= MAX_LOGO_BYTES, (entry.slug, len(svg))
        assert svg.startswith("<svg ") and f'aria-label="{escape(entry.name)}"' in svg, entry.slug
        assert "<script" not in svg and "href" not in svg


@pytest.mark.parametrize(
    ("background", "ink"),
    [
        ("#ffe01b", "#111827"),
        ("#6afdef", "#111827"),
        ("#4a154b", "#ffffff"),
        ("#000000", "#ffffff"),
        ("#0052cc", "#ffffff"),
    ],
)
def test_the_mark_is_drawn_in_whichever_ink_reads_better_on_the_brand_colour(background: str, ink: str) -> None:
    assert ink_on(background) == ink


def test_a_mark_is_centred_on_its_brand_colour_and_escaped() -> None:
    svg = draw_mark('A "B" & C', Icon("A", "FFE01B", "M0 0h24v24H0z"))
    assert '<rect width="40" height="40" rx="8" fill="#ffe01b"/>' in svg
    assert 'transform="translate(8 8)" fill="#111827" d="M0 0h24v24H0z"' in svg
    assert 'aria-label="A &quot;B&quot; &amp; C"' in svg


def test_a_monogram_escapes_its_letters() -> None:
    assert ">&lt;b&gt;</text>" in draw_monogram("X", "<b>", "#123456")


def test_an_entry_without_a_logo_file_gets_the_same_monogram_drawing() -> None:
    from server.routes.static import drawn_logo

    entry = CATALOG.get("slack")
    assert entry is not None
    assert drawn_logo(entry).body == draw_monogram(entry.name, entry.initials, entry.color).encode()
