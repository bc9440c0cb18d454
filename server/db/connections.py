"""Connections: one end-user's authorized link to one integration.

Rule for re-authorization: a workspace environment holds at most one connection per
(integration, external_xref). Authorizing again updates that connection in place — same ID,
fresh credentials and scopes, status back to healthy — so re-connecting never leaves a silent
duplicate. The upsert is a single INSERT … ON CONFLICT statement, so two concurrent flows for the
same end-user still end with one row.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from server.crypto import Sealer, UnreadableSecret, random_id
from server.db.clock import as_utc, required_utc, utcnow
from server.db.database import Database
from server.db.statements import Row
from server.db.tables import connections, environments
from server.db.workspaces import Environment, by_key, environment_of, key_values
from server.errors import InvalidRequest, NotFound

STATUSES = ("healthy", "unhealthy", "revoked")


@dataclass(frozen=True)
class Connection:
    id: str
    workspace_id: str
    environment: str
    integration: str
    external_xref: str
    status: str
    status_reason: str | None
    scopes_requested: list[str]
    scopes_granted: list[str]
    provider_scopes: list[str]
    partial_grant: bool
    metadata: dict[str, Any]
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    authorized_at: datetime
    status_changed_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "integration": self.integration,
            "environment": self.environment,
            "external_xref": self.external_xref,
            "status": self.status,
            "status_reason": self.status_reason,
            "scopes_requested": self.scopes_requested,
            "scopes_granted": self.scopes_granted,
            "provider_scopes": self.provider_scopes,
            "partial_grant": self.partial_grant,
            "metadata": self.metadata,
            "expires_at": _iso(self.expires_at),
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "authorized_at": _iso(self.authorized_at),
            "status_changed_at": _iso(self.status_changed_at),
        }


class CredentialsUnreadable(Exception):
    """The connection's stored credentials do not decrypt: another secret key, or a ciphertext from another row.

    Not a LatchkeyError: it carries the row to mark unhealthy, and server/lifecycle/refresh.py turns it into
    ConnectionUnhealthy (409).
    """

    def __init__(self, connection: Connection, ciphertext: str) -> None:
        super().__init__(f"the credentials of connection {connection.id} do not decrypt")
        self.connection = connection
        self.ciphertext = ciphertext  # the one that failed: only that one may be marked unreadable


def _open_credentials(sealer: Sealer, connection: Connection, ciphertext: str) -> dict[str, Any]:
    aad = credentials_aad(
        connection.workspace_id, connection.environment, connection.integration, connection.external_xref
    )
    try:
        credentials: dict[str, Any] = sealer.open_json(ciphertext, aad)
    except UnreadableSecret as exc:
        raise CredentialsUnreadable(connection, ciphertext) from exc
    return credentials


@dataclass(frozen=True)
class NewConnection:
    workspace_id: str
    environment: str
    integration: str
    external_xref: str
    credentials: dict[str, Any]
    scopes_requested: list[str] = field(default_factory=list)
    scopes_granted: list[str] = field(default_factory=list)
    provider_scopes: list[str] = field(default_factory=list)
    partial_grant: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    expires_at: datetime | None = None


@dataclass(frozen=True)
class SavedConnection:
    connection: Connection
    created: bool


def _iso(value: datetime | None) -> str | None:
    value = as_utc(value)
    return value.isoformat().replace("+00:00", "Z") if value else None


def credentials_aad(workspace_id: str, environment: str, integration: str, external_xref: str) -> str:
    """Binds a ciphertext to its row's natural key (the row ID survives a re-authorization)."""
    return json.dumps(["connection", workspace_id, environment, integration, external_xref])


