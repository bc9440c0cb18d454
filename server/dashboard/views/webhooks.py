"""Webhooks: endpoints (the signing secret shown once at creation) and each one's deliveries."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from server.dashboard.views.common import Dash, member_view, page, redirect
from server.db import webhooks as webhook_store
from server.errors import InvalidRequest
from server.event_types import EVENT_TYPES, WEBHOOK_EVENT_TYPES
from server.lifecycle.urls import check_webhook_url

EVENT_DESCRIPTIONS = {name: event.webhook for name, event in EVENT_TYPES.items() if event.webhook}
DELIVERY_LABELS = {"pending": "Pending", "delivered": "Delivered", "failed": "Failed"}


async def _list_context(dash: Dash) -> dict[str, Any]:
    endpoints = await webhook_store.list_endpoints(dash.db, dash.workspace_id, dash.env.name)
    return {
        "endpoints": endpoints,
        "event_types": [(e, EVENT_DESCRIPTIONS[e]) for e in WEBHOOK_EVENT_TYPES],
        "created": None,
        "values": {"url": "", "description": "", "events": list(WEBHOOK_EVENT_TYPES)},
        "max_endpoints": webhook_store.MAX_ENDPOINTS_PER_ENVIRONMENT,
        "allow_loopback": dash.services.settings.webhook_allow_loopback,
    }


@member_view("webhooks")
async def list_endpoints(dash: Dash) -> Response:
    return page(dash, "webhooks.html", await _list_context(dash))


@member_view("webhooks")
async def create(dash: Dash) -> Response:
    assert dash.form is not None
    form = dash.form
    url = form.text("url", max_len=2048, required="Enter the https:// URL that should receive the events.")
    description = form.text("description", max_len=200) or None
    events = form.choices("events", WEBHOOK_EVENT_TYPES)
    if not events and "events" not in form.errors:
        form.errors["events"] = "Pick at least one event."
    if url and "url" not in form.errors:
        try:
            url = check_webhook_url(url, allow_loopback=dash.services.settings.webhook_allow_loopback)
        except InvalidRequest as exc:
            form.errors["url"] = exc.message
    created = None
    if not form.errors:
        try:
            created = await webhook_store.create_endpoint(
                dash.db,
                dash.services.sealer,
                dash.workspace_id,
                dash.env.name,
                url=url,
                events=tuple(events),
                description=description,
                actor=dash.actor,
            )
        except InvalidRequest as exc:
            form.errors["url"] = exc.message
    context = await _list_context(dash)
    if created is None:
        context["values"] = {"url": url, "description": description or "", "events": events}
        return page(dash, "webhooks.html", context, status=400)
    context["created"] = created
    return page(dash, "webhooks.html", context)


@member_view("webhooks")
async def detail(dash: Dash) -> Response:
    endpoint_id = dash.request.path_params["id"]
    status = dash.request.query_params.get("status")
    status = status if status in DELIVERY_LABELS else None
    endpoint = await webhook_store.get_endpoint(dash.db, dash.workspace_id, dash.env.name, endpoint_id)
    deliveries = await webhook_store.list_deliveries(
        dash.db, dash.workspace_id, dash.env.name, endpoint_id, status=status, limit=50
    )
    return page(
        dash,
        "webhook.html",
        {
            "endpoint": endpoint,
            "deliveries": deliveries,
            "status": status or "",
            "delivery_labels": DELIVERY_LABELS,
            "event_descriptions": EVENT_DESCRIPTIONS,
        },
    )


@member_view("webhooks")
async def delete(dash: Dash) -> Response:
    endpoint = await webhook_store.delete_endpoint(
        dash.db, dash.workspace_id, dash.env.name, dash.request.path_params["id"], actor=dash.actor
    )
    return redirect(dash, dash.url("webhooks"), f"Removed the endpoint {endpoint.url} and its pending deliveries.")
