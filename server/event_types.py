"""The event types Latchkey records in its audit trail, and which of them are webhooks.

The one list: webhook subscriptions, the outbox, the dashboard's event log and webhook form, and
the README's table are checked against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EventTypeName = Literal[
    "connection.created",
    "connection.updated",
    "connection.unhealthy",
    "connection.deleted",
    "auth.started",
    "auth.failed",
]


@dataclass(frozen=True)
class EventType:
    name: EventTypeName
    label: str  # a line of the dashboard's event log
    webhook: str | None  # when the webhook is sent (the dashboard's webhook form); None: recorded only


EVENT_TYPES: dict[str, EventType] = {
    e.name: e
    for e in (
        EventType(
            "connection.created", "Connection created", "A user connected an integration, or a test connection was made"
        ),
        EventType("connection.updated", "Re-authorized", "A user re-authorized, or an unhealthy connection recovered"),
        EventType("connection.unhealthy", "Marked unhealthy", "The tokens can no longer be refreshed"),
        EventType("connection.deleted", "Connection deleted", "A connection was deleted"),
        EventType("auth.started", "Authorization started", None),
        EventType("auth.failed", "Authorization failed", "An authorization ended in an error"),
    )
}
WEBHOOK_EVENT_TYPES: tuple[str, ...] = tuple(name for name, e in EVENT_TYPES.items() if e.webhook)
