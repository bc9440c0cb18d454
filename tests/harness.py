"""Building a Latchkey app for a test: settings, database, lifespan, clients, workspaces."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import uvicorn
from starlette.applications import Starlette

from server.app import create_app
from server.db import activations as activation_store
from server.db import workspaces as workspace_store
from server.db.database import Database
from server.services import Services
from server.settings import Settings
from tests.support.oauth_server import OAuthServer

SECRET = "test-secret-key-0123456789abcdef-0123456789"
BASE_URL = "http://latchkey.test"
HOST_ORIGIN = "http://host.test"
SUCCESS_URL = "http://host.test/connected"
FAILURE_URL = "http://host.test/failed"


T = TypeVar("T")

POSTGRES_URL = os.environ.get("LATCHKEY_TEST_POSTGRES_URL")  # e.g. postgresql://postgres@127.0.0.1:5432/postgres


def test_database_url(tmp_path: Path) -> str:
    """SQLite in a temp file per test; on the Postgres run, a fresh database per test (see conftest)."""
    marker = tmp_path / ".database_url"
    return marker.read_text() if marker.exists() else f"sqlite:///{tmp_path / 'latchkey.db'}"


def _in_own_thread(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a fresh loop in another thread (callable from any context)."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _admin(admin_url: str, sql: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(sql)
    finally:
        await admin.close()


@contextlib.contextmanager
def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    """CREATE DATABASE for one test, DROP it afterwards: tests never see each other's rows."""
    import secrets

    name = "lk_test_" + secrets.token_hex(6)
    _in_own_thread(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        _in_own_thread(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "secret_key": SECRET,
        "database_url": test_database_url(tmp_path),
        "base_url": BASE_URL,
        "http_timeout": 2.0,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Running:
    app: Starlette
    services: Services
    client: httpx.AsyncClient

    @property
    def db(self) -> Database:
        return self.services.db


@contextlib.asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[Running]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.base_url) as client:
            yield Running(app=app, services=app.state.services, client=client)


@dataclass
class Workspace:
    id: str
    sandbox_key: str
    production_key: str

    def auth(self, env: str = "sandbox") -> dict[str, str]:
        key = self.sandbox_key if env == "sandbox" else self.production_key
        return {"Authorization": f"Bearer {key}"}


@dataclass
class Provisioned(Running):
    """A running app with one workspace, set up against the loopback OAuth 2.0 test server."""

    ws: Workspace
    oauth: OAuthServer

    @classmethod
    def of(cls, running: Running, ws: Workspace, oauth: OAuthServer) -> Provisioned:
        return cls(app=running.app, services=running.services, client=running.client, ws=ws, oauth=oauth)


async def new_workspace(
    services: Services, *, activate: tuple[str, ...] = ("sandbox",), public_production: bool = False
) -> Workspace:
    created = await workspace_store.create_workspace(
        services.db,
        "Test workspace",
        allowed_origins=[HOST_ORIGIN],
        allowed_redirect_urls=[SUCCESS_URL, FAILURE_URL],
    )
    for slug in activate:
        await activation_store.activate(
            services.db, services.sealer, created.id, "sandbox", slug, client_id=None, client_secret=None, scopes=[]
        )
    if public_production:
        await workspace_store.update_environment(services.db, created.id, "production", public_mode=True)
    return Workspace(
        id=created.id, sandbox_key=created.api_keys["sandbox"], production_key=created.api_keys["production"]
    )


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LiveServer:
    """Latchkey under a real uvicorn on loopback, in a thread (for over-HTTP and browser tests)."""

    def __init__(self, settings_factory: Callable[[str], Settings], host: str = "127.0.0.1") -> None:
        self.port = free_port()
        self.host = host
        self.settings: Settings = settings_factory(f"http://{host}:{self.port}")
        self.app = create_app(self.settings)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False, lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return self.settings.base_url

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
