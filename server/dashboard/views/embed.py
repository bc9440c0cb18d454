"""Embedded authorization: allowlists, default scopes and display options, a live preview of the
picker, and the snippets built from them."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from server.catalog.scopes import UNIFIED_SCOPES
from server.dashboard.snippets import build_snippets
from server.dashboard.views.common import Dash, member_view, page, redirect
from server.dashboard.views.integrations import category_label, offered
from server.db import activations as activation_store
from server.db.embed_settings import EmbedSettings, get_embed_settings, save_embed_settings
from server.db.workspaces import update_environment
from server.flow.allowlist import url_allowed
from server.flow.context import MODES, THEMES, FlowContext
from server.flow.offer import offered_integrations, picker_view
from server.flow.opening import display_options
from server.languages import LANGS, LANGUAGES
from server.pages import render
from server.signing import SALT_CONTEXT

PREVIEW_XREF = "dashboard-preview"
MODE_LABELS = {
    "popup": ("Popup", "A button opens the picker in a popup window; your page gets the result."),
    "inline": ("Inline", "The picker sits in your page, in an iframe."),
    "redirect": ("Redirect", "The picker takes over the window and ends on your success or failure URL."),
}
THEME_LABELS = {"auto": "System (light or dark)", "light": "Light", "dark": "Dark"}


def _preview_query(settings: EmbedSettings) -> dict[str, str]:
    query = {"theme": settings.theme, "lang": settings.lang}
    if settings.accent:
        query["accent"] = settings.accent
    if settings.scopes:
        query["scopes"] = ",".join(settings.scopes)
    if settings.categories:
        query["categories"] = ",".join(settings.categories)
    if settings.integrations:
        query["integrations"] = ",".join(settings.integrations)
    return query


async def _context(dash: Dash, settings: EmbedSettings) -> dict[str, Any]:
    activated = await activation_store.list_activations(dash.db, dash.workspace_id, dash.env.name)
    integrations = offered(dash)
    categories = sorted({c for i in integrations for c in i.categories}, key=category_label)
    warnings = []
    if settings.mode in ("popup", "inline") and not dash.env.allowed_origins:
        warnings.append("Popup and inline modes need your page's origin under Allowed origins.")
    if not activated:
        warnings.append("No integration is active here yet: the picker will be empty. Activate one under Integrations.")
    return {
        "settings": settings,
        "snippets": build_snippets(dash.services.settings.base_url, dash.env, settings),
        "preview_url": dash.url("embed", "preview", **_preview_query(settings)),
        "scope_options": sorted(UNIFIED_SCOPES.items()),
        "category_options": [(c, category_label(c)) for c in categories],
        "integration_options": [i for i in integrations if i.slug in activated],
        "modes": [(m, *MODE_LABELS[m]) for m in MODES],
        "themes": [(t, THEME_LABELS[t]) for t in THEMES],
        "langs": [(code, LANGUAGES[code]) for code in LANGS],
        "warnings": warnings,
        "origins_text": "\n".join(dash.env.allowed_origins),
        "redirects_text": "\n".join(dash.env.allowed_redirect_urls),
        "public_mode": dash.env.public_mode,
    }


@member_view("embed")
async def show(dash: Dash) -> Response:
    settings = await get_embed_settings(dash.db, dash.workspace_id, dash.env.name)
    return page(dash, "embed.html", await _context(dash, settings))


@member_view("embed")
async def save(dash: Dash) -> Response:
    assert dash.form is not None
    form = dash.form
    current = await get_embed_settings(dash.db, dash.workspace_id, dash.env.name)
    activated = await activation_store.list_activations(dash.db, dash.workspace_id, dash.env.name)
    categories = sorted({c for i in offered(dash) for c in i.categories})
    settings = current.with_(
        success_url=form.url("success_url"),
        failure_url=form.url("failure_url"),
        scopes=tuple(form.scopes("scopes")),
        mode=form.choice("mode", MODES, "popup"),
        categories=tuple(form.choices("categories", categories)),
        integrations=tuple(form.choices("integrations", [i.slug for i in offered(dash) if i.slug in activated])),
        theme=form.choice("theme", THEMES, "auto"),
        accent=form.accent("accent"),
        lang=form.choice("lang", LANGS, "en"),
    )
    origins = form.origins("allowed_origins")
    redirect_urls = form.redirect_urls("allowed_redirect_urls")
    public_mode = form.flag("public_mode")
    if settings.mode == "redirect" and not settings.success_url and "success_url" not in form.errors:
        form.errors["success_url"] = "Redirect mode ends on your success URL: enter it."
    if form.errors:
        env = dash.env
        context = await _context(dash, settings)
        context.update(
            origins_text=form.data.get("allowed_origins") or "",
            public_mode=public_mode,
            redirects_text=form.data.get("allowed_redirect_urls") or "",
        )
        context["snippets"] = build_snippets(dash.services.settings.base_url, env, current)
        return page(dash, "embed.html", context, status=400)
    added = []
    for url in (settings.success_url, settings.failure_url):
        if url and not url_allowed(url, redirect_urls):
            redirect_urls.append(url)
            added.append(url)
    async with dash.db.transaction():  # one form, one commit: both changes and their activity log
        await update_environment(
            dash.db,
            dash.workspace_id,
            dash.env.name,
            allowed_origins=origins,
            allowed_redirect_urls=redirect_urls,
            public_mode=public_mode,
            actor=dash.actor,
        )
        await save_embed_settings(dash.db, settings, actor=dash.actor)
    message = "Embed settings saved; the snippets below use them."
    if added:
        message += f" Added {', '.join(added)} to the allowed redirect URLs."
    return redirect(dash, dash.url("embed") + "#snippets", message)


def _list_param(value: str | None, allowed: set[str]) -> tuple[str, ...]:
    items = [v.strip() for v in (value or "").split(",") if v.strip()]
    return tuple(dict.fromkeys(v for v in items if v in allowed))


@member_view("embed")
async def preview(dash: Dash) -> Response:
    """The picker as an end-user would see it with these options, framed by the embed page only.

    /picker answers with `frame-ancestors` from the environment's allowed origins, which need not
    include this dashboard, so the preview renders the same page here, for a preview end-user,
    allowing only this origin to frame it.
    """
    params = dash.request.query_params
    display = display_options(
        {"mode": "inline", "theme": params.get("theme"), "lang": params.get("lang"), "accent": params.get("accent")}
    )
    services = dash.services
    ctx = FlowContext(
        workspace_id=dash.workspace_id,
        environment=dash.env.name,
        external_xref=PREVIEW_XREF,
        scopes=_list_param(params.get("scopes"), set(UNIFIED_SCOPES)),
        integrations=_list_param(params.get("integrations"), {i.slug for i in services.catalog}),
        categories=_list_param(params.get("categories"), {c for i in services.catalog for c in i.categories}),
        mode="inline",
        origin=services.settings.origin,
        lang=display["lang"],
        theme=display["theme"],
        accent=display["accent"],
    )
    integrations = await offered_integrations(services, ctx)
    response = render(
        dash.request,
        "picker.html",
        picker_view(services, ctx, dash.env, integrations, services.signer.sign(SALT_CONTEXT, ctx.to_dict())),
        frame_ancestors=("'self'",),
    )
    response.headers["Cache-Control"] = "no-store"
    return response
