"""Jinja2 setup (autoescaping on, explicitly, and the message catalogs) and the security headers of our HTML pages."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from server.i18n import LOCALE_DIR, MessageCatalogs, message_catalogs, negotiate


class Pages(Jinja2Templates):
    """The templates and the message catalogs they are rendered with."""

    def __init__(self, env: jinja2.Environment, catalogs: MessageCatalogs) -> None:
        super().__init__(env=env)
        self.catalogs = catalogs


def make_templates(directory: Path, locales: Path = LOCALE_DIR) -> Pages:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "xml"), default=True),
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    # English by default; render() puts the request's language's gettext / ngettext in each context.
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    return Pages(env, message_catalogs(locales))


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
    """Render a page in the context's `lang`, or else the browser's Accept-Language."""
    templates: Pages = request.app.state.templates
    context.setdefault("theme", "auto")
    context.setdefault("accent", None)
    lang = context.get("lang") or negotiate(request.headers.get("accept-language"))
    context["lang"] = lang
    context.update(templates.catalogs.template_callables(lang))
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Content-Security-Policy"] = content_security_policy(frame_ancestors)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response
