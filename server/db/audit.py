"""The activity log: who changed a workspace environment's configuration, when, and what changed.

The stores that make a change call `record_audit` inside the transaction that writes it, so an
event exists exactly when its change committed: a refused or failed change records nothing.

`changes` never holds a secret, by construction: the stores build it from non-secret fields only
(a client secret becomes `set`, `changed` or `removed`; a client ID is masked; a webhook URL loses
its query string; an API key is named by its stored 12-character prefix). As a last line,
`record_audit` blanks out anything shaped like an API key or a webhook signing secret (typed into a
description, say).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa

from server.audit_actions import AUDIT_ACTIONS, Actor, ActorKind
from server.crypto import random_id
from server.db.clock import required_utc, utcnow
from server.db.database import Database
from server.db.statements import Row
from server.db.tables import audit_events
from server.errors import InvalidRequest

# An API key (lk_sbx_…, lk_live_…) or a Standard Webhooks secret (whsec_…) longer than its prefix.
_SECRET_SHAPES = re.compile(r"lk_(?:sbx|live)_[A-Za-z0-9_-]{8,}|whsec_[A-Za-z0-9+/=]{8,}")

REDACTED = "[redacted]"

Changes = dict[str, Any]


@dataclass(frozen=True)
class AuditEvent:
    id: str
    workspace_id: str
    environment: str | None  # None: the whole workspace
    action: str
    actor: Actor
    changes: Changes
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "environment": self.environment,
            "action": self.action,
            "actor": {"kind": self.actor.kind, "name": self.actor.name},
            "changes": self.changes,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
        }


# ---- Building `changes` from non-secret values ----------------------------------------------------


def diff(**fields: tuple[Any, Any]) -> Changes:
    """`{field: {"before": b, "after": a}}` for each field whose value changed; unchanged ones are left out."""
    return {name: {"before": before, "after": after} for name, (before, after) in fields.items() if before != after}


def url_without_query(url: str) -> str:
    """A URL as the log shows it: no user name or password, no query string (`?…` says there was one)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    shown = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return shown + ("?…" if parts.query else "")


def mask(value: str | None) -> str | None:
    """A client ID as the dashboard shows it: its first and last four characters."""
    if not value:
        return None
    if len(value) <= 8:
        return "•" * len(value)
    return f"{value[:4]}{'•' * 8}{value[-4:]}"


def secret_change(had: bool, has: bool, replaced: bool) -> str | None:
    """A client secret's change as a word (`set`, `changed`, `removed`), never its value."""
    if not had and has:
        return "set"
    if had and not has:
        return "removed"
    return "changed" if had and replaced else None


# ---- Writing and reading ----------------------------------------------------------------------------


async def record_audit(
    db: Database,
    *,
    workspace_id: str,
    environment: str | None,
    action: str,
    actor: Actor,
    changes: Changes,
) -> None:
    """Append one event. Call inside the transaction that makes the change."""
    known = AUDIT_ACTIONS.get(action)
    if known is None:
        raise ValueError(f"unknown audit action {action!r} (server/audit_actions.py)")
    if known.scope == "environment" and environment is None:
        raise ValueError(f"{action} belongs to one environment: say which")
    # The shapes hold no quote or backslash, so the JSON stays valid.
    body = _SECRET_SHAPES.sub(REDACTED, json.dumps(changes, separators=(",", ":"), ensure_ascii=False))
    await db.insert(
        audit_events,
        {
            "id": random_id("aud", 12),
            "workspace_id": workspace_id,
            "environment": None if known.scope == "workspace" else environment,
            "action": action,
            "actor_kind": actor.kind,
            "actor": actor.name[:254],
            "changes": body,
            "created_at": utcnow(),
        },
    )


def _event(row: Row) -> AuditEvent:
    return AuditEvent(
        id=row["id"],
        workspace_id=row["workspace_id"],
        environment=row["environment"],
        action=row["action"],
        actor=Actor(cast(ActorKind, row["actor_kind"]), row["actor"]),
        changes=json.loads(row["changes"]),
        created_at=required_utc(row["created_at"], "audit_events.created_at"),
    )


def check_actions(actions: Sequence[str]) -> tuple[str, ...]:
    unknown = [a for a in actions if a not in AUDIT_ACTIONS]
    if unknown:
        raise InvalidRequest(f"Unknown action {unknown[0]!r}. Known: {', '.join(AUDIT_ACTIONS)}.")
    return tuple(actions)


async def list_audit_events(
    db: Database,
    workspace_id: str,
    environment: str,
    *,
    limit: int = 50,
    after: str | None = None,
    actions: Sequence[str] = (),
) -> list[AuditEvent]:
    """The environment's events and the workspace's own, newest first.

    `after` continues from an event ID of the previous page; `actions` keeps only those actions.
    """
    scoped = sa.and_(
        audit_events.c.workspace_id == workspace_id,
        sa.or_(audit_events.c.environment == environment, audit_events.c.environment.is_(None)),
    )
    query = sa.select(audit_events).where(scoped)
    if actions:
        query = query.where(audit_events.c.action.in_(check_actions(actions)))
    if after:
        seq = await db.fetch_val(sa.select(audit_events.c.seq).where(scoped, audit_events.c.id == after))
        if seq is None:
            raise InvalidRequest("after must be the ID of an event of this environment's activity log.")
        query = query.where(audit_events.c.seq < seq)
    rows = await db.fetch_all(query.order_by(audit_events.c.seq.desc()).limit(limit))
    return [_event(r) for r in rows]
