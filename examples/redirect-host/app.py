"""A server-rendered host app that uses Latchkey in redirect mode, with a connect session.

    python examples/redirect-host/app.py --port 8002 --latchkey http://127.0.0.1:8000

1. POST /connect: the backend mints a connect session with its secret key
   (POST /api/v1/connect-sessions) and sends the browser to the picker.
2. Latchkey sends the browser back to /connected?connection_id=…&integration=…&state=…
   (or /failed?error=…), where the backend checks `state` and reads the connection through the
   REST API (GET /api/v1/connections/{id}): integration, status and scopes — never the tokens.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

REPO = Path(__file__).resolve().parents[2]
STATE_COOKIE = "acme_connect_state"
# The signed-in user of this demo app; a real app uses its own user ID here.
USER_ID = "redirect-demo-user"
USER_NAME = "Ada (ada@acme.test)"


@dataclass(frozen=True)
class HostConfig:
    latchkey_url: str  # Latchkey's base URL
    api_key: str  # the environment's secret key: server side only, never sent to the browser
    public_url: str  # this app's own URL, as the browser sees it


class LatchkeyAPI:
    """The three REST calls this app makes, with explicit timeouts."""

    def __init__(self, config: HostConfig) -> None:
        self.client = httpx.AsyncClient(
            base_url=f"{config.latchkey_url}/api/v1",
            timeout=httpx.Timeout(10.0),
            headers={"Authorization": f"Bearer {config.api_key}"},
        )

    async def connect_session(self, **body: object) -> dict[str, Any]:
        session: dict[str, Any] = self._data(await self.client.post("/connect-sessions", json=body))
        return session

    async def connection(self, connection_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self._data(await self.client.get(f"/connections/{quote(connection_id, safe='')}"))
        return found

    async def connections(self, external_xref: str) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = self._data(
            await self.client.get("/connections", params={"external_xref": external_xref})
        )
        return listed

    async def aclose(self) -> None:
        await self.client.aclose()

    @staticmethod
    def _data(response: httpx.Response) -> Any:
        body = response.json()
        if response.is_error:
            error = body.get("error", {})
            raise APIError(error.get("code", "server_error"), error.get("message", response.text))
        return body["data"]


class APIError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


STYLE = """
:root { --accent: #4f46e5; --border: #e5e7eb; --muted: #6b7280; --ok: #047857; --error: #b91c1c; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111827; background: #f9fafb; }
main { max-width: 720px; margin: 0 auto; padding: 24px 16px 64px; }
header { display: flex; justify-content: space-between; align-items: baseline; margin-bottom: 16px; }
.brand { font-weight: 700; font-size: 1.2rem; color: inherit; text-decoration: none; }
h1 { font-size: 1.4rem; margin: 0 0 8px; }
h2 { font-size: 1.1rem; margin: 0 0 12px; }
.muted { color: var(--muted); }
.card { background: #fff; border: 1px solid var(--border); border-radius: 12px; padding: 20px; margin-top: 16px; }
button { padding: 10px 16px; border-radius: 8px; font: inherit; font-weight: 600; cursor: pointer; background: var(--accent); border: 1px solid var(--accent); color: #fff; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 6px 16px; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; }
.ok { color: var(--ok); }
.error { color: var(--error); }
ul { padding-left: 20px; margin: 0; }
code { font-size: .9em; }
"""


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(title)} · Acme Billing</title>
<style>{STYLE}</style></head><body><main>
<header><a href="/" class="brand">Acme Billing</a><span class="muted">signed in as {html.escape(USER_NAME)}</span></header>
{body}</main></body></html>""",
        status_code=status,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def connection_details(connection: dict[str, Any]) -> str:
    scopes = ", ".join(connection.get("scopes_granted") or []) or "—"
    rows = [
        ("Integration", f'<span id="integration">{html.escape(connection["integration"])}</span>'),
        (
            "Status",
            f'<span id="status" class="{"ok" if connection["status"] == "healthy" else "error"}">'
            f"{html.escape(connection['status'])}</span>",
        ),
        ("Scopes", f'<span id="scopes">{html.escape(scopes)}</span>'),
        ("Connection ID", f'<code id="connection-id">{html.escape(connection["id"])}</code>'),
        ("Authorized", html.escape(connection.get("authorized_at") or "—")),
    ]
    return "<dl>" + "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows) + "</dl>"


def make_app(config: HostConfig) -> Starlette:
    api = LatchkeyAPI(config)

    async def home(request: Request) -> Response:
        try:
            known = await api.connections(USER_ID)
            listing = (
                "".join(
                    f"<li><strong>{html.escape(c['integration'])}</strong> · {html.escape(c['status'])} · "
                    f"<code>{html.escape(c['id'])}</code></li>"
                    for c in known
                )
                or '<li class="muted">none yet</li>'
            )
        except (APIError, httpx.HTTPError) as exc:
            listing = f'<li class="error">Could not list connections: {html.escape(str(exc))}</li>'
        return page(
            "Integrations",
            f"""
<h1>Connect your CRM</h1>
<p class="muted">Acme Billing syncs invoices to your CRM. Connecting takes you to Latchkey's picker and
back here; your credentials never pass through Acme's servers.</p>
<form method="post" action="/connect"><button type="submit" id="connect">Connect a CRM</button></form>
<section class="card"><h2>Your connections</h2><ul id="connections">{listing}</ul></section>""",
        )

    async def connect(request: Request) -> Response:
        state = secrets.token_urlsafe(16)
        try:
            session = await api.connect_session(
                external_xref=USER_ID,
                categories=["crm"],
                scopes=["crm_contact_read"],
                state=state,
                success_url=f"{config.public_url}/connected",
                failure_url=f"{config.public_url}/failed",
            )
        except APIError as exc:
            hint = ""
            if exc.code == "redirect_not_allowed":
                hint = (
                    f"<p>Add <code>{html.escape(config.public_url)}/</code> to the environment's "
                    "<code>allowed_redirect_urls</code> (PATCH /api/v1/environment).</p>"
                )
            return page(
                "Not connected",
                f'<h1 class="error">Latchkey refused the connect session</h1>'
                f"<p><code>{html.escape(exc.code)}</code>: {html.escape(exc.message)}</p>{hint}",
                status=502,
            )
        # The session's URL opens the picker in redirect mode; `state` comes back on our URLs.
        response = RedirectResponse(session["url"], status_code=303)
        response.set_cookie(STATE_COOKIE, state, max_age=900, httponly=True, samesite="lax")
        return response

    async def connected(request: Request) -> Response:
        q = request.query_params
        if not q.get("state") or q.get("state") != request.cookies.get(STATE_COOKIE):
            return page("Not connected", '<h1 class="error">This link was not started here</h1>', status=400)
        if not q.get("connection_id"):
            return page("Not connected", '<h1 class="error">No connection in the link</h1>', status=400)
        try:
            connection = await api.connection(q["connection_id"])
        except APIError as exc:
            return page(
                "Not connected",
                f'<h1 class="error">Unknown connection</h1><p>{html.escape(exc.message)}</p>',
                status=404,
            )
        if connection["external_xref"] != USER_ID:
            return page("Not connected", '<h1 class="error">This connection belongs to another user</h1>', status=403)
        response = page(
            "Connected",
            f"""
<h1 class="ok">Connected</h1>
<p class="muted">Read back with <code>GET /api/v1/connections/{{id}}</code>. The tokens stay in Latchkey:
the backend fetches them with <code>?include=credentials</code> only when it calls the provider.</p>
<section class="card" id="connection">{connection_details(connection)}</section>
<p><a href="/">Back</a></p>""",
        )
        response.delete_cookie(STATE_COOKIE)
        return response

    async def failed(request: Request) -> Response:
        q = request.query_params
        return page(
            "Not connected",
            f"""
<h1 class="error">Not connected</h1>
<p><code id="error">{html.escape(q.get("error", "server_error"))}</code>: {html.escape(q.get("error_description", ""))}</p>
<p><a href="/">Try again</a></p>""",
            status=400,
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await api.aclose()

    return Starlette(
        lifespan=lifespan,
        routes=[
            Route("/", home, methods=["GET"]),
            Route("/connect", connect, methods=["POST"]),
            Route("/connected", connected, methods=["GET"]),
            Route("/failed", failed, methods=["GET"]),
        ],
    )


def demo_api_key() -> str | None:
    """The sandbox key `make run` saved for the demo workspace, if any."""
    path = REPO / "var" / "demo-keys.json"
    return json.loads(path.read_text())["sandbox"] if path.is_file() else None


def main() -> None:
    parser = argparse.ArgumentParser(description="Acme Billing: a redirect-mode Latchkey host app")
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--latchkey", default=os.environ.get("LATCHKEY_URL", "http://127.0.0.1:8000"))
    parser.add_argument(
        "--api-key",
        default=os.environ.get("LATCHKEY_API_KEY") or demo_api_key(),
        help="the environment's secret key (default: $LATCHKEY_API_KEY, else var/demo-keys.json)",
    )
    parser.add_argument("--public-url", help="this app's URL as the browser sees it (default http://localhost:PORT)")
    args = parser.parse_args()
    if not args.api_key:
        parser.error("no secret key: pass --api-key, set LATCHKEY_API_KEY, or run `make run` first")
    import uvicorn

    config = HostConfig(
        args.latchkey.rstrip("/"), args.api_key, (args.public_url or f"http://localhost:{args.port}").rstrip("/")
    )
    print(f"Acme Billing on {config.public_url}/ (Latchkey: {config.latchkey_url})", flush=True)
    uvicorn.run(make_app(config), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