def connection_of(row: Row) -> Connection:
    """A connection row (its public columns at least) as a Connection."""
    return Connection(
        id=row["id"],
        workspace_id=row["workspace_id"],
        environment=row["environment"],
        integration=row["integration"],
        external_xref=row["external_xref"],
        status=row["status"],
        status_reason=row["status_reason"],
        scopes_requested=json.loads(row["scopes_requested"]),
        scopes_granted=json.loads(row["scopes_granted"]),
        provider_scopes=json.loads(row["provider_scopes"]),
        partial_grant=bool(row["partial_grant"]),
        metadata=json.loads(row["metadata"]),
        expires_at=as_utc(row["expires_at"]),
        created_at=required_utc(row["created_at"], "connections.created_at"),
        updated_at=required_utc(row["updated_at"], "connections.updated_at"),
        authorized_at=required_utc(row["authorized_at"], "connections.authorized_at"),
        status_changed_at=as_utc(row["status_changed_at"]),
    )


_PUBLIC_COLUMNS = [c for c in connections.c if c.name != "credentials_enc"]


async def save_connection(db: Database, sealer: Sealer, new: NewConnection) -> SavedConnection:
    """Insert, or re-authorize the end-user's existing connection to this integration."""
    now = utcnow()
    new_id = random_id("conn", 12)
    aad = credentials_aad(new.workspace_id, new.environment, new.integration, new.external_xref)
    changing = {
        "status": "healthy",
        "status_reason": None,
        "scopes_requested": json.dumps(new.scopes_requested),
        "scopes_granted": json.dumps(new.scopes_granted),
        "provider_scopes": json.dumps(new.provider_scopes),
        "partial_grant": new.partial_grant,
        "credentials_enc": sealer.seal_json(new.credentials, aad),
        "metadata": json.dumps(new.metadata),
        "expires_at": new.expires_at,
        "updated_at": now,
        "authorized_at": now,
        # A fresh grant starts the refresh bookkeeping over.
        "refreshable": bool(new.credentials.get("refresh_token")),
        "refresh_failures": 0,
        "refresh_failing_since": None,
        "refresh_error": None,
        "next_refresh_at": None,
    }
    values = {
        "id": new_id,
        "workspace_id": new.workspace_id,
        "environment": new.environment,
        "integration": new.integration,
        "external_xref": new.external_xref,
        "created_at": now,
        "status_changed_at": now,
        **changing,
    }
    upsert = _upsert(db.dialect, tuple(values), tuple(changing))
    row = await db.fetch_one(upsert, {f"v_{name}": value for name, value in values.items()})
    assert row is not None  # an upsert with RETURNING always returns the row it wrote
    connection = connection_of(row)
    return SavedConnection(connection=connection, created=connection.id == new_id)


@functools.cache
def _upsert(dialect: str, columns: tuple[str, ...], changing: tuple[str, ...]) -> sa.Insert:
    """INSERT … ON CONFLICT (the end-user's connection to this integration) DO UPDATE SET `changing`,
    built once per dialect; parameters are named `v_<column>` (a parameter may not take a column's
    own name here)."""
    insert_fn = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert_fn(connections).values(
        {name: sa.bindparam(f"v_{name}", type_=connections.c[name].type) for name in columns}
    )
    # The status changes now unless the connection was healthy already. The literal is written into
    # the SQL: a bound value would send every upsert down the slow path of statements.py.
    status_changed_at = sa.case(
        (connections.c.status == sa.literal_column("'healthy'"), connections.c.status_changed_at),
        else_=stmt.excluded.status_changed_at,
    )
    return stmt.on_conflict_do_update(
        index_elements=["workspace_id", "environment", "integration", "external_xref"],
        set_={**{name: stmt.excluded[name] for name in changing}, "status_changed_at": status_changed_at},
    ).returning(*_PUBLIC_COLUMNS)


def _scoped(workspace_id: str, environment: str) -> sa.ColumnElement[bool]:
    return sa.and_(connections.c.workspace_id == workspace_id, connections.c.environment == environment)


# The hot paths (a host reads a connection before each provider call) use statements built once.
_IN_SCOPE = sa.and_(
    connections.c.id == sa.bindparam("id"),
    connections.c.workspace_id == sa.bindparam("workspace_id"),
    connections.c.environment == sa.bindparam("environment"),
)
_GET = sa.select(*_PUBLIC_COLUMNS).where(_IN_SCOPE)
_STATE = sa.select(connections).where(connections.c.id == sa.bindparam("id"))
_STATE_IN_SCOPE = sa.select(connections).where(_IN_SCOPE)


