"""Embed settings: the widget options a workspace environment's snippets are built from."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa

from server.audit_actions import Actor
from server.db.audit import diff, record_audit
from server.db.clock import utcnow
from server.db.database import Database
from server.db.statements import Row
from server.db.tables import embed_settings


@dataclass(frozen=True)
class EmbedSettings:
    workspace_id: str
    environment: str
    success_url: str | None = None
    failure_url: str | None = None
    scopes: tuple[str, ...] = ()
    mode: str = "popup"
    categories: tuple[str, ...] = ()
    integrations: tuple[str, ...] = ()
    theme: str = "auto"
    accent: str | None = None
    lang: str = "en"
    saved: bool = field(default=False, compare=False)

    def with_(self, **changes: Any) -> EmbedSettings:
        return replace(self, **changes)


def _row(row: Row) -> EmbedSettings:
    return EmbedSettings(
        workspace_id=row["workspace_id"],
        environment=row["environment"],
        success_url=row["success_url"],
        failure_url=row["failure_url"],
        scopes=tuple(json.loads(row["scopes"])),
        mode=row["mode"],
        categories=tuple(json.loads(row["categories"])),
        integrations=tuple(json.loads(row["integrations"])),
        theme=row["theme"],
        accent=row["accent"],
        lang=row["lang"],
        saved=True,
    )


def _key(workspace_id: str, environment: str) -> sa.ColumnElement[bool]:
    return sa.and_(embed_settings.c.workspace_id == workspace_id, embed_settings.c.environment == environment)


async def get_embed_settings(db: Database, workspace_id: str, environment: str) -> EmbedSettings:
    """The saved settings, or the defaults (popup, every activated integration, automatic theme)."""
    row = await db.fetch_one(sa.select(embed_settings).where(_key(workspace_id, environment)))
    return _row(row) if row else EmbedSettings(workspace_id=workspace_id, environment=environment)


# The settings the activity log compares, in the order the embed page shows them.
AUDITED_FIELDS = (
    "mode",
    "success_url",
    "failure_url",
    "scopes",
    "categories",
    "integrations",
    "theme",
    "accent",
    "lang",
)


def _audited(settings: EmbedSettings) -> dict[str, Any]:
    values = {name: getattr(settings, name) for name in AUDITED_FIELDS}
    return {name: list(v) if isinstance(v, tuple) else v for name, v in values.items()}


async def save_embed_settings(db: Database, settings: EmbedSettings, *, actor: Actor | None = None) -> EmbedSettings:
    """With an `actor`, the activity log records what changed (`embed.updated`; nothing: no event)."""
    values: dict[str, Any] = {
        "success_url": settings.success_url,
        "failure_url": settings.failure_url,
        "scopes": json.dumps(list(settings.scopes)),
        "mode": settings.mode,
        "categories": json.dumps(list(settings.categories)),
        "integrations": json.dumps(list(settings.integrations)),
        "theme": settings.theme,
        "accent": settings.accent,
        "lang": settings.lang,
        "updated_at": utcnow(),
    }
    async with db.transaction():
        before = await get_embed_settings(db, settings.workspace_id, settings.environment)
        if before.saved:
            await db.execute(
                embed_settings.update().where(_key(settings.workspace_id, settings.environment)).values(**values)
            )
        else:
            await db.execute(
                embed_settings.insert().values(
                    workspace_id=settings.workspace_id, environment=settings.environment, **values
                )
            )
        old, new = _audited(before), _audited(settings)
        changes = diff(**{name: (old[name], new[name]) for name in AUDITED_FIELDS})
        if actor is not None and changes:
            await record_audit(
                db,
                workspace_id=settings.workspace_id,
                environment=settings.environment,
                action="embed.updated",
                actor=actor,
                changes=changes,
            )
    return await get_embed_settings(db, settings.workspace_id, settings.environment)
