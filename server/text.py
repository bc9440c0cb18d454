"""Which characters a string from a request may carry: one rule for JSON, query strings and forms.

A lone surrogate cannot be encoded to UTF-8, so the database driver fails on it (a 500, on SQLite
and Postgres alike); Postgres refuses NUL in text; other control characters have no business in
an identifier, a URL or a name and make logs and pages lie. So every request string is checked
where it enters (server/middleware.py for query strings, paths and forms; server/api/validation.py
for JSON bodies) and refused with 400 invalid_request before anything reads it.
"""

from __future__ import annotations

import re
from typing import Any

from server.errors import InvalidRequest

# C0 controls but tab, line feed and carriage return (multi-line form fields), DEL, C1 controls,
# and surrogates (only lone ones can exist in a Python str decoded from a request).
_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_MAX_DEPTH = 32


def refused_character(text: str) -> str | None:
    """A description of the first refused character in `text`, or None when it is clean."""
    found = _REFUSED.search(text)
    if found is None:
        return None
    point = ord(found.group())
    kind = "a lone surrogate" if 0xD800 <= point <= 0xDFFF else "a control character"
    return f"{kind} (U+{point:04X})"


def check_text(text: str, where: str) -> str:
    """`text` if it is clean, else InvalidRequest naming `where`."""
    refused = refused_character(text)
    if refused is not None:
        raise InvalidRequest(f"{where} contains {refused}, which is not accepted.")
    return text


def check_json(data: Any, where: str = "body", depth: int = 0) -> None:
    """Every key and string value of a parsed JSON document, however deeply nested."""
    if depth > _MAX_DEPTH:
        raise InvalidRequest(f"{where} is nested too deeply.")
    if isinstance(data, str):
        check_text(data, where)
    elif isinstance(data, dict):
        for key, value in data.items():
            check_text(key, f"{where}: a field name")
            check_json(value, f"{where}.{key}" if where != "body" else key, depth + 1)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            check_json(value, f"{where}[{index}]", depth + 1)


def check_pairs(pairs: list[tuple[str, str]], what: str) -> None:
    """Names and values of a query string or a form."""
    for name, value in pairs:
        check_text(name, f"a {what} parameter name")
        check_text(value, f"the {what} parameter {name[:64]!r}")
