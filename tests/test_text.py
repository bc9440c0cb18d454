"""The one character rule for request strings (server/text.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from server.errors import InvalidRequest
from server.text import check_json, check_pairs, refused_character


@pytest.fixture
def _database() -> Iterator[None]:
    """No database in this module: skip the fresh Postgres database conftest makes for each test."""
    yield


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("a\x00b", "control character (U+0000)"),
        ("\x1b[31m", "control character (U+001B)"),
        ("x\x7f", "control character (U+007F)"),
        ("x\x85", "control character (U+0085)"),
        ("user-\ud800", "lone surrogate (U+D800)"),
        ("\udfff", "lone surrogate (U+DFFF)"),
    ],
)
def test_nul_control_characters_and_lone_surrogates_are_refused(text: str, why: str) -> None:
    assert refused_character(text) == "a " + why


@pytest.mark.parametrize("text", ["", "user-7", "Zoë 🔑 東京", "line one\nline two\r\n\tindented", "\u00a0\u2028"])
def test_ordinary_text_tabs_and_line_breaks_are_accepted(text: str) -> None:
    assert refused_character(text) is None


def test_json_is_checked_in_keys_and_values_at_every_depth() -> None:
    check_json({"a": [{"b": "ok"}], "n": 1, "t": True, "z": None})
    with pytest.raises(InvalidRequest, match=r"a\[0\]\.b contains a control character"):
        check_json({"a": [{"b": "\x00"}]})
    with pytest.raises(InvalidRequest, match="field name"):
        check_json({"a\ud800": 1})


def test_query_and_form_pairs_name_the_parameter() -> None:
    with pytest.raises(InvalidRequest, match="'external_xref' contains a control character"):
        check_pairs([("workspace", "ws_1"), ("external_xref", "u\x00")], "query")
