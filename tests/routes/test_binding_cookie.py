"""The browser-binding cookie's header, written without http.cookies: what browsers must read."""

from __future__ import annotations

import secrets
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from starlette.responses import Response

from server.routes.binding import set_binding_cookie
from tests.harness import make_settings


def header_for(tmp_path: Path, base_url: str, value: str) -> str:
    response = Response()
    set_binding_cookie(response, make_settings(tmp_path, base_url=base_url), value)
    return response.headers["set-cookie"]


def test_over_https_the_binding_cookie_is_host_prefixed_secure_http_only_and_lax(tmp_path: Path) -> None:
    value = secrets.token_urlsafe(32)
    header = header_for(tmp_path, "https://latchkey.test", value)
    parsed = SimpleCookie()
    parsed.load(header)
    morsel = parsed["__Host-latchkey_bind"]
    assert morsel.value == value
    assert morsel["secure"] and morsel["httponly"] and morsel["path"] == "/" and morsel["samesite"] == "lax"
    assert not morsel["domain"] and int(morsel["max-age"]) > 0


def test_over_loopback_http_the_binding_cookie_is_not_secure_and_not_prefixed(tmp_path: Path) -> None:
    header = header_for(tmp_path, "http://127.0.0.1:8000", secrets.token_urlsafe(32))
    parsed = SimpleCookie()
    parsed.load(header)
    assert "__Host-latchkey_bind" not in parsed and not parsed["latchkey_bind"]["secure"]


def test_a_binding_value_that_would_need_quoting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="URL-safe"):
        header_for(tmp_path, "https://latchkey.test", "a; Domain=evil.test")
