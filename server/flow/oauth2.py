"""The OAuth 2.0 authorization code dance: begin (build the redirect) and complete (callback).

Framework-free: the routes hand in plain values and get back a URL or an outcome. The steps
every kind shares (activation, scopes, consume once, settle) are in `steps`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from types import MappingProxyType

from server.catalog.models import Integration, OAuth2Spec
from server.crypto import UnreadableSecret
from server.db.flows import secret_aad
from server.errors import FlowError, UntrustedFlowError
from server.flow import pkce
from server.flow.connect import store_connection
from server.flow.context import FlowContext
from server.flow.metadata import fetch_metadata
from server.flow.revocation import Revocation, revocation_url_for, revoke_tokens
from server.flow.scopes import granted, provider_scopes_for
from server.flow.state import SignedState, sign_state
from server.flow.steps import (
    Outcome,
    active,
    client_credentials,
    consume_once,
    record_started,
    requested_scopes,
    settle,
)
from server.flow.templating import check_variable, render_url, with_params
from server.flow.tokens import exchange_code
from server.services import Services


def oauth2_spec(integration: Integration, sandbox: bool) -> OAuth2Spec:
    """The provider's OAuth 2.0 details; in the sandbox, the simulated provider's.

    The sandbox simulates every redirect-based integration (OAuth 1.0a ones too) with a strict,
    plain OAuth 2.0 server; only the integration's scope strings are kept, so the consent page
    shows what the real provider would be asked for.
    """
    if sandbox:
        real = integration.oauth2
        return OAuth2Spec(
            authorize_url="https://sandbox.invalid/authorize",
            token_url="https://sandbox.invalid/token",
            pkce=True,
            scope_param="scope",
            scope_separator=" " if real is None or real.scope_separator is None else real.scope_separator,
            default_scopes=real.default_scopes if real else (),
            refresh=True,
        )
    if integration.oauth2 is None:
        raise FlowError(f"{integration.name} is not an OAuth 2.0 integration.", code="invalid_request")
    return integration.oauth2


def user_variables(integration: Integration, supplied: dict[str, str]) -> dict[str, str]:
    return {v.name: check_variable(v, supplied.get(v.name)) for v in integration.variables if v.source == "user"}


async def begin(
    services: Services,
    ctx: FlowContext,
    integration: Integration,
    *,
    browser_hash: str,
    variables: dict[str, str],
) -> str:
    """Sign the flow's state and return the provider's authorization URL to redirect to.

    Nothing is stored: the PKCE verifier travels in the state, sealed; the flow's row is written
    when its callback consumes it."""
    sandbox = ctx.environment == "sandbox"
    spec = oauth2_spec(integration, sandbox)
    activation = await active(services, ctx, integration)
    scopes = await requested_scopes(services, ctx, integration, activation)
    creds = await client_credentials(services, ctx, integration, activation)
    values = user_variables(integration, variables)
    authorize_url = f"{services.sandbox_issuer}/oauth/authorize" if sandbox else render_url(spec.authorize_url, values)
    use_pkce = spec.pkce or sandbox
    verifier = pkce.new_verifier() if use_pkce else None
    nonce = secrets.token_urlsafe(24)
    provider_scopes = provider_scopes_for(integration, scopes)
    await record_started(services, ctx, integration)
    state = SignedState(
        nonce=nonce,
        integration=integration.slug,
        protocol="oauth2",
        context=ctx.with_(scopes=scopes),
        browser_hash=browser_hash,
        variables=values,
        provider_scopes=tuple(provider_scopes),
        sealed_verifier=services.sealer.seal(verifier.encode(), secret_aad(nonce)) if verifier else "",
    )
    url = authorization_url(
        spec,
        authorize_url,
        client_id=creds.client_id,
        redirect_uri=services.callback_url(integration.slug),
        state=sign_state(services.signer, state),
        code_challenge=pkce.s256_challenge(verifier) if verifier else None,
        provider_scopes=provider_scopes,
        # OpenID Connect's ui_locales: the sandbox's consent page speaks the picker's language.
        extra={"ui_locales": ctx.lang} if sandbox and ctx.lang else {},
    )
    return url


def authorization_url(
    spec: OAuth2Spec,
    authorize_url: str,
    *,
    client_id: str,
    redirect_uri: str,
    state: str,
    code_challenge: str | None,
    provider_scopes: list[str],
    extra: Mapping[str, str] = MappingProxyType({}),
) -> str:
    """The provider's authorization URL for one flow (RFC 6749 §4.1.1, RFC 7636 §4.3)."""
    params: dict[str, str] = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
    }
    if spec.scope_separator is not None and provider_scopes:
        params[spec.scope_param] = spec.scope_separator.join(provider_scopes)
    if code_challenge:
        # Always S256, even where a provider would read a missing method as "plain" (Zoom).
        params["code_challenge"] = code_challenge
        params["code_challenge_method"] = "S256"
    for key, value in (*extra.items(), *spec.authorize_params.items()):
        params.setdefault(key, value)
    return with_params(authorize_url, params)


