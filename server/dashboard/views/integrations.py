"""Integrations: the catalog with search and filters, activation per environment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from server.catalog.kinds import AUTH_KINDS
from server.catalog.models import Integration
from server.catalog.scopes import UNIFIED_SCOPES
from server.dashboard.views.common import Dash, member_view, page, redirect
from server.db import activations as activation_store
from server.db.activations import Activation
from server.errors import NotFound

CATEGORY_LABELS = {
    "accounting": "Accounting",
    "ats": "Recruiting",
    "calendar": "Calendar",
    "commerce": "Commerce",
    "crm": "CRM",
    "devtools": "Developer tools",
    "hris": "HR",
    "marketing": "Marketing",
    "messaging": "Messaging",
    "productivity": "Productivity",
    "sandbox": "Sandbox",
    "storage": "File storage",
    "ticketing": "Ticketing",
}
KIND_LABELS = {name: kind.label for name, kind in AUTH_KINDS.items()}


@dataclass(frozen=True)
class CatalogRow:
    integration: Integration
    activation: Activation | None
    one_click: bool

    @property
    def search_text(self) -> str:
        labels = " ".join(CATEGORY_LABELS.get(c, c) for c in self.integration.categories)
        return f"{self.integration.name} {self.integration.slug} {labels}".lower()


def category_label(slug: str) -> str:
    return CATEGORY_LABELS.get(slug, slug.capitalize())


def one_click(dash: Dash, integration: Integration) -> bool:
    """Activation without developer credentials: anything in the sandbox, non-redirect kinds in production."""
    return dash.env.is_sandbox or not integration.is_redirect


def offered(dash: Dash) -> list[Integration]:
    return dash.services.catalog.offered_in(dash.env.name)


def integration_or_404(dash: Dash, slug: str) -> Integration:
    integration = dash.services.catalog.offered(slug, dash.env.name)
    if integration is None:
        raise NotFound(f"There is no integration {slug!r} in {dash.env.name}.")
    return integration


def mask(value: str | None) -> str:
    if not value:
        return ""
    if len(value) <= 8:
        return "•" * len(value)
    return f"{value[:4]}{'•' * 8}{value[-4:]}"


@member_view("integrations")
async def catalog(dash: Dash) -> Response:
    params = dash.request.query_params
    query = (params.get("q") or "").strip()[:100]
    category = params.get("category") or ""
    status = params.get("status") if params.get("status") in ("active", "inactive") else ""
    activated = await activation_store.list_activations(dash.db, dash.workspace_id, dash.env.name)
    rows = [CatalogRow(i, activated.get(i.slug), one_click(dash, i)) for i in offered(dash)]
    categories = sorted({c for row in rows for c in row.integration.categories}, key=category_label)
    if category not in categories:
        category = ""
    words = query.lower().split()
    shown = [
        row
        for row in rows
        if all(w in row.search_text for w in words)
        and (not category or category in row.integration.categories)
        and (not status or (row.activation is not None) == (status == "active"))
    ]
    return page(
        dash,
        "integrations.html",
        {
            "rows": shown,
            "total": len(rows),
            "active_count": len(activated),
            "query": query,
            "category": category,
            "status": status,
            "categories": categories,
            "category_label": category_label,
            "kind_labels": KIND_LABELS,
            "return_to": dash.request.url.path + (f"?{dash.request.url.query}" if dash.request.url.query else ""),
        },
    )


def _detail_context(dash: Dash, integration: Integration, activation: Activation | None) -> dict[str, Any]:
    return {
        "integration": integration,
        "activation": activation,
        "redirect_uri": dash.services.callback_url(integration.slug) if integration.is_redirect else None,
        "needs_credentials": integration.is_redirect and not dash.env.is_sandbox,
        "scope_options": [(s, UNIFIED_SCOPES.get(s, s)) for s in integration.supported_scopes],
        "chosen_scopes": list(activation.scopes) if activation else [],
        "masked_client_id": mask(activation.client_id if activation else None),
        "client_id_value": "",
        "category_label": category_label,
        "kind_labels": KIND_LABELS,
        "one_click": one_click(dash, integration),
    }


@member_view("integrations")
async def detail(dash: Dash) -> Response:
    integration = integration_or_404(dash, dash.request.path_params["slug"])
    activation = await activation_store.get_activation(dash.db, dash.workspace_id, dash.env.name, integration.slug)
    return page(dash, "integration.html", _detail_context(dash, integration, activation))


@member_view("integrations")
async def save(dash: Dash) -> Response:
    """Activate, or change an activation: client credentials (production, redirect kinds) and scopes."""
    assert dash.form is not None
    form = dash.form
    integration = integration_or_404(dash, dash.request.path_params["slug"])
    activation = await activation_store.get_activation(dash.db, dash.workspace_id, dash.env.name, integration.slug)
    needs_credentials = integration.is_redirect and not dash.env.is_sandbox
    client_id = form.text("client_id", max_len=512) or (activation.client_id if activation else "") or ""
    client_secret = form.secret("client_secret", max_len=2048)
    scopes = form.scopes("scopes", integration.supported_scopes)
    if needs_credentials:
        if not client_id:
            form.errors["client_id"] = f"Enter the client ID of your {integration.name} app."
        if not client_secret and not (activation and activation.has_client_secret):
            form.errors["client_secret"] = f"Enter the client secret of your {integration.name} app."
    if form.errors:
        context = _detail_context(dash, integration, activation)
        context.update(chosen_scopes=scopes, client_id_value=form.text("client_id", max_len=512))
        return page(dash, "integration.html", context, status=400)
    if not client_secret and activation and activation.has_client_secret:
        client_secret = activation_store.client_secret(dash.services.sealer, activation) or ""
    await activation_store.activate(
        dash.db,
        dash.services.sealer,
        dash.workspace_id,
        dash.env.name,
        integration.slug,
        client_id=client_id or None,
        client_secret=client_secret or None,
        scopes=scopes,
        actor=dash.actor,
    )
    message = (
        f"{integration.name}: changes saved."
        if activation
        else f"{integration.name} is active in {dash.env.name.capitalize()}."
    )
    return redirect(dash, dash.url("integrations", integration.slug), message)


@member_view("integrations")
async def quick_activate(dash: Dash) -> Response:
    """One click from the catalog: no developer credentials, every scope the integration has."""
    assert dash.form is not None
    integration = integration_or_404(dash, dash.request.path_params["slug"])
    back = dash.form.data.get("return_to")
    back = (
        back
        if isinstance(back, str) and back.startswith(f"/dashboard/{dash.env.name}/integrations") and "//" not in back
        else dash.url("integrations")
    )
    if not one_click(dash, integration):
        return redirect(
            dash,
            dash.url("integrations", integration.slug),
            f"{integration.name} needs your app's client ID and secret in production.",
            kind="error",
        )
    await activation_store.activate(
        dash.db,
        dash.services.sealer,
        dash.workspace_id,
        dash.env.name,
        integration.slug,
        client_id=None,
        client_secret=None,
        scopes=[],
        actor=dash.actor,
    )
    return redirect(dash, back, f"{integration.name} is active in {dash.env.name.capitalize()}.")


@member_view("integrations")
async def deactivate(dash: Dash) -> Response:
    integration = integration_or_404(dash, dash.request.path_params["slug"])
    if not await activation_store.deactivate(
        dash.db, dash.workspace_id, dash.env.name, integration.slug, actor=dash.actor
    ):
        raise NotFound(f"{integration.name} is not active in {dash.env.name}.")
    return redirect(
        dash,
        dash.url("integrations", integration.slug),
        f"{integration.name} is no longer offered in {dash.env.name.capitalize()}. Existing connections are kept.",
    )
