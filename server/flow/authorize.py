"""The OAuth 2.0 authorization code dance: begin (build the redirect) and complete (callback).

Framework-free: the routes hand in plain values and get back a URL or an outcome.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from server.catalog.models import Integration, OAuth2Spec
from server.crypto import constant_time_equal, sha256_hex
from server.db import activations as activation_store
from server.db import events
from server.db import flows as flow_store
from server.db.activations import Activation
from server.db.flows import ConsumedFlow
from server.errors import FlowError, LatchkeyError, UntrustedFlowError
from server.flow import pkce
from server.flow.connect import record_failure, store_connection
from server.flow.context import FlowContext
from server.flow.metadata import fetch_metadata
from server.flow.result import FlowResult
from server.flow.scopes import granted, provider_scopes_for
from server.flow.signing import SALT_STATE
from server.flow.templating import check_variable, render_url
from server.flow.tokens import exchange_code
from server.services import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Services

logger = logging.getLogger("latchkey.flow")


@dataclass(frozen=True)
class Outcome:
    ctx: FlowContext
    result: FlowResult


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str | None


async def active(services: Services, ctx: FlowContext, integration: Integration) -> Activation:
    activation = await activation_store.get_activation(services.db, ctx.workspace_id, ctx.environment, integration.slug)
    if activation is None:
        raise FlowError(f"{integration.name} is not activated in this environment.", code="integration_not_active")
    return activation


async def client_credentials(
    services: Services, ctx: FlowContext, integration: Integration, activation: Activation | None = None
) -> ClientCredentials:
    """The workspace's developer credentials for this integration (synthetic in the sandbox)."""
    activation = activation or await active(services, ctx, integration)
    if ctx.environment == "sandbox":
        return ClientCredentials(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)
    if not activation.client_id:
        raise FlowError(f"{integration.name} has no client ID configured.", code="integration_not_active")
    secret = await activation_store.client_secret(services.db, services.sealer, activation)
    return ClientCredentials(activation.client_id, secret)


async def requested_scopes(
    services: Services, ctx: FlowContext, integration: Integration, activation: Activation | None = None
) -> tuple[str, ...]:
    """The unified scopes this flow asks for: the host's, else what the activation allows."""
    activation = activation or await active(services, ctx, integration)
    if ctx.scopes and activation.scopes:
        outside = [s for s in ctx.scopes if s not in activation.scopes]
        if outside:
            raise FlowError(
                f"The scope {outside[0]!r} is not enabled for {integration.name} in this workspace.",
                code="invalid_scope",
            )
    scopes = ctx.scopes or tuple(s for s in activation.scopes if s in integration.scopes)
    provider_scopes_for(integration, scopes)  # raises invalid_scope naming the scope
    return scopes


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
    if integration.oauth2 is not None:
        return integration.oauth2
    raise FlowError(
        f"{integration.name} uses {integration.kind}, which this server cannot start yet.", code="invalid_request"
    )


