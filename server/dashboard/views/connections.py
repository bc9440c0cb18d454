"""Connections: the list with filters and paging, sandbox test connections, one connection's page
(status, scopes, times, recent events and errors — never its tokens), deletion."""

from __future__ import annotations

import secrets

from starlette.responses import Response

from server.catalog.models import Integration
from server.dashboard.views.common import Dash, member_view, page, redirect
from server.dashboard.views.integrations import KIND_LABELS, category_label, offered
from server.db import activations as activation_store
from server.db import connections as connection_store
from server.db import events as event_store
from server.db.clock import as_utc, utcnow
from server.errors import InvalidRequest
from server.event_types import EVENT_TYPES
from server.flow.connect import store_test_connection
from server.flow.opening import check_external_xref
from server.flow.revocation import Revocation
from server.lifecycle import deletion

PAGE_SIZE = 25
STATUS_LABELS = {"healthy": "Healthy", "unhealthy": "Needs re-authorization", "revoked": "Revoked"}
EVENT_LABELS = {name: event.label for name, event in EVENT_TYPES.items()}


def new_test_xref() -> str:
    return f"test-user-{secrets.token_hex(3)}"


async def _test_choices(dash: Dash) -> tuple[list[Integration], str]:
    """Integrations a test connection can be made for, and the one picked by default (an active one)."""
    activated = await activation_store.list_activations(dash.db, dash.workspace_id, dash.env.name)
    choices = offered(dash)
    default = next((i.slug for i in choices if i.slug == "sandbox" and i.slug in activated), None)
    default = (
        default or next((i.slug for i in choices if i.slug in activated), None) or (choices[0].slug if choices else "")
    )
    return choices, default


@member_view("connections")
async def list_connections(dash: Dash) -> Response:
    params = dash.request.query_params
    integration = params.get("integration") or None
    if integration and dash.services.catalog.get(integration) is None:
        integration = None
    xref = (params.get("external_xref") or "").strip()[:255] or None
    status = params.get("status") if params.get("status") in STATUS_LABELS else None
    after = (params.get("after") or "")[:64] or None
    items = await connection_store.list_connections(
        dash.db,
        dash.workspace_id,
        dash.env.name,
        integration=integration,
        external_xref=xref,
        status=status,
        limit=PAGE_SIZE + 1,
        after=after,
    )
    rows = items[:PAGE_SIZE]
    next_after = rows[-1].id if len(items) > PAGE_SIZE else None
    filtered = bool(integration or xref or status)
    choices, default = await _test_choices(dash)
    return page(
        dash,
        "connections.html",
        {
            "rows": rows,
            "next_url": dash.url(
                "connections", integration=integration, external_xref=xref, status=status, after=next_after
            )
            if next_after
            else None,
            "first_url": dash.url("connections", integration=integration, external_xref=xref, status=status)
            if after
            else None,
            "filters": {"integration": integration or "", "external_xref": xref or "", "status": status or ""},
            "filtered": filtered,
            "integration_options": offered(dash),
            "status_labels": STATUS_LABELS,
            "catalog": dash.services.catalog,
            "test_choices": choices,
            "test_default": default,
            "test_xref": new_test_xref(),
        },
    )


@member_view("connections")
async def create_test_connection(dash: Dash) -> Response:
    """Sandbox only: a healthy connection with synthetic credentials, as POST /api/v1/connections makes."""
    assert dash.form is not None
    form = dash.form
    if not dash.env.is_sandbox:
        return redirect(dash, dash.url("connections"), "Test connections exist only in the sandbox.", kind="error")
    slug = form.text("integration", max_len=63)
    integration = dash.services.catalog.offered(slug, dash.env.name)
    if integration is None:
        form.errors["integration"] = "Pick an integration."
    xref = form.text("external_xref", max_len=255) or new_test_xref()
    try:
        xref = check_external_xref(xref)
    except InvalidRequest as exc:
        form.errors["external_xref"] = exc.message
    if form.errors or integration is None:
        return redirect(dash, dash.url("connections"), " ".join(form.errors.values()), kind="error")
    activation = await activation_store.get_activation(dash.db, dash.workspace_id, dash.env.name, integration.slug)
    scopes = tuple(activation.scopes) if activation and activation.scopes else integration.supported_scopes
    saved = await store_test_connection(
        dash.services,
        workspace_id=dash.workspace_id,
        environment=dash.env.name,
        integration=integration,
        external_xref=xref,
        scopes=scopes,
    )
    verb = "Created" if saved.created else "Re-authorized"
    return redirect(
        dash,
        dash.url("connections", saved.connection.id),
        f"{verb} a test connection to {integration.name} for {xref}.",
    )


@member_view("connections")
async def detail(dash: Dash) -> Response:
    connection = await connection_store.get_connection(
        dash.db, dash.workspace_id, dash.env.name, dash.request.path_params["id"]
    )
    own = await event_store.list_events(dash.db, dash.workspace_id, dash.env.name, 20, connection_id=connection.id)
    failures = await event_store.list_events(
        dash.db,
        dash.workspace_id,
        dash.env.name,
        20,
        integration=connection.integration,
        external_xref=connection.external_xref,
        types=("auth.failed",),
    )
    events = sorted([*own, *failures], key=lambda e: (as_utc(e["created_at"]), e["id"]), reverse=True)[:20]
    for event in events:
        event["created_at"] = as_utc(event["created_at"])
    return page(
        dash,
        "connection.html",
        {
            "connection": connection,
            "integration": dash.services.catalog.get(connection.integration),
            "events": events,
            "event_labels": EVENT_LABELS,
            "status_labels": STATUS_LABELS,
            "kind_labels": KIND_LABELS,
            "category_label": category_label,
            "now": utcnow(),
        },
    )


@member_view("connections")
async def delete(dash: Dash) -> Response:
    connection, revocation = await deletion.delete_connection(
        dash.services, dash.workspace_id, dash.env.name, dash.request.path_params["id"], actor=dash.actor
    )
    return redirect(
        dash,
        dash.url("connections"),
        f"Deleted the connection of {connection.external_xref} to {connection.integration}. "
        + _REVOCATION_NOTES[revocation],
    )


_REVOCATION_NOTES: dict[Revocation, str] = {
    "revoked": "Its tokens were revoked at the provider.",
    "failed": "Revoking its tokens at the provider failed: they are gone from Latchkey, but may stay valid there.",
    "not_supported": "The provider offers no revocation: its tokens are gone from Latchkey.",
    "not_attempted": "Its tokens could not be read, so they were not revoked at the provider.",
}
