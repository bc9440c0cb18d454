"""Shared pieces of the lifecycle tests: a webhook receiver on loopback, an OAuth integration
pointed at the test authorization server, and small waits."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from server.db.clock import utcnow
from server.db.statements import Row
from server.db.tables import connections
from server.settings import Settings
from tests.harness import FAILURE_URL, SUCCESS_URL, Running, Workspace, free_port, make_settings, query_of
from tests.support.oauth_server import OAuthServer

CLIENT_ID = "latchkey-client"
CLIENT_SECRET = "s3cret-of-the-latchkey-client"


def lifecycle_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Fast retries, loopback receivers, and a background refresher that only looks when told to."""
    values: dict[str, Any] = {
        "webhook_allow_loopback": True,
        "webhook_retry_schedule": (0.2, 0.2, 0.2),
        "webhook_poll_interval": 0.05,
        "webhook_timeout": 2.0,
        "refresh_poll_interval": 3600.0,
    }
    values.update(overrides)
    return make_settings(tmp_path, **values)


# ---- A webhook receiver: a real HTTP server on loopback, in a thread -----------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        payload: dict[str, Any] = json.loads(self.body)
        return payload


@dataclass
class Receiver:
    """Records every POST; answers with `statuses` in turn (the last one repeats)."""

    port: int = field(default_factory=free_port)
    statuses: list[int] = field(default_factory=lambda: [200])
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)
    headers_to_send: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/latchkey"

    def start(self) -> Receiver:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if owner.delay:
                    time.sleep(owner.delay)
                with owner._lock:
                    owner.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    status = owner.statuses.pop(0) if len(owner.statuses) > 1 else owner.statuses[0]
                self.send_response(status)
                for name, value in owner.headers_to_send.items():
                    self.send_header(name, value)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = None

    def of_type(self, event_type: str) -> list[Received]:
        return [r for r in list(self.requests) if r.json.get("type") == event_type]


async def eventually(check: Callable[[], Any], timeout: float = 3.0, interval: float = 0.02) -> Any:
    """Poll `check` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s")
        await asyncio.sleep(interval)


async def add_webhook(
    lk: Running, ws: Workspace, url: str, env: str = "sandbox", events: list[str] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url}
    if events is not None:
        body["events"] = events
    made = await lk.client.post("/api/v1/webhooks", headers=ws.auth(env), json=body)
    assert made.status_code == 201, made.text
    endpoint: dict[str, Any] = made.json()["data"]
    return endpoint


async def deliveries(lk: Running, ws: Workspace, endpoint_id: str, env: str = "sandbox") -> list[dict[str, Any]]:
    got = await lk.client.get(f"/api/v1/webhooks/{endpoint_id}/deliveries", headers=ws.auth(env))
    assert got.status_code == 200, got.text
    attempts: list[dict[str, Any]] = got.json()["data"]
    return attempts


# ---- An OAuth integration at the test authorization server ---------------------------------------


def write_integration(folder: Path, server: OAuthServer, slug: str = "acme") -> None:
    spec = {
        "slug": slug,
        "name": "Acme CRM",
        "categories": ["crm"],
        "docs": "https://acme.example/docs",
        "auth": {
            "kind": "oauth2",
            "authorize_url": server.authorize_url,
            "token_url": server.token_url,
            "issuer": server.issuer,
            "token_auth_method": "client_secret_basic",
            "pkce": True,
            "scope_separator": " ",
        },
        "scopes": {"crm_contact_read": ["contacts.read"], "crm_deal_read": ["deals.read"]},
    }
    folder.mkdir(exist_ok=True)
    (folder / f"{slug}.json").write_text(json.dumps(spec))


async def activate_acme(lk: Running, ws: Workspace, slug: str = "acme") -> None:
    put = await lk.client.put(
        f"/api/v1/integrations/{slug}",
        headers=ws.auth("production"),
        json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "scopes": ["crm_contact_read", "crm_deal_read"]},
    )
    assert put.status_code == 200, put.text


async def connect(lk: Running, ws: Workspace, external_xref: str = "user-7", integration: str = "acme") -> str:
    """The whole authorization code flow against the test server; returns the connection ID."""
    made = await lk.client.post(
        "/api/v1/auth-urls",
        headers=ws.auth("production"),
        json={
            "integration": integration,
            "external_xref": external_xref,
            "scopes": ["crm_contact_read"],
            "success_url": SUCCESS_URL,
            "failure_url": FAILURE_URL,
        },
    )
    assert made.status_code == 201, made.text
    started = await lk.client.get(made.json()["data"]["url"])
    assert started.status_code == 302, started.text
    at_provider = await asyncio.to_thread(httpx.get, started.headers["location"], follow_redirects=False)
    assert at_provider.status_code == 302, at_provider.text
    back = await lk.client.get(at_provider.headers["location"])
    assert back.status_code == 302 and back.headers["location"].startswith(SUCCESS_URL), back.text
    return query_of(back.headers["location"])["connection_id"]


async def set_expiry(lk: Running, connection_id: str, seconds_from_now: float) -> None:
    await lk.db.execute(
        connections.update()
        .where(connections.c.id == connection_id)
        .values(expires_at=utcnow() + timedelta(seconds=seconds_from_now))
    )


def refresh_requests(oauth: OAuthServer) -> list[dict[str, Any]]:
    return [r for r in oauth.token_requests if r["grant_type"] == "refresh_token"]


async def credentials(lk: Running, ws: Workspace, connection_id: str, env: str = "production") -> httpx.Response:
    return await lk.client.get(f"/api/v1/connections/{connection_id}?include=credentials", headers=ws.auth(env))


async def connection_row(lk: Running, connection_id: str) -> Row:
    row = await lk.db.fetch_one(sa.select(connections).where(connections.c.id == connection_id))
    assert row is not None, f"no connection {connection_id}"
    return row
