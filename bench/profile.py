"""Where one read endpoint's time goes: pyinstrument over N in-process requests.

The app is Latchkey's own (`create_app`), called as ASGI directly — no HTTP server, no client —
so the profile holds the request's work alone: authentication, the queries, the crypto, the JSON.
Requests run one after another, so awaited time (a query's thread hop, a lock) is charged to the
line that awaited it.

    python -m bench.profile [--endpoint credentials|get|list|start|flow] [--requests 2000] [--postgres]

`start` profiles the sandbox start link the bench's start goal loads (no key; a new flow each time).
`flow` profiles the two requests of a complete flow that Latchkey serves, a start and its callback
(a fresh browser each, end-users cycling as the bench's loops do), the code exchanged with the
bench's zero-work provider, run as its own process; the provider's redirect back is built here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
from pyinstrument import Profiler
from starlette.applications import Starlette
from starlette.types import Message, Scope

from bench.latchkey import (
    SLUG,
    SUCCESS_URL,
    bearer,
    create_workspace,
    latchkey_env,
    prepare,
    seed_test_connections,
    start_links,
    write_catalog,
)
from bench.postgres import DEFAULT_ADMIN_URL, fresh_database
from bench.servers import bench_app
from server.app import create_app
from server.settings import Settings

BASE_URL = "http://127.0.0.1:8000"


async def call(app: Starlette, path: str, query: str, key: str) -> int:
    """One GET straight into the ASGI app; returns the status."""
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"authorization", f"Bearer {key}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    status = 0

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    await asyncio.sleep(0)  # a turn of the loop between requests, as a server has: its timers run
    return status


async def one_flow(app: Starlette, link: str) -> int:
    """A start (in a fresh browser) and its callback, as the provider would redirect back at once."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(base_url=BASE_URL, transport=transport) as browser:
        started = await browser.get(link)
        sent = dict(parse_qsl(urlsplit(started.headers["location"]).query))
        back = f"{sent['redirect_uri']}?code={secrets.token_urlsafe(24)}&state={sent['state']}"
        done = await browser.get(back)
        await asyncio.sleep(0)
        return done.status_code if done.headers.get("location", "").startswith(SUCCESS_URL) else -done.status_code


async def profile_flows(env: dict[str, str], requests: int) -> Profiler:
    ws = create_workspace(env)
    app = create_app(Settings.from_env(env))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        await prepare(BASE_URL, ws, transport=transport)
        users = [f"profile-{i:03d}" for i in range(100)]
        links = await start_links(BASE_URL, ws.id, "production", SLUG, users, transport=transport)
        for link in links:  # warm: every end-user has a connection, so the flows below re-authorize
            await one_flow(app, link)
        profiler = Profiler(interval=0.0002, async_mode="enabled")
        profiler.start()
        statuses = [await one_flow(app, links[i % len(links)]) for i in range(requests)]
        profiler.stop()
    if set(statuses) != {302}:
        raise SystemExit(f"unexpected flow outcomes: {sorted(set(statuses))}")
    return profiler


async def profile(env: dict[str, str], endpoint: str, requests: int) -> str:
    if endpoint == "flow":
        profiler = await profile_flows(env, requests)
        return profiler.output_text(unicode=True, color=False, show_all=False)
    ws = create_workspace(env)
    app = create_app(Settings.from_env(env))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        if endpoint == "start":
            async with httpx.AsyncClient(base_url=BASE_URL, headers=bearer(ws.sandbox_key), transport=transport) as api:
                (await api.put("/api/v1/integrations/sandbox", json={})).raise_for_status()
            [link] = await start_links(BASE_URL, ws.id, "sandbox", "sandbox", ["profile"], transport=transport)
            path, _, query = link.removeprefix(BASE_URL).partition("?")
            expected = 302
        else:
            [connection_id, *_] = await seed_test_connections(BASE_URL, ws, 20, transport=transport)
            path, query = {
                "credentials": (f"/api/v1/connections/{connection_id}", "include=credentials"),
                "get": (f"/api/v1/connections/{connection_id}", ""),
                "list": ("/api/v1/connections", ""),
            }[endpoint]
            expected = 200
        for _ in range(50):  # warm: compiled statements, opened connections
            await call(app, path, query, ws.sandbox_key)
        profiler = Profiler(interval=0.0002, async_mode="enabled")
        profiler.start()
        statuses = [await call(app, path, query, ws.sandbox_key) for _ in range(requests)]
        profiler.stop()
    if set(statuses) != {expected}:
        raise SystemExit(f"unexpected statuses: {sorted(set(statuses))} (key {bearer(ws.sandbox_key)})")
    return profiler.output_text(unicode=True, color=False, show_all=False)


@contextlib.contextmanager
def database(use_postgres: bool, folder: Path) -> Iterator[str]:
    if use_postgres:
        with fresh_database(os.environ.get("BENCH_POSTGRES_URL", DEFAULT_ADMIN_URL)) as url:
            yield url
    else:
        yield f"sqlite:///{folder / 'latchkey.db'}"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--endpoint", choices=["credentials", "get", "list", "start", "flow"], default="credentials")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--postgres", action="store_true", help="a fresh database at BENCH_POSTGRES_URL")
    parser.add_argument("--lines", type=int, default=70, help="lines of the profile to print")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="latchkey-profile-") as folder,
        database(args.postgres, Path(folder)) as url,
    ):
        env = latchkey_env(
            var_dir=Path(folder),
            database_url=url,
            base_url=BASE_URL,
            secret=secrets.token_urlsafe(48),
            catalog_dir=Path(folder),
        )
        env["LATCHKEY_BACKGROUND_TASKS"] = "off"
        with contextlib.ExitStack() as stack:
            if args.endpoint == "flow":
                logs = Path(folder) / "logs"
                provider = stack.enter_context(bench_app("provider", "bench.oauth", "provider", logs=logs))
                write_catalog(Path(folder), provider.url)
            text = asyncio.run(profile(env, args.endpoint, args.requests))
    print("\n".join(text.splitlines()[: args.lines]))


if __name__ == "__main__":
    main()