# A host's most frequent requests read one connection with their API key: both in one query, the
# connection's columns labelled `c_…` and left-joined, so a key that opens no such row still
# resolves (the caller answers 404 after the key is admitted, 401 when it is not).
_KEYED_ON = sa.and_(
    connections.c.id == sa.bindparam("id"),
    connections.c.workspace_id == environments.c.workspace_id,
    connections.c.environment == environments.c.name,
)
_KEYED_GET = by_key(*(c.label(f"c_{c.name}") for c in _PUBLIC_COLUMNS)).outerjoin(connections, _KEYED_ON)
_KEYED_STATE = by_key(*(c.label(f"c_{c.name}") for c in connections.c)).outerjoin(connections, _KEYED_ON)


@dataclass(frozen=True)
class Keyed:
    """What `read_with_key` found: the key's environment, and the connection's row in it (or None)."""

    environment: Environment
    row: Row | None


async def read_with_key(db: Database, api_key: str, connection_id: str, *, whole: bool = False) -> Keyed | None:
    """The environment `api_key` opens and, in the same query, its connection `connection_id`: the
    public columns, or `whole` (credentials and refresh bookkeeping too, for `refresh_state_of`).
    None when the key opens nothing."""
    values = key_values(api_key)
    row = await db.fetch_one(_KEYED_STATE if whole else _KEYED_GET, {**values, "id": connection_id})
    if row is None:
        return None
    connection = row.part("c_")
    return Keyed(environment_of(row, values), None if connection["id"] is None else connection)


def not_found(connection_id: str) -> NotFound:
    return NotFound(f"No connection {connection_id!r} in this environment.")


async def get_connection(db: Database, workspace_id: str, environment: str, connection_id: str) -> Connection:
    row = await db.fetch_one(_GET, {"id": connection_id, "workspace_id": workspace_id, "environment": environment})
    if row is None:
        raise not_found(connection_id)
    return connection_of(row)


async def read_credentials(db: Database, sealer: Sealer, connection: Connection) -> dict[str, Any]:
    row = await db.fetch_one(sa.select(connections.c.credentials_enc).where(connections.c.id == connection.id))
    if row is None:
        raise NotFound("The connection was deleted.")
    return _open_credentials(sealer, connection, row["credentials_enc"])


async def list_connections(
    db: Database,
    workspace_id: str,
    environment: str,
    *,
    integration: str | None = None,
    external_xref: str | None = None,
    status: str | None = None,
    limit: int = 50,
    after: str | None = None,
) -> list[Connection]:
    if status is not None and status not in STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}.")
    filters = {"integration": integration, "external_xref": external_xref, "status": status, "after": after}
    given = {name: value for name, value in filters.items() if value}
    values = {"workspace_id": workspace_id, "environment": environment, "limit": limit, **given}
    rows = await db.fetch_all(_list_statement(frozenset(given)), values)
    return [connection_of(r) for r in rows]


@functools.cache
def _list_statement(filters: frozenset[str]) -> sa.Select[Any]:
    """The list query for one combination of filters, built once (sixteen at most)."""
    query = sa.select(*_PUBLIC_COLUMNS).where(
        connections.c.workspace_id == sa.bindparam("workspace_id"),
        connections.c.environment == sa.bindparam("environment"),
    )
    for name in ("integration", "external_xref", "status"):
        if name in filters:
            query = query.where(connections.c[name] == sa.bindparam(name))
    if "after" in filters:
        query = query.where(connections.c.id > sa.bindparam("after"))
    return query.order_by(connections.c.id).limit(sa.bindparam("limit", type_=sa.Integer))


