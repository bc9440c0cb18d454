"""The two ends a complete flow is measured against: a zero-work OAuth 2.0 provider, and a lean
OAuth client on the same machine.

The provider costs as little as a provider can: `/authorize` redirects back at once with a code
and the state, `/token` answers one fixed token, `/api/contacts` (passthrough's upstream) fixed bytes. The lean client is the least a correct client
does (RFC 6749 code flow with PKCE, RFC 9700's state check): `/start` signs the state and the PKCE
verifier into a cookie and redirects to the provider; `/callback` checks that cookie against the
state, exchanges the code with one shared httpx client and redirects to the success URL. It
stores nothing, so whatever Latchkey does beyond it (flow rows, sealed credentials, the connection
upsert, events) is what the ratio prices.

    python -m bench.oauth provider --port P
    python -m bench.oauth lean --port P --provider http://127.0.0.1:Q --success-url URL
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from bench.servers import serve

TOKEN = {
    "access_token": "zero-work-access-token",
    "token_type": "Bearer",
    "expires_in": 3600,
    "refresh_token": "zero-work-refresh-token",
    "scope": "contacts.read",
}
CONTACTS = b'{"data": [{"id": "c1", "name": "Ada Lovelace"}, {"id": "c2", "name": "Grace Hopper"}]}'
LEAN_CLIENT_ID = "lean-client"
LEAN_CLIENT_SECRET = "lean-client-secret"
FLOW_COOKIE = "lean_flow"
FLOW_MAX_AGE = 600
MAX_TOKEN_RESPONSE = 1_048_576


def with_query(url: str, params: dict[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


def provider_app() -> Starlette:
    async def authorize(request: Request) -> Response:
        q = request.query_params
        back = with_query(q["redirect_uri"], {"code": secrets.token_urlsafe(24), "state": q.get("state", "")})
        return RedirectResponse(back, status_code=302)

    async def token(request: Request) -> Response:
        return JSONResponse(TOKEN, headers={"Cache-Control": "no-store"})

    async def contacts(request: Request) -> Response:
        """A zero-work API resource: what passthrough is measured forwarding to, and a direct call against."""
        return Response(CONTACTS, media_type="application/json")

    return Starlette(
        routes=[
            Route("/authorize", authorize, methods=["GET"]),
            Route("/token", token, methods=["POST"]),
            Route("/api/contacts", contacts, methods=["GET"]),
        ]
    )


def pkce_challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class LeanClient:
    def __init__(self, *, own_url: str, provider: str, success_url: str, secret: str) -> None:
        self.redirect_uri = f"{own_url}/callback"
        self.provider = provider
        self.success_url = success_url
        self.signer = URLSafeTimedSerializer(secret, salt="lean-flow")
        self.http: httpx.AsyncClient | None = None

    async def start(self, request: Request) -> Response:
        state = secrets.token_urlsafe(16)
        verifier = secrets.token_urlsafe(48)
        flow = {"state": state, "verifier": verifier, "user": request.query_params.get("external_xref", "")}
        url = with_query(
            f"{self.provider}/authorize",
            {
                "response_type": "code",
                "client_id": LEAN_CLIENT_ID,
                "redirect_uri": self.redirect_uri,
                "state": state,
                "scope": "contacts.read",
                "code_challenge": pkce_challenge(verifier),
                "code_challenge_method": "S256",
            },
        )
        response = RedirectResponse(url, status_code=302)
        response.set_cookie(FLOW_COOKIE, self.signer.dumps(flow), max_age=FLOW_MAX_AGE, httponly=True, samesite="lax")
        return response

    async def callback(self, request: Request) -> Response:
        try:
            flow: dict[str, str] = self.signer.loads(request.cookies.get(FLOW_COOKIE, ""), max_age=FLOW_MAX_AGE)
        except BadSignature:
            return PlainTextResponse("no flow in this browser", status_code=400)
        if not hmac.compare_digest(flow["state"], request.query_params.get("state", "")):
            return PlainTextResponse("state mismatch", status_code=400)
        assert self.http is not None, "the lifespan opens the client"
        answer = await self.http.post(
            f"{self.provider}/token",
            data={
                "grant_type": "authorization_code",
                "code": request.query_params.get("code", ""),
                "redirect_uri": self.redirect_uri,
                "code_verifier": flow["verifier"],
                "client_id": LEAN_CLIENT_ID,
                "client_secret": LEAN_CLIENT_SECRET,
            },
        )
        tokens: dict[str, Any] = answer.json() if len(answer.content) <= MAX_TOKEN_RESPONSE else {}
        if answer.status_code != 200 or not tokens.get("access_token"):
            return PlainTextResponse("token exchange failed", status_code=502)
        response = RedirectResponse(
            with_query(self.success_url, {"connection_id": "lean_" + secrets.token_urlsafe(9)}), status_code=302
        )
        response.delete_cookie(FLOW_COOKIE)
        return response

    def app(self) -> Starlette:
        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            async with httpx.AsyncClient(timeout=httpx.Timeout(10.0), follow_redirects=False, trust_env=False) as http:
                self.http = http
                yield

        return Starlette(
            routes=[
                Route("/start", self.start, methods=["GET"]),
                Route("/callback", self.callback, methods=["GET"]),
            ],
            lifespan=lifespan,
        )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.oauth")
    parser.add_argument("role", choices=["provider", "lean"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--provider", help="the provider's base URL (lean)")
    parser.add_argument("--success-url", help="where a finished flow redirects (lean)")
    args = parser.parse_args()
    if args.role == "provider":
        serve(provider_app(), args.port)
        return
    if not args.provider or not args.success_url:
        parser.error("lean needs --provider and --success-url")
    client = LeanClient(
        own_url=f"http://127.0.0.1:{args.port}",
        provider=args.provider,
        success_url=args.success_url,
        secret=secrets.token_urlsafe(32),
    )
    serve(client.app(), args.port)


if __name__ == "__main__":
    main()
