"""The OAuth 1.0a dance (RFC 5849, three-legged, HMAC-SHA1): begin and complete.

Framework-free like `oauth2`: the routes hand in plain values and get back a URL or an outcome.

begin: sign the state (same salt, fields and browser binding as OAuth 2.0), obtain a request token
with `oauth_callback` = our callback carrying that state, seal the request token and its secret
into a single-use flow row, and send the end-user to the provider's authorize URL.

complete (the state verified by the callback): consume the flow row, check the callback's
`oauth_token` is the request token of this flow, exchange it with `oauth_verifier` for the token
credentials, and store the connection.

The sandbox simulates OAuth 1.0a integrations with its OAuth 2.0 server (see
`oauth2.oauth2_spec` and `dispatch.protocol_for`).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from authlib.oauth1 import SIGNATURE_HMAC_SHA1, SIGNATURE_TYPE_HEADER, ClientAuth
from authlib.oauth1.rfc5849.errors import OAuth1Error

from server.catalog.models import Integration, OAuth1Spec
from server.crypto import constant_time_equal
from server.errors import FlowError, ProviderError, ProviderUnavailable, UntrustedFlowError
from server.flow.connect import store_connection
from server.flow.context import FlowContext
from server.flow.scopes import provider_scopes_for
from server.flow.state import SignedState, sign_state
from server.flow.steps import (
    Outcome,
    active,
    client_credentials,
    consume_once,
    open_flow,
    record_started,
    requested_scopes,
    settle,
)
from server.flow.templating import with_params
from server.http import ProviderResponse
from server.services import Services

_MAX_TOKEN_LENGTH = 4096
_MAX_VERIFIER_LENGTH = 4096


@dataclass(frozen=True)
class TokenPair:
    token: str
    secret: str


def spec_of(integration: Integration) -> OAuth1Spec:
    if integration.oauth1 is None:
        raise FlowError(f"{integration.name} is not an OAuth 1.0a integration.", code="invalid_request")
    return integration.oauth1


# --------------------------------------------------------------------------------------------
# Signed requests to the provider
# --------------------------------------------------------------------------------------------


def signed_headers(
    url: str,
    *,
    consumer_key: str,
    consumer_secret: str,
    token: str | None = None,
    token_secret: str | None = None,
    callback: str | None = None,
    verifier: str | None = None,
) -> dict[str, str]:
    """The `Authorization: OAuth …` header for an empty-bodied POST to `url` (RFC 5849 §3.5.1)."""
    auth = ClientAuth(
        consumer_key,
        client_secret=consumer_secret,
        token=token,
        token_secret=token_secret,
        redirect_uri=callback,
        verifier=verifier,
        signature_method=SIGNATURE_HMAC_SHA1,
        signature_type=SIGNATURE_TYPE_HEADER,
    )
    try:
        _, headers, _ = auth.sign("POST", url, {}, b"")
    except OAuth1Error as exc:  # e.g. plain http to a non-loopback host
        raise FlowError(
            f"The provider's OAuth 1.0a endpoint cannot be used: {exc.description or exc.error}.",
            code="invalid_request",
        ) from exc
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in headers.items()}


def signed_api_header(
    method: str,
    url: str,
    *,
    consumer_key: str,
    consumer_secret: str,
    token: str,
    token_secret: str,
    form_body: bytes = b"",
) -> str:
    """The `Authorization: OAuth …` value for an API call with the token credentials (RFC 5849
    §3.4.1: the query's parameters and a form body's, when there is one, are signed too)."""
    auth = ClientAuth(
        consumer_key,
        client_secret=consumer_secret,
        token=token,
        token_secret=token_secret,
        signature_method=SIGNATURE_HMAC_SHA1,
        signature_type=SIGNATURE_TYPE_HEADER,
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if form_body else {}
    try:
        _, signed, _ = auth.prepare(method, url, headers, form_body)
    except OAuth1Error as exc:
        raise FlowError(
            f"The provider's API cannot be called with OAuth 1.0a: {exc.description or exc.error}.",
            code="invalid_request",
        ) from exc
    value = signed["Authorization"]
    return value.decode() if isinstance(value, bytes) else str(value)


def read_form(response: ProviderResponse, what: str) -> dict[str, str]:
    """A provider's form-encoded credentials response; refusals become ProviderError."""
    if response.status >= 500:
        cls = ProviderUnavailable if response.status in (502, 503, 504) else ProviderError
        raise cls(f"The provider's {what} endpoint failed with HTTP {response.status}.")
    try:
        text = response.content.decode("utf-8").strip()
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True) if text else []
    except (UnicodeDecodeError, ValueError):
        pairs = None
    if response.status != 200:
        detail = ""
        if pairs:
            refusal = dict(pairs)
            code = refusal.get("error") or refusal.get("oauth_problem") or ""
            description = refusal.get("error_description") or refusal.get("oauth_problem_advice") or ""
            detail = ": " + ", ".join(s[:200] for s in (code, description) if s) if code or description else ""
        raise ProviderError(f"The provider refused the {what} request (HTTP {response.status}{detail}).")
    if not pairs:
        raise ProviderError(
            f"The provider's {what} response is not form-encoded ({response.content_type or 'no content type'})."
        )
    data: dict[str, str] = {}
    for key, value in pairs:
        if key in data and data[key] != value:
            raise ProviderError(f"The provider's {what} response repeats {key!r}.")
        data[key] = value
    return data


