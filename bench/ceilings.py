"""The same-work ceilings: Latchkey's read endpoints written as plainly as they can be.

Each request does what Latchkey's does, and no more: hash the Bearer key (`hash_api_key`) and
read its environment row; read the connection row scoped to that workspace and environment (or
a page of them); for `?include=credentials`, open the sealed credentials with Latchkey's own
`Sealer` (HKDF key, AES-256-GCM, the row's natural key as associated data); answer the same JSON.
It uses one persistent database connection and hand-written SQL against the very database
Latchkey uses — Python's `sqlite3` on SQLite, `asyncpg` on Postgres — so the ratio to it says how
much of Latchkey's time goes to the machinery around the work rather than to the work itself.
It does not refresh tokens, count rate limits or log: those are Latchkey's to make cheap.

    LATCHKEY_SECRET_KEY=… python -m bench.ceilings --database-url URL --port P
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench.servers import serve
from server.crypto import Sealer, hash_api_key

PUBLIC_COLUMNS = (
    "id, workspace_id, environment, integration, external_xref, status, status_reason, scopes_requested, "
    "scopes_granted, provider_scopes, partial_grant, metadata, expires_at, created_at, updated_at, authorized_at, "
    "status_changed_at"
)
ENVIRONMENT_SQL = "SELECT workspace_id, name FROM environments WHERE api_key_hash = ?"
CONNECTION_SQL = f"SELECT {PUBLIC_COLUMNS} FROM connections WHERE workspace_id = ? AND environment = ? AND id = ?"
CREDENTIALS_SQL = (
    f"SELECT {PUBLIC_COLUMNS}, credentials_enc FROM connections WHERE workspace_id = ? AND environment = ? AND id = ?"
)
LIST_SQL = f"SELECT {PUBLIC_COLUMNS} FROM connections WHERE workspace_id = ? AND environment = ? ORDER BY id LIMIT ?"

Row = Sequence[Any]


class Store(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def one(self, sql: str, *args: Any) -> Row | None: ...
    async def all(self, sql: str, *args: Any) -> list[Row]: ...


class SqliteStore:
    """One `sqlite3` connection, called straight from the event loop: nothing is faster on one core."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.db: sqlite3.Connection | None = None

    async def open(self) -> None:
        self.db = sqlite3.connect(self.path, check_same_thread=False)

    async def close(self) -> None:
        if self.db is not None:
            self.db.close()

    async def one(self, sql: str, *args: Any) -> Row | None:
        assert self.db is not None
        row: Row | None = self.db.execute(sql, args).fetchone()
        return row

    async def all(self, sql: str, *args: Any) -> list[Row]:
        assert self.db is not None
        return self.db.execute(sql, args).fetchall()


def numbered(sql: str) -> str:
    """`?` placeholders as Postgres's `$1, $2, …`."""
    parts = sql.split("?")
    return "".join(part + (f"${i + 1}" if i < len(parts) - 1 else "") for i, part in enumerate(parts))


class PostgresStore:
    """One `asyncpg` connection (its statements are prepared once and cached), one query at a time."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.db: Any = None
        self.turn = asyncio.Lock()

    async def open(self) -> None:
        self.db = await asyncpg.connect(self.url)

    async def close(self) -> None:
        if self.db is not None:
            await self.db.close()

    async def one(self, sql: str, *args: Any) -> Row | None:
        async with self.turn:
            row: Row | None = await self.db.fetchrow(numbered(sql), *args)
            return row

    async def all(self, sql: str, *args: Any) -> list[Row]:
        async with self.turn:
            rows: list[Row] = await self.db.fetch(numbered(sql), *args)
            return rows


def iso(value: datetime | str | None) -> str | None:
    """As Latchkey writes times: UTC, ISO 8601, `Z` (SQLite hands back naive text)."""
    if value is None:
        return None
    stamp = datetime.fromisoformat(value) if isinstance(value, str) else value
    stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    return stamp.isoformat().replace("+00:00", "Z")


def connection_json(row: Row) -> dict[str, Any]:
    return {
        "id": row[0],
        "integration": row[3],
        "environment": row[2],
        "external_xref": row[4],
        "status": row[5],
        "status_reason": row[6],
        "scopes_requested": json.loads(row[7]),
        "scopes_granted": json.loads(row[8]),
        "provider_scopes": json.loads(row[9]),
        "partial_grant": bool(row[10]),
        "metadata": json.loads(row[11]),
        "expires_at": iso(row[12]),
        "created_at": iso(row[13]),
        "updated_at": iso(row[14]),
        "authorized_at": iso(row[15]),
        "status_changed_at": iso(row[16]),
    }


def credentials_aad(row: Row) -> str:
    """server/db/connections.py's `credentials_aad`: the row's natural key."""
    return json.dumps(["connection", row[1], row[2], row[3], row[4]])


def error(status: int, code: str) -> Response:
    return JSONResponse({"error": {"code": code}}, status_code=status)


class Ceiling:
    def __init__(self, store: Store, sealer: Sealer) -> None:
        self.store = store
        self.sealer = sealer

    async def environment(self, request: Request) -> Row | None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return None
        return await self.store.one(ENVIRONMENT_SQL, hash_api_key(key.strip()))

    async def get_connection(self, request: Request) -> Response:
        env = await self.environment(request)
        if env is None:
            return error(401, "unauthorized")
        credentials = request.query_params.get("include") == "credentials"
        sql = CREDENTIALS_SQL if credentials else CONNECTION_SQL
        row = await self.store.one(sql, env[0], env[1], request.path_params["id"])
        if row is None:
            return error(404, "not_found")
        body = connection_json(row)
        if credentials:
            body["credentials"] = self.sealer.open_json(row[17], credentials_aad(row))
        return JSONResponse({"data": body}, headers={"Cache-Control": "no-store"})

    async def list_connections(self, request: Request) -> Response:
        env = await self.environment(request)
        if env is None:
            return error(401, "unauthorized")
        limit = min(max(int(request.query_params.get("limit", "50")), 1), 200)
        rows = await self.store.all(LIST_SQL, env[0], env[1], limit + 1)
        page = rows[:limit]
        return JSONResponse(
            {"data": [connection_json(r) for r in page], "next_after": page[-1][0] if len(rows) > limit else None}
        )

    def app(self) -> Starlette:
        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            await self.store.open()
            try:
                yield
            finally:
                await self.store.close()

        return Starlette(
            routes=[
                Route("/api/v1/connections", self.list_connections, methods=["GET"]),
                Route("/api/v1/connections/{id}", self.get_connection, methods=["GET"]),
            ],
            lifespan=lifespan,
        )


def store_for(url: str) -> Store:
    if url.startswith("sqlite"):
        return SqliteStore(url.split("///", 1)[1].split("?", 1)[0])
    return PostgresStore(url)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ceilings")
    parser.add_argument("--database-url", required=True, help="Latchkey's LATCHKEY_DATABASE_URL")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    ceiling = Ceiling(store_for(args.database_url), Sealer(os.environ["LATCHKEY_SECRET_KEY"]))
    serve(ceiling.app(), args.port)


if __name__ == "__main__":
    main()
