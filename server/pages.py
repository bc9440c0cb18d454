"""Jinja2 setup (autoescaping on, explicitly) and the security headers of our HTML pages."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, Iterable

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates


def make_templates(directory: Path) -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "xml"), default=True),
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    return Jinja2Templates(env=env)


def content_security_policy(frame_ancestors: Iterable[str] = ()) -> str:
    ancestors = " ".join(frame_ancestors) or "'none'"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'; base-uri 'none'; frame-ancestors {ancestors}"
    )


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    frame_ancestors: Iterable[str] = (),
) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    context.setdefault("theme", "auto")
    context.setdefault("accent", None)
    context.setdefault("lang", "en")
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Content-Security-Policy"] = content_security_policy(frame_ancestors)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


def new_nonce() -> str:
    return secrets.token_urlsafe(16)
