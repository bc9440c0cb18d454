"""Webhook endpoints and their outbox of deliveries.

An event writes one outbox row per subscribed endpoint in the transaction that records it
(server/db/events.py), so an event is never lost and never sent for a change that rolled back.
The dispatcher (server/lifecycle/dispatcher.py) claims due rows with a lease — one UPDATE … WHERE
the lease is free — so two processes never deliver the same row at once. A row's ID is the
`webhook-id` header on every attempt, so receivers can de-duplicate.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import time
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.audit_actions import Actor
from server.crypto import Sealer, random_id
from server.db.audit import record_audit, url_without_query
from server.db.clock import as_utc, required_utc, utcnow
from server.db.database import Database
from server.db.statements import Row
from server.db.tables import webhook_deliveries, webhook_endpoints
from server.errors import InvalidRequest, NotFound
from server.event_types import WEBHOOK_EVENT_TYPES

EVENT_TYPES = WEBHOOK_EVENT_TYPES  # the webhook event types (server/event_types.py)
DELIVERY_STATUSES = ("pending", "delivered", "failed")
SECRET_PREFIX = "whsec_"
MAX_ENDPOINTS_PER_ENVIRONMENT = 20


def _iso(value: datetime | None) -> str | None:
    value = as_utc(value)
    return value.isoformat().replace("+00:00", "Z") if value else None


@dataclass(frozen=True)
class WebhookEndpoint:
    id: str
    workspace_id: str
    environment: str
    url: str
    events: tuple[str, ...]
    description: str | None
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "environment": self.environment,
            "url": self.url,
            "events": list(self.events),
            "description": self.description,
            "created_at": _iso(self.created_at),
        }


@dataclass(frozen=True)
class CreatedEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # shown once; stored sealed


@dataclass(frozen=True)
class Delivery:
    id: str
    endpoint_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "endpoint_id": self.endpoint_id,
            "event_type": self.event_type,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": _iso(self.next_attempt_at) if self.status == "pending" else None,
            "last_attempt_at": _iso(self.last_attempt_at),
            "last_status_code": self.last_status_code,
            "last_error": self.last_error,
            "created_at": _iso(self.created_at),
            "delivered_at": _iso(self.delivered_at),
        }


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery this worker holds the lease on, with what it needs to send it."""

    id: str
    endpoint_id: str
    url: str
    secret_enc: str
    payload: str
    attempts: int  # including the attempt about to be made
    lease_token: str

    def secret(self, sealer: Sealer) -> str:
        return sealer.open(self.secret_enc, _secret_aad(self.endpoint_id)).decode()


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(os.urandom(32)).decode()


def _secret_aad(endpoint_id: str) -> str:
    return f"webhook_endpoint:{endpoint_id}:secret"


def new_delivery_id() -> str:
    """`msg_` + milliseconds (hex) + randomness: unique, and sorts by creation time."""
    return f"msg_{int(time.time() * 1000):012x}{secrets.token_hex(8)}"


def _endpoint(row: Row) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row["id"],
        workspace_id=row["workspace_id"],
        environment=row["environment"],
        url=row["url"],
        events=tuple(json.loads(row["events"])),
        description=row["description"],
        created_at=required_utc(row["created_at"], "webhook_endpoints.created_at"),
    )


def _delivery(row: Row) -> Delivery:
    return Delivery(
        id=row["id"],
        endpoint_id=row["endpoint_id"],
        event_type=row["event_type"],
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=as_utc(row["next_attempt_at"]),
        last_attempt_at=as_utc(row["last_attempt_at"]),
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
        created_at=required_utc(row["created_at"], "webhook_deliveries.created_at"),
        delivered_at=as_utc(row["delivered_at"]),
    )