async def delete_connection(db: Database, workspace_id: str, environment: str, connection_id: str) -> Connection:
    connection = await get_connection(db, workspace_id, environment, connection_id)
    await db.execute(connections.delete().where(_scoped(workspace_id, environment), connections.c.id == connection_id))
    return connection


# ---- Refresh: the lease and the bookkeeping (server/lifecycle/refresh.py drives them) ----------


@dataclass(frozen=True)
class RefreshState:
    """A connection as the refresher sees it: decrypted credentials and the refresh bookkeeping."""

    connection: Connection
    credentials: dict[str, Any]
    authorized_at_raw: Any  # as stored: compared to detect a re-authorization during a refresh
    refreshable: bool | None
    lock_until: datetime | None
    attempted_at: datetime | None
    failures: int
    failing_since: datetime | None
    error: str | None
    next_refresh_at: datetime | None


async def load_refresh_state(
    db: Database, sealer: Sealer, connection_id: str, scope: tuple[str, str] | None = None
) -> RefreshState | None:
    """`scope`: (workspace ID, environment) the connection must belong to."""
    if scope is None:
        row = await db.fetch_one(_STATE, {"id": connection_id})
    else:
        row = await db.fetch_one(
            _STATE_IN_SCOPE, {"id": connection_id, "workspace_id": scope[0], "environment": scope[1]}
        )
    return None if row is None else refresh_state_of(sealer, row)


def refresh_state_of(sealer: Sealer, row: Row) -> RefreshState:
    """A whole connection row as the refresher sees it (its credentials opened)."""
    connection = connection_of(row)
    return RefreshState(
        connection=connection,
        credentials=_open_credentials(sealer, connection, row["credentials_enc"]),
        authorized_at_raw=row["authorized_at"],
        refreshable=None if row["refreshable"] is None else bool(row["refreshable"]),
        lock_until=as_utc(row["refresh_lock_until"]),
        attempted_at=as_utc(row["refresh_attempted_at"]),
        failures=row["refresh_failures"] or 0,
        failing_since=as_utc(row["refresh_failing_since"]),
        error=row["refresh_error"],
        next_refresh_at=as_utc(row["next_refresh_at"]),
    )


async def acquire_refresh_lease(db: Database, connection_id: str, token: str, now: datetime, until: datetime) -> bool:
    """Take the connection's refresh lease unless another refresher holds an unexpired one.

    One UPDATE … WHERE the lease is free: of any number of concurrent callers, in any number of
    processes sharing the database, exactly one gets the row.
    """
    row = await db.fetch_one(
        connections.update()
        .where(
            connections.c.id == connection_id,
            sa.or_(connections.c.refresh_lock_until.is_(None), connections.c.refresh_lock_until < now),
        )
        .values(refresh_lock_until=until, refresh_lock_token=token)
        .returning(connections.c.id)
    )
    return row is not None


async def release_refresh_lease(db: Database, connection_id: str, token: str) -> None:
    await db.execute(
        connections.update()
        .where(connections.c.id == connection_id, connections.c.refresh_lock_token == token)
        .values(refresh_lock_until=None, refresh_lock_token=None)
    )


def _same_grant(state: RefreshState) -> sa.ColumnElement[bool]:
    """The row still holds the grant the refresher read (no re-authorization in between)."""
    return sa.and_(connections.c.id == state.connection.id, connections.c.authorized_at == state.authorized_at_raw)


async def store_refreshed(
    db: Database,
    sealer: Sealer,
    state: RefreshState,
    credentials: dict[str, Any],
    *,
    expires_at: datetime | None,
    metadata: dict[str, Any],
    now: datetime,
) -> Connection | None:
    """Store a refresh's tokens — access and (rotated) refresh token in one statement.

    None when the end-user re-authorized meanwhile: that grant's tokens are newer, keep them.
    """
    c = state.connection
    values: dict[str, Any] = {
        "credentials_enc": sealer.seal_json(
            credentials, credentials_aad(c.workspace_id, c.environment, c.integration, c.external_xref)
        ),
        "expires_at": expires_at,
        "metadata": json.dumps(metadata),
        "updated_at": now,
        "refreshable": True,
        "refreshed_at": now,
        "refresh_attempted_at": now,
        "refresh_failures": 0,
        "refresh_failing_since": None,
        "refresh_error": None,
        "next_refresh_at": None,
    }
    if c.status != "healthy":
        values.update(status="healthy", status_reason=None, status_changed_at=now)
    row = await db.fetch_one(
        connections.update().where(_same_grant(state)).values(**values).returning(*_PUBLIC_COLUMNS)
    )
    return connection_of(row) if row else None