def token_pair(data: dict[str, str], what: str) -> TokenPair:
    token, secret = data.get("oauth_token"), data.get("oauth_token_secret")
    if not token or len(token) > _MAX_TOKEN_LENGTH or secret is None or len(secret) > _MAX_TOKEN_LENGTH:
        raise ProviderError(f"The provider's {what} response has no usable oauth_token / oauth_token_secret.")
    return TokenPair(token, secret)


async def request_token(
    services: Services, spec: OAuth1Spec, *, consumer_key: str, consumer_secret: str, callback: str
) -> TokenPair:
    """Temporary credentials (RFC 5849 §2.1); the provider must confirm the callback (1.0a)."""
    headers = signed_headers(
        spec.request_token_url, consumer_key=consumer_key, consumer_secret=consumer_secret, callback=callback
    )
    response = await services.http.request("POST", spec.request_token_url, headers=headers, content=b"")
    data = read_form(response, "request token")
    # RFC 5849 §2.1 says "true"; Authlib's server sends "True".
    if data.get("oauth_callback_confirmed", "").lower() != "true":
        raise ProviderError(
            "The provider did not confirm the callback (oauth_callback_confirmed), so OAuth 1.0a cannot be used safely."
        )
    return token_pair(data, "request token")


async def access_token(
    services: Services,
    spec: OAuth1Spec,
    *,
    consumer_key: str,
    consumer_secret: str,
    request: TokenPair,
    verifier: str,
) -> TokenPair:
    """Token credentials for an authorized request token (RFC 5849 §2.3)."""
    headers = signed_headers(
        spec.access_token_url,
        consumer_key=consumer_key,
        consumer_secret=consumer_secret,
        token=request.token,
        token_secret=request.secret,
        verifier=verifier,
    )
    response = await services.http.request("POST", spec.access_token_url, headers=headers, content=b"")
    return token_pair(read_form(response, "access token"), "access token")


def authorization_url(spec: OAuth1Spec, *, oauth_token: str, provider_scopes: list[str]) -> str:
    """The provider's authorize URL for one request token (RFC 5849 §2.2)."""
    params: dict[str, str] = {"oauth_token": oauth_token}
    if spec.scope_separator is not None and provider_scopes:
        params[spec.scope_param] = spec.scope_separator.join(provider_scopes)
    for key, value in spec.authorize_params.items():
        params.setdefault(key, value)
    return with_params(spec.authorize_url, params)


async def _consumer(services: Services, ctx: FlowContext, integration: Integration) -> tuple[str, str]:
    creds = await client_credentials(services, ctx, integration)
    if not creds.client_secret:
        raise FlowError(f"{integration.name} has no consumer secret configured.", code="integration_not_active")
    return creds.client_id, creds.client_secret


