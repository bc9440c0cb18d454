"""The browser-binding cookie: ties a callback to the browser that started the flow.

Set by `start` in a first-party window (popup or top window) before the provider is reached, and
claims a connect session or authorization link for this browser (server/flow/sessions.py);
HttpOnly, SameSite=Lax, and `__Host-` prefixed (Secure, Path=/) when served over HTTPS.
"""

from __future__ import annotations

import re
import secrets

from starlette.requests import Request
from starlette.responses import Response

from server.settings import Settings


def cookie_name(settings: Settings) -> str:
    return "__Host-latchkey_bind" if settings.secure_cookies else "latchkey_bind"


def browser_secret(request: Request, settings: Settings) -> str | None:
    value = request.cookies.get(cookie_name(settings))
    return value if value and 32 <= len(value) <= 128 else None


def ensure_browser_secret(request: Request, settings: Settings) -> tuple[str, bool]:
    existing = browser_secret(request, settings)
    return (existing, False) if existing else (secrets.token_urlsafe(32), True)


def set_binding_cookie(response: Response, settings: Settings, value: str) -> None:
    """The header written directly (Starlette's set_cookie goes through http.cookies, a tenth of a
    flow start); `value` is URL-safe base64 (secrets.token_urlsafe), which needs no quoting."""
    if not _URL_SAFE.fullmatch(value):
        raise ValueError("a binding secret is URL-safe base64")
    # No longer than the longest-lived record it binds: a connect session (flows live less).
    max_age = max(settings.connect_session_max_age, settings.state_max_age)
    attributes = [f"{cookie_name(settings)}={value}", "HttpOnly", f"Max-Age={max_age}", "Path=/", "SameSite=lax"]
    if settings.secure_cookies:
        attributes.append("Secure")
    response.headers.append("set-cookie", "; ".join(attributes))


_URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")