def _merge_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


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
    """Create the flow and return the provider's authorization URL to redirect to."""
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
    await flow_store.create_flow(
        services.db,
        services.sealer,
        nonce=nonce,
        workspace_id=ctx.workspace_id,
        environment=ctx.environment,
        integration=integration.slug,
        pkce_verifier=verifier,
        max_age=services.settings.state_max_age,
    )
    state = services.signer.sign(
        SALT_STATE,
        {
            "n": nonce,
            "i": integration.slug,
            "b": browser_hash,
            "c": ctx.with_(scopes=scopes).to_dict(),
            "v": values,
            "p": provider_scopes,
        },
    )
    url = authorization_url(
        spec,
        authorize_url,
        client_id=creds.client_id,
        redirect_uri=services.callback_url(integration.slug),
        state=state,
        code_challenge=pkce.s256_challenge(verifier) if verifier else None,
        provider_scopes=provider_scopes,
    )
    await events.record_event(
        services.db,
        workspace_id=ctx.workspace_id,
        environment=ctx.environment,
        integration=integration.slug,
        external_xref=ctx.external_xref,
        type="auth.started",
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
    for key, value in spec.authorize_params.items():
        params.setdefault(key, value)
    return _merge_query(authorize_url, params)


def verify_state(
    services: Services, integration: Integration, state_token: str | None, browser_secret: str | None
) -> dict:
    """Signature, age, integration and browser binding. Failures here are untrusted."""
    state = services.signer.verify_state(state_token, services.settings.state_max_age)
    if state.get("i") != integration.slug:
        raise UntrustedFlowError("This authorization was started for another integration.", code="invalid_state")
    if not browser_secret or not constant_time_equal(sha256_hex(browser_secret), str(state.get("b", ""))):
        raise UntrustedFlowError(
            "This authorization was started in another browser. For your safety it was not completed: "
            "please start again from the application.",
            code="wrong_browser",
        )
    return state


async def complete(
    services: Services,
    integration: Integration,
    params: dict[str, str],
    *,
    browser_secret: str | None,
) -> Outcome:
    """Handle the provider's callback. Raises UntrustedFlowError; otherwise returns an Outcome."""
    state = verify_state(services, integration, params.get("state"), browser_secret)
    ctx = FlowContext.from_dict(state["c"])
    consumed = await consume_once(services, state["n"])
    return await settle(
        services, ctx, integration, _finish(services, integration, ctx, state, params, consumed.pkce_verifier)
    )


async def consume_once(services: Services, nonce: str) -> ConsumedFlow:
    """Mark the flow used; a replayed or doubled callback loses here."""
    consumed = await flow_store.consume_flow(services.db, services.sealer, nonce)
    if consumed is None:
        raise UntrustedFlowError(
            "This authorization was already completed (or abandoned). Please start again.", code="state_reused"
        )
    return consumed


async def settle(services: Services, ctx: FlowContext, integration: Integration, finishing: Awaitable[str]) -> Outcome:
    """Run the rest of a trusted flow: a FlowError becomes a failure delivered to the host."""
    try:
        result = FlowResult(integration=integration.slug, connection_id=await finishing)
    except FlowError as exc:
        logger.info("%s flow for %s failed: %s", integration.kind, integration.slug, exc.code)
        await record_failure(services, ctx, integration, exc.code, exc.message)
        result = FlowResult.failed(integration.slug, exc)
    return Outcome(ctx=ctx, result=result)


async def _finish(
    services: Services,
    integration: Integration,
    ctx: FlowContext,
    state: dict,
    params: dict[str, str],
    verifier: str | None,
) -> str:
    sandbox = ctx.environment == "sandbox"
    spec = oauth2_spec(integration, sandbox)
    expected_issuer = services.sandbox_issuer if sandbox else spec.issuer
    issuer = params.get("iss")
    if expected_issuer and issuer != expected_issuer:
        # RFC 9207: checked before any token request (mix-up defence).
        raise FlowError("The authorization response came from an unexpected issuer.", code="issuer_mismatch")
    if params.get("error"):
        code = "access_denied" if params["error"] == "access_denied" else "provider_error"
        description = (params.get("error_description") or params["error"])[:300]
        raise FlowError(
            "The authorization was declined." if code == "access_denied" else f"The provider answered: {description}",
            code=code,
        )
    code = params.get("code")
    if not code or len(code) > 4096:
        raise FlowError("The provider's answer carries no authorization code.", code="invalid_request")
    values = dict(state.get("v", {}))
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
    grant = granted(integration, tuple(ctx.scopes), tokens.scope, list(state.get("p", [])))
    metadata = {**tokens.metadata, **values}
    if spec.metadata_requests and not sandbox:
        metadata.update(await fetch_metadata(services.http, spec.metadata_requests, tokens.access_token, values))
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
    )


def failure_outcome(ctx: FlowContext, integration: str, error: LatchkeyError) -> Outcome:
    return Outcome(ctx=ctx, result=FlowResult.failed(integration, error))
