"""The activity log: who changed this environment's configuration (and the workspace's members),
when, and what changed, newest first — the events of server/db/audit.py, which hold no secret."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from starlette.responses import Response

from server.audit_actions import ACTOR_KINDS, AUDIT_ACTIONS
from server.catalog.models import Integration
from server.dashboard.views.common import Dash, member_view, page
from server.db import audit as audit_store
from server.db.audit import AuditEvent
from server.db.workspaces import grace_text
from server.errors import InvalidRequest, NotFound

PAGE_SIZE = 25
ACTION_LABELS = {name: action.label for name, action in AUDIT_ACTIONS.items()}

FIELD_LABELS = {
    "name": "Name",
    "email": "E-mail",
    "allowed_origins": "Allowed origins",
    "allowed_redirect_urls": "Allowed redirect URLs",
    "public_mode": "Public mode",
    "integration": "Integration",
    "scopes": "Scopes",
    "client_id": "Client ID",
    "client_secret": "Client secret",
    "api_key_prefix": "Secret key",
    "grace_seconds": "Old key kept working for",
    "previous_key_valid_until": "Old key valid until",
    "previous_key_stopped": "Key before it stopped",
    "previous_key_prefix": "Previous key",
    "endpoint_id": "Endpoint",
    "url": "URL",
    "events": "Events",
    "description": "Description",
    "connection_id": "Connection",
    "external_xref": "User ID",
    "revocation": "Tokens at the provider",
    "mode": "Mode",
    "success_url": "Success URL",
    "failure_url": "Failure URL",
    "categories": "Categories",
    "integrations": "Integrations shown",
    "theme": "Theme",
    "accent": "Accent colour",
    "lang": "Language",
}

# What an empty list means, where it is not "none".
_EMPTY_MEANS = {
    ("integration.activated", "scopes"): "every scope it offers",
    ("integration.updated", "scopes"): "every scope it offers",
    ("integration.deactivated", "scopes"): "every scope it offers",
    ("embed.updated", "categories"): "all",
    ("embed.updated", "integrations"): "every active integration",
}
_REVOCATION = {
    "revoked": "revoked",
    "failed": "revoking failed",
    "not_supported": "the provider offers no revocation",
    "not_attempted": "not revoked (unreadable)",
}
_KEY_PREFIX_FIELDS = ("api_key_prefix", "previous_key_stopped", "previous_key_prefix")


@dataclass(frozen=True)
class Line:
    """One readable line of what changed: a value, before → after, or what was added and removed."""

    label: str
    value: str | None = None
    before: str | None = None
    after: str | None = None
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    event: AuditEvent
    label: str
    actor_label: str
    workspace_wide: bool
    lines: tuple[Line, ...]


def _text(value: Any, *, action: str, field: str, integrations: dict[str, Integration]) -> str:
    if value is None or value == "":
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ", ".join(_text(v, action=action, field=field, integrations=integrations) for v in value) or (
            _EMPTY_MEANS.get((action, field), "none")
        )
    if field == "integration" and str(value) in integrations:
        return integrations[str(value)].name
    if field == "revocation":
        return _REVOCATION.get(str(value), str(value))
    if field in _KEY_PREFIX_FIELDS:
        return f"{value}…"
    if field == "grace_seconds" and isinstance(value, int):
        return grace_text(timedelta(seconds=value)) if value else "none (stopped at once)"
    return str(value)


def describe(event: AuditEvent, integrations: dict[str, Integration]) -> tuple[Line, ...]:
    """The event's changes as lines, in the order they were recorded."""
    return tuple(_line(event.action, field, value, integrations) for field, value in event.changes.items())


def _line(action: str, field: str, value: Any, integrations: dict[str, Integration]) -> Line:
    label = FIELD_LABELS.get(field, field.replace("_", " ").capitalize())

    def text(v: Any) -> str:
        return _text(v, action=action, field=field, integrations=integrations)

    if not (isinstance(value, dict) and set(value) == {"before", "after"}):
        return Line(label, value=text(value))
    before, after = value["before"], value["after"]
    if isinstance(before, list) and isinstance(after, list) and set(before) != set(after):
        added = tuple(text(v) for v in after if v not in before)
        removed = tuple(text(v) for v in before if v not in after)
        return Line(label, added=added, removed=removed)
    return Line(label, before=text(before), after=text(after))


def actor_label(event: AuditEvent) -> str:
    if event.actor.kind == "api_key":
        return f"API key {event.actor.name}"
    return event.actor.name if event.actor.kind == "member" else ACTOR_KINDS["cli"]


@member_view("activity")
async def show(dash: Dash) -> Response:
    params = dash.request.query_params
    action = params.get("action") if params.get("action") in AUDIT_ACTIONS else None
    after = (params.get("after") or "")[:64] or None
    try:
        items = await audit_store.list_audit_events(
            dash.db,
            dash.workspace_id,
            dash.env.name,
            limit=PAGE_SIZE + 1,
            after=after,
            actions=(action,) if action else (),
        )
    except InvalidRequest as exc:  # a cursor of another environment, or made up
        raise NotFound("This page of the activity log does not exist here.") from exc
    shown = items[:PAGE_SIZE]
    next_after = shown[-1].id if len(items) > PAGE_SIZE else None
    integrations = {i.slug: i for i in dash.services.catalog}
    rows = [
        Row(
            event=e,
            label=ACTION_LABELS.get(e.action, e.action),
            actor_label=actor_label(e),
            workspace_wide=e.environment is None,
            lines=describe(e, integrations),
        )
        for e in shown
    ]
    return page(
        dash,
        "activity.html",
        {
            "rows": rows,
            "action": action or "",
            "action_labels": ACTION_LABELS,
            "next_url": dash.url("activity", action=action, after=next_after) if next_after else None,
            "first_url": dash.url("activity", action=action) if after else None,
        },
    )
