"""The sandbox environment's simulated provider: consent page, token endpoint, metadata.

A small but strict authorization server: exact redirect URIs (Latchkey's own callbacks), PKCE
S256 required, single-use codes that expire in five minutes, `iss` on every answer (RFC 9207).
Tokens are synthetic but mean something (server/sandbox/tokens.py): a code exchange makes a new
synthetic account, a refresh keeps the refresh token's, and the data API
(server/routes/sandbox_api.py) answers only an unexpired access token.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from server.crypto import constant_time_equal
from server.db import sandbox_codes
from server.error_responses import error_page
from server.errors import InvalidRequest
from server.i18n import requested_lang
from server.pages import render
from server.sandbox.tokens import account_of_refresh_token, mint_tokens, new_account
from server.services import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Services, services_of

SALT_CONSENT = "latchkey.sandbox-consent.v1"


def _slug_for_redirect(services: Services, redirect_uri: str) -> str | None:
    prefix = f"{services.settings.base_url}/auth/"
    if not redirect_uri.startswith(prefix) or not redirect_uri.endswith("/callback"):
        return None
    slug = redirect_uri[len(prefix) : -len("/callback")]
    return slug if services.catalog.get(slug) and services.callback_url(slug) == redirect_uri else None


def _back(redirect_uri: str, issuer: str, **params: str | None) -> RedirectResponse:
    query = urlencode({k: v for k, v in {**params, "iss": issuer}.items() if v is not None})
    return RedirectResponse(f"{redirect_uri}?{query}", status_code=302)


def _ui_locale(ui_locales: str | None) -> str:
    """The first language of OpenID Connect's `ui_locales` that the pages have, else "" (the browser's)."""
    for tag in (ui_locales or "").split()[:8]:
        if lang := requested_lang(tag):
            return lang
    return ""


async def authorize(request: Request) -> Response:
    services = services_of(request)
    q = request.query_params
    redirect_uri = q.get("redirect_uri", "")
    slug = _slug_for_redirect(services, redirect_uri)
    if q.get("client_id") != SANDBOX_CLIENT_ID or slug is None:
        # RFC 6749 §4.1.2.1: never redirect to an unverified redirect URI.
        return error_page(request, "invalid_request", "Unknown client or redirect URI.", 400)
    issuer = services.sandbox_issuer
    if q.get("response_type") != "code":
        return _back(redirect_uri, issuer, error="unsupported_response_type", state=q.get("state"))
    if not q.get("code_challenge") or q.get("code_challenge_method") != "S256":
        return _back(
            redirect_uri,
            issuer,
            error="invalid_request",
            error_description="PKCE S256 is required",
            state=q.get("state"),
        )
    request_token = services.signer.sign(
        SALT_CONSENT,
        {"r": redirect_uri, "s": q.get("state"), "c": q["code_challenge"], "sc": q.get("scope", "")},
    )
    integration = services.catalog.get(slug)
    return render(
        request,
        "sandbox_consent.html",
        {
            "integration": integration,
            "scopes": q.get("scope", "").split(),
            "request_token": request_token,
            "lang": _ui_locale(q.get("ui_locales")),
        },
    )


async def decide(request: Request) -> Response:
    services = services_of(request)
    form = await request.form()
    try:
        data = services.signer.verify(SALT_CONSENT, str(form.get("request", "")), 600, what="consent request")
    except InvalidRequest:
        return error_page(request, "invalid_request", "This consent request is not valid.", 400)
    issuer = services.sandbox_issuer
    if form.get("decision") != "approve":
        return _back(
            data["r"], issuer, error="access_denied", error_description="The user denied access.", state=data["s"]
        )
    code = secrets.token_urlsafe(32)
    await sandbox_codes.store_code(
        services.db,
        code,
        client_id=SANDBOX_CLIENT_ID,
        redirect_uri=data["r"],
        code_challenge=data["c"],
        scope=data["sc"],
    )
    return _back(data["r"], issuer, code=code, state=data["s"])


def _token_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers={"Cache-Control": "no-store"}
    )


def _client_authenticated(request: Request, form: FormData) -> bool:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
    else:
        client_id, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
    return client_id == SANDBOX_CLIENT_ID and constant_time_equal(secret, SANDBOX_CLIENT_SECRET)


def _tokens(services: Services, account: str, scope: str) -> JSONResponse:
    minted = mint_tokens(services.signer, account)
    return JSONResponse(
        {
            "access_token": minted.access_token,
            "token_type": "bearer",
            "expires_in": minted.expires_in,
            "refresh_token": minted.refresh_token,
            "scope": scope,
        },
        headers={"Cache-Control": "no-store"},
    )


async def token(request: Request) -> Response:
    services = services_of(request)
    form = await request.form()
    if not _client_authenticated(request, form):
        return _token_error("invalid_client", "Client authentication failed.", 401)
    grant_type = form.get("grant_type")
    if grant_type == "refresh_token":
        account = account_of_refresh_token(services.signer, str(form.get("refresh_token", "")))
        if account is None:
            return _token_error("invalid_grant", "Unknown refresh token.")
        return _tokens(services, account, str(form.get("scope", "")))  # same account, same data
    if grant_type != "authorization_code":
        return _token_error("unsupported_grant_type", "Use authorization_code or refresh_token.")
    code = str(form.get("code", ""))
    redeemed = await sandbox_codes.redeem_code(services.db, code)
    if redeemed is None:
        return _token_error("invalid_grant", "The code is unknown, used or expired.")
    if form.get("redirect_uri") != redeemed.redirect_uri:
        return _token_error("invalid_grant", "redirect_uri does not match the authorization request.")
    verifier = str(form.get("code_verifier", ""))
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    if not verifier or not constant_time_equal(challenge, redeemed.code_challenge):
        return _token_error("invalid_grant", "PKCE verification failed.")
    return _tokens(services, new_account(), redeemed.scope)


async def revoke(request: Request) -> Response:
    """RFC 7009 revocation, as production providers answer it: 200 for any token, even an unknown one.

    Sandbox tokens are not stored, so nothing is remembered: the endpoint is here so that a sandbox
    flow or deletion makes the same revocation request a production one does.
    """
    form = await request.form()
    if not _client_authenticated(request, form):
        return _token_error("invalid_client", "Client authentication failed.", 401)
    if not form.get("token"):
        return _token_error("invalid_request", "The token parameter is required.")
    if form.get("token_type_hint") not in (None, "access_token", "refresh_token"):
        return _token_error("unsupported_token_type", "token_type_hint is access_token or refresh_token.")
    return Response(status_code=200, headers={"Cache-Control": "no-store"})


async def metadata(request: Request) -> Response:
    services = services_of(request)
    issuer = services.sandbox_issuer
    return JSONResponse(
        {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/oauth/authorize",
            "token_endpoint": f"{issuer}/oauth/token",
            "revocation_endpoint": f"{issuer}/oauth/revoke",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "authorization_response_iss_parameter_supported": True,
        }
    )