# --------------------------------------------------------------------------------------------
# The dance
# --------------------------------------------------------------------------------------------


async def begin(
    services: Services,
    ctx: FlowContext,
    integration: Integration,
    *,
    browser_hash: str,
    variables: dict[str, str],
) -> str:
    """Obtain a request token, create the flow and return the provider's authorize URL.

    OAuth 1.0a entries declare no template variables (the schema has none for them).
    """
    spec = spec_of(integration)
    activation = await active(services, ctx, integration)
    scopes = await requested_scopes(services, ctx, integration, activation)
    consumer_key, consumer_secret = await _consumer(services, ctx, integration)
    provider_scopes = provider_scopes_for(integration, scopes)
    nonce = secrets.token_urlsafe(24)
    state = SignedState(
        nonce=nonce,
        integration=integration.slug,
        protocol="oauth1",
        context=ctx.with_(scopes=scopes),
        browser_hash=browser_hash,
        provider_scopes=tuple(provider_scopes),
    )
    callback = services.callback_url(integration.slug) + "?" + urlencode({"state": sign_state(services.signer, state)})
    temporary = await request_token(
        services, spec, consumer_key=consumer_key, consumer_secret=consumer_secret, callback=callback
    )
    # Only now, with a request token in hand, is the flow row written: a provider that refuses
    # leaves nothing behind. The row seals the request token and its secret (the `pkce_verifier`
    # column is encrypted and bound to the nonce).
    await open_flow(services, ctx, integration, nonce, secret=json.dumps({"t": temporary.token, "s": temporary.secret}))
    await record_started(services, ctx, integration)
    return authorization_url(spec, oauth_token=temporary.token, provider_scopes=provider_scopes)


async def complete(services: Services, integration: Integration, state: SignedState, params: dict[str, str]) -> Outcome:
    """The provider's callback, its state verified: consume the flow once, then settle it."""
    consumed = await consume_once(services, state.context, integration, state.nonce)
    try:
        stored = json.loads(consumed.secret or "{}")  # no row written at start: not a flow begun here
        temporary = TokenPair(str(stored["t"]), str(stored["s"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise UntrustedFlowError("This authorization's state is not valid.", code="invalid_state") from exc
    return await settle(services, state.context, integration, _finish(services, integration, state, params, temporary))


async def _finish(
    services: Services,
    integration: Integration,
    state: SignedState,
    params: dict[str, str],
    temporary: TokenPair,
) -> str:
    ctx = state.context
    spec = spec_of(integration)
    error = params.get("error") or params.get("oauth_problem")
    if error and error not in ("access_denied", "user_refused", "permission_denied"):
        description = (params.get("error_description") or error)[:300]
        raise FlowError(f"The provider answered: {description}", code="provider_error")
    verifier = params.get("oauth_verifier")
    if error or not verifier:
        # RFC 5849 has no denial response: providers (Trello) come back without a verifier.
        raise FlowError("The authorization was declined.", code="access_denied")
    if len(verifier) > _MAX_VERIFIER_LENGTH:
        raise FlowError("The provider's oauth_verifier is not usable.", code="invalid_request")
    if not constant_time_equal(params.get("oauth_token") or "", temporary.token):
        # Checked before any token request: a verifier for another request token is never sent.
        raise FlowError("The provider's answer is for another authorization request.", code="invalid_request")
    consumer_key, consumer_secret = await _consumer(services, ctx, integration)
    token = await access_token(
        services,
        spec,
        consumer_key=consumer_key,
        consumer_secret=consumer_secret,
        request=temporary,
        verifier=verifier,
    )
    # OAuth 1.0a reports no granted scope: the grant is what was asked for.
    return await store_connection(
        services,
        ctx,
        integration,
        {"type": "oauth1", "oauth_token": token.token, "oauth_token_secret": token.secret},
        scopes_granted=list(ctx.scopes),
        provider_scopes=list(state.provider_scopes),
    )