async def record_refresh_failure(
    db: Database,
    state: RefreshState,
    *,
    error: str,
    now: datetime,
    failures: int,
    failing_since: datetime | None,
    next_refresh_at: datetime | None,
    unhealthy_reason: str | None = None,
) -> Connection | None:
    """Note a failed refresh; with `unhealthy_reason`, also mark the connection unhealthy."""
    values: dict[str, Any] = {
        "refresh_attempted_at": now,
        "refresh_failures": failures,
        "refresh_failing_since": failing_since,
        "refresh_error": error[:40],
        "next_refresh_at": next_refresh_at,
    }
    if unhealthy_reason is not None:
        values.update(status="unhealthy", status_reason=unhealthy_reason[:500], updated_at=now)
        if state.connection.status != "unhealthy":
            values["status_changed_at"] = now
    row = await db.fetch_one(
        connections.update().where(_same_grant(state)).values(**values).returning(*_PUBLIC_COLUMNS)
    )
    return connection_of(row) if row else None


async def mark_credentials_unreadable(
    db: Database, unreadable: CredentialsUnreadable, *, reason: str, now: datetime
) -> Connection | None:
    """Mark unhealthy a connection whose credentials do not decrypt, in one UPDATE.

    Only while the row still holds the ciphertext that failed (a re-authorization since wrote a
    good one) and is not unhealthy already: of concurrent readers, one gets the row (and records
    the event); None for the others.
    """
    row = await db.fetch_one(
        connections.update()
        .where(
            connections.c.id == unreadable.connection.id,
            connections.c.credentials_enc == unreadable.ciphertext,
            connections.c.status != "unhealthy",
        )
        .values(status="unhealthy", status_reason=reason[:500], status_changed_at=now, updated_at=now)
        .returning(*_PUBLIC_COLUMNS)
    )
    return connection_of(row) if row else None


async def mark_rejected(db: Database, state: RefreshState, *, reason: str, now: datetime) -> Connection | None:
    """Mark unhealthy a connection whose provider refused its freshly refreshed token, in one UPDATE:
    only while the row holds the grant read and is not unhealthy already (one caller records it)."""
    row = await db.fetch_one(
        connections.update()
        .where(_same_grant(state), connections.c.status != "unhealthy")
        .values(status="unhealthy", status_reason=reason[:500], status_changed_at=now, updated_at=now)
        .returning(*_PUBLIC_COLUMNS)
    )
    return connection_of(row) if row else None


async def mark_not_refreshable(db: Database, state: RefreshState) -> None:
    await db.execute(connections.update().where(_same_grant(state)).values(refreshable=False))


async def due_for_refresh(db: Database, *, now: datetime, ahead: timedelta, limit: int) -> list[str]:
    """Healthy connections whose access token expires within `ahead`, soonest first, not backing off."""
    rows = await db.fetch_all(
        sa.select(connections.c.id)
        .where(
            connections.c.status == "healthy",
            sa.or_(connections.c.refreshable.is_(None), connections.c.refreshable.is_(True)),
            connections.c.expires_at.is_not(None),
            connections.c.expires_at <= now + ahead,
            sa.or_(connections.c.next_refresh_at.is_(None), connections.c.next_refresh_at <= now),
            sa.or_(connections.c.refresh_lock_until.is_(None), connections.c.refresh_lock_until < now),
        )
        .order_by(connections.c.expires_at)
        .limit(limit)
    )
    return [str(r["id"]) for r in rows]