def check_events(events: list[str] | None) -> tuple[str, ...]:
    """The event filter: named types, or every type when none (or `*`) is given."""
    if not events or events == ["*"]:
        return EVENT_TYPES
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise InvalidRequest(f"Unknown event type {unknown[0]!r}. Known: {', '.join(EVENT_TYPES)}.")
    return tuple(e for e in EVENT_TYPES if e in events)


def _scoped(workspace_id: str, environment: str) -> sa.ColumnElement[bool]:
    return sa.and_(webhook_endpoints.c.workspace_id == workspace_id, webhook_endpoints.c.environment == environment)


async def create_endpoint(
    db: Database,
    sealer: Sealer,
    workspace_id: str,
    environment: str,
    *,
    url: str,
    events: tuple[str, ...],
    description: str | None = None,
    actor: Actor | None = None,
) -> CreatedEndpoint:
    """Store an endpoint (the URL already checked: server/lifecycle/urls.py). With an `actor`, the
    activity log records it: the URL without its query string, never the signing secret."""
    endpoint_id = random_id("whep", 12)
    secret = new_secret()
    now = utcnow()
    async with db.transaction():
        count = await db.fetch_val(
            sa.select(sa.func.count()).select_from(webhook_endpoints).where(_scoped(workspace_id, environment))
        )
        if count >= MAX_ENDPOINTS_PER_ENVIRONMENT:
            raise InvalidRequest(f"An environment can have at most {MAX_ENDPOINTS_PER_ENVIRONMENT} webhook endpoints.")
        await db.execute(
            webhook_endpoints.insert().values(
                id=endpoint_id,
                workspace_id=workspace_id,
                environment=environment,
                url=url,
                events=json.dumps(list(events)),
                description=description,
                secret_enc=sealer.seal(secret.encode(), _secret_aad(endpoint_id)),
                created_at=now,
            )
        )
        if actor is not None:
            await record_audit(
                db,
                workspace_id=workspace_id,
                environment=environment,
                action="webhook.created",
                actor=actor,
                changes={
                    "endpoint_id": endpoint_id,
                    "url": url_without_query(url),
                    "events": list(events),
                    "description": description,
                },
            )
    endpoint = WebhookEndpoint(endpoint_id, workspace_id, environment, url, tuple(events), description, now)
    return CreatedEndpoint(endpoint=endpoint, secret=secret)


async def list_endpoints(db: Database, workspace_id: str, environment: str) -> list[WebhookEndpoint]:
    rows = await db.fetch_all(
        sa.select(webhook_endpoints)
        .where(_scoped(workspace_id, environment))
        .order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id)
    )
    return [_endpoint(r) for r in rows]


async def get_endpoint(db: Database, workspace_id: str, environment: str, endpoint_id: str) -> WebhookEndpoint:
    row = await db.fetch_one(
        sa.select(webhook_endpoints).where(_scoped(workspace_id, environment), webhook_endpoints.c.id == endpoint_id)
    )
    if row is None:
        raise NotFound(f"No webhook endpoint {endpoint_id!r} in this environment.")
    return _endpoint(row)


async def delete_endpoint(
    db: Database, workspace_id: str, environment: str, endpoint_id: str, *, actor: Actor | None = None
) -> WebhookEndpoint:
    """Delete the endpoint and its deliveries, pending ones included (recorded with an `actor`)."""
    async with db.transaction():
        endpoint = await get_endpoint(db, workspace_id, environment, endpoint_id)
        await db.execute(webhook_deliveries.delete().where(webhook_deliveries.c.endpoint_id == endpoint_id))
        await db.execute(webhook_endpoints.delete().where(webhook_endpoints.c.id == endpoint_id))
        if actor is not None:
            await record_audit(
                db,
                workspace_id=workspace_id,
                environment=environment,
                action="webhook.deleted",
                actor=actor,
                changes={
                    "endpoint_id": endpoint_id,
                    "url": url_without_query(endpoint.url),
                    "events": list(endpoint.events),
                },
            )
    return endpoint


# ---- The outbox -------------------------------------------------------------------------------