async def complete(services: Services, integration: Integration, state: SignedState, params: dict[str, str]) -> Outcome:
    """The provider's callback, its state verified: consume the flow once, then settle it."""
    consumed = await consume_once(services, state.context, integration, state.nonce)
    # A row written at start by an earlier version holds the verifier; else the state seals it.
    verifier = consumed.secret or _open_verifier(services, state)
    return await settle(services, state.context, integration, _finish(services, integration, state, params, verifier))


def _open_verifier(services: Services, state: SignedState) -> str | None:
    if not state.sealed_verifier:
        return None
    try:
        return services.sealer.open(state.sealed_verifier, secret_aad(state.nonce)).decode()
    except UnreadableSecret as exc:  # signed by us yet unreadable: an old key dropped mid-flow
        raise UntrustedFlowError("This authorization's state is not valid.", code="invalid_state") from exc


async def _finish(
    services: Services,
    integration: Integration,
    state: SignedState,
    params: dict[str, str],
    verifier: str | None,
) -> str:
    ctx = state.context
    sandbox = ctx.environment == "sandbox"
    spec = oauth2_spec(integration, sandbox)
    expected_issuer = services.sandbox_issuer if sandbox else spec.issuer
    issuer = params.get("iss")
    if expected_issuer and issuer != expected_issuer:
        # RFC 9207: checked before any token request (mix-up defence).
        raise FlowError("The authorization response came from an unexpected issuer.", code="issuer_mismatch")
    error = params.get("error")
    if error:
        description = (params.get("error_description") or error)[:300]
        if error == "access_denied":
            raise FlowError("The authorization was declined.", code="access_denied")
        raise FlowError(f"The provider answered: {description}", code="provider_error")
    code = params.get("code")
    if not code or len(code) > 4096:
        raise FlowError("The provider's answer carries no authorization code.", code="invalid_request")
    values = dict(state.variables)
    for variable in integration.variables:
        if variable.source == "callback" and not sandbox:
            values[variable.name] = check_variable(variable, params.get(variable.callback_param or variable.name))
    creds = await client_credentials(services, ctx, integration)
    token_url = f"{services.sandbox_issuer}/oauth/token" if sandbox else render_url(spec.token_url, values)
    tokens = await exchange_code(
        services.http,
        spec,
        token_url,
        code=code,
        redirect_uri=services.callback_url(integration.slug),
        code_verifier=verifier,
        client_id=creds.client_id,
        client_secret=creds.client_secret,
    )
    revocation_url = f"{services.sandbox_issuer}/oauth/revoke" if sandbox else revocation_url_for(spec, values)

    async def undo() -> Revocation:
        """From here on a failure leaves fresh tokens nobody holds: revoke them at the provider."""
        return await revoke_tokens(
            services.http,
            spec,
            revocation_url,
            tokens.credentials(),
            client_id=creds.client_id,
            client_secret=creds.client_secret,
        )

    try:
        grant = granted(integration, tuple(ctx.scopes), tokens.scope, list(state.provider_scopes))
        metadata = {**tokens.metadata, **values}
        if spec.metadata_requests and not sandbox:
            metadata.update(await fetch_metadata(services.http, spec.metadata_requests, tokens.access_token, values))
    except FlowError:
        await undo()
        raise
    return await store_connection(
        services,
        ctx,
        integration,
        tokens.credentials(),
        scopes_granted=grant.unified,
        provider_scopes=grant.provider,
        partial_grant=grant.partial,
        metadata=metadata,
        expires_at=tokens.expires_at,
        revoke=undo,
    )