# Every connection event asks who subscribes: a statement built once.
_SUBSCRIBERS = sa.select(webhook_endpoints.c.id, webhook_endpoints.c.events).where(
    webhook_endpoints.c.workspace_id == sa.bindparam("workspace_id"),
    webhook_endpoints.c.environment == sa.bindparam("environment"),
)


async def enqueue(
    db: Database,
    *,
    workspace_id: str,
    environment: str,
    event_type: str,
    data: dict[str, Any],
    now: datetime,
) -> int:
    """Write one pending delivery per endpoint subscribed to this event; return how many.

    Call inside the transaction that records the event.
    """
    rows = await db.fetch_all(_SUBSCRIBERS, {"workspace_id": workspace_id, "environment": environment})
    targets = [r["id"] for r in rows if event_type in json.loads(r["events"])]
    if not targets:
        return 0
    payload = json.dumps({"type": event_type, "timestamp": _iso(now), "data": data}, separators=(",", ":"))
    for endpoint_id in targets:
        await db.insert(
            webhook_deliveries,
            {
                "id": new_delivery_id(),
                "endpoint_id": endpoint_id,
                "workspace_id": workspace_id,
                "environment": environment,
                "event_type": event_type,
                "payload": payload,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            },
        )
    return len(targets)


def _lease_free(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(webhook_deliveries.c.lease_until.is_(None), webhook_deliveries.c.lease_until < now)


async def due_deliveries(db: Database, *, now: datetime, limit: int) -> list[str]:
    rows = await db.fetch_all(
        sa.select(webhook_deliveries.c.id)
        .where(webhook_deliveries.c.status == "pending", webhook_deliveries.c.next_attempt_at <= now, _lease_free(now))
        .order_by(webhook_deliveries.c.next_attempt_at)
        .limit(limit)
    )
    return [str(r["id"]) for r in rows]


async def next_attempt_at(db: Database, *, now: datetime) -> datetime | None:
    """When the soonest pending delivery nobody holds falls due (None: nothing waiting)."""
    value = await db.fetch_val(
        sa.select(sa.func.min(webhook_deliveries.c.next_attempt_at)).where(
            webhook_deliveries.c.status == "pending", _lease_free(now)
        )
    )
    return as_utc(value)


async def outbox_state(db: Database, *, now: datetime) -> tuple[int, float]:
    """(deliveries pending, seconds the oldest due one has waited past its time — 0 when none is due),
    across every workspace: what /metrics reports of the outbox."""
    pending = webhook_deliveries.c.status == "pending"
    backlog = await db.fetch_val(sa.select(sa.func.count()).select_from(webhook_deliveries).where(pending))
    oldest = await db.fetch_val(
        sa.select(sa.func.min(webhook_deliveries.c.next_attempt_at)).where(
            pending, webhook_deliveries.c.next_attempt_at <= now
        )
    )
    oldest_at = as_utc(oldest) if oldest is not None else None
    return int(backlog or 0), max(0.0, (now - oldest_at).total_seconds()) if oldest_at else 0.0


async def claim(
    db: Database, delivery_id: str, *, token: str, now: datetime, lease_until: datetime
) -> ClaimedDelivery | None:
    """Take the lease on a due delivery and count the attempt; None when another worker has it."""
    row = await db.fetch_one(
        webhook_deliveries.update()
        .where(
            webhook_deliveries.c.id == delivery_id,
            webhook_deliveries.c.status == "pending",
            webhook_deliveries.c.next_attempt_at <= now,
            _lease_free(now),
        )
        .values(
            lease_until=lease_until, lease_token=token, attempts=webhook_deliveries.c.attempts + 1, last_attempt_at=now
        )
        .returning(
            webhook_deliveries.c.id,
            webhook_deliveries.c.endpoint_id,
            webhook_deliveries.c.payload,
            webhook_deliveries.c.attempts,
        )
    )
    if row is None:
        return None
    endpoint = await db.fetch_one(
        sa.select(webhook_endpoints.c.url, webhook_endpoints.c.secret_enc).where(
            webhook_endpoints.c.id == row["endpoint_id"]
        )
    )
    if endpoint is None:  # deleted meanwhile (its deliveries go with it)
        return None
    return ClaimedDelivery(
        id=row["id"],
        endpoint_id=row["endpoint_id"],
        url=endpoint["url"],
        secret_enc=endpoint["secret_enc"],
        payload=row["payload"],
        attempts=row["attempts"],
        lease_token=token,
    )


async def mark_delivered(db: Database, delivery_id: str, *, status_code: int, now: datetime) -> None:
    """Final: a delivered row is never attempted again (whoever held the lease)."""
    await db.execute(
        webhook_deliveries.update()
        .where(webhook_deliveries.c.id == delivery_id)
        .values(
            status="delivered",
            delivered_at=now,
            last_status_code=status_code,
            last_error=None,
            next_attempt_at=None,
            lease_until=None,
            lease_token=None,
        )
    )


async def mark_failed_attempt(
    db: Database,
    delivery_id: str,
    *,
    token: str,
    status_code: int | None,
    error: str | None,
    next_attempt_at: datetime | None,
) -> None:
    """Schedule the next attempt, or give up (`next_attempt_at` None: status `failed`)."""
    await db.execute(
        webhook_deliveries.update()
        .where(
            webhook_deliveries.c.id == delivery_id,
            webhook_deliveries.c.lease_token == token,
            webhook_deliveries.c.status == "pending",
        )
        .values(
            status="pending" if next_attempt_at else "failed",
            next_attempt_at=next_attempt_at,
            last_status_code=status_code,
            last_error=(error or "")[:300] or None,
            lease_until=None,
            lease_token=None,
        )
    )


async def list_deliveries(
    db: Database,
    workspace_id: str,
    environment: str,
    endpoint_id: str,
    *,
    status: str | None = None,
    limit: int = 50,
    after: str | None = None,
) -> list[Delivery]:
    """Newest first; `after` continues from a delivery ID of the previous page."""
    await get_endpoint(db, workspace_id, environment, endpoint_id)
    if status is not None and status not in DELIVERY_STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(DELIVERY_STATUSES)}.")
    query = sa.select(webhook_deliveries).where(webhook_deliveries.c.endpoint_id == endpoint_id)
    if status:
        query = query.where(webhook_deliveries.c.status == status)
    if after:
        query = query.where(webhook_deliveries.c.id < after)
    rows = await db.fetch_all(query.order_by(webhook_deliveries.c.id.desc()).limit(limit))
    return [_delivery(r) for r in rows]


async def reseal_secrets(db: Database, sealer: Sealer) -> int:
    """Re-encrypt endpoint secrets made with an old LATCHKEY_SECRET_KEY; return how many."""
    count = 0
    for row in await db.fetch_all(sa.select(webhook_endpoints.c.id, webhook_endpoints.c.secret_enc)):
        if sealer.needs_reseal(row["secret_enc"]):
            aad = _secret_aad(row["id"])
            await db.execute(
                webhook_endpoints.update()
                .where(webhook_endpoints.c.id == row["id"], webhook_endpoints.c.secret_enc == row["secret_enc"])
                .values(secret_enc=sealer.seal(sealer.open(row["secret_enc"], aad), aad))
            )
            count += 1
    return count


# ---- Waking the in-process dispatcher ---------------------------------------------------------

_wake: weakref.WeakKeyDictionary[Database, asyncio.Event] = weakref.WeakKeyDictionary()


def wake_event(db: Database) -> asyncio.Event:
    """The event a dispatcher waits on; set when this process writes outbox rows."""
    return _wake.setdefault(db, asyncio.Event())


def notify(db: Database) -> None:
    event = _wake.get(db)
    if event is not None:
        event.set()
