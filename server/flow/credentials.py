"""API-key and basic-auth integrations: validating a submitted form and verifying it.

The form carries a signed form state (its own flow row, single use). Wrong input re-renders the
form with messages and changes nothing; only a verified credential consumes the flow and
writes the connection.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from server.addresses import AddressRefused, Unresolvable
from server.catalog.models import Integration, OAuth2Spec
from server.errors import FlowError, ProviderError, UntrustedFlowError
from server.flow.connect import record_failure, store_connection
from server.flow.context import FlowContext
from server.flow.state import SignedState, read_state, sign_state
from server.flow.steps import consume_once, requested_scopes
from server.flow.templating import HOST_SAFE, placeholders, render_url
from server.flow.tokens import TokenSet, token_request
from server.http import OutboundHTTP
from server.sandbox.tokens import mint_client_credentials_token, new_account
from server.services import Services

_SANDBOX_REJECTED = ("bad", "invalid", "wrong")


def _sandbox_rejects(secret: str) -> bool:
    """`bad…`, `invalid…`, `wrong…` — or, for keys whose pattern fixes a prefix, `sk_test_bad…`."""
    secret = secret.lower()
    return secret.startswith(_SANDBOX_REJECTED) or secret.rsplit("_", 1)[-1].startswith(_SANDBOX_REJECTED)


# What can be wrong with one field. The form page words each one in the page's language
# (templates/field_problem.html; a test renders every one in every language).
FieldProblem = Literal["required", "too_long", "format", "not_a_host", "unknown_host", "private_host"]


class FormInvalid(Exception):
    """Per-field problems for the form to show again."""

    def __init__(self, errors: dict[str, FieldProblem]) -> None:
        super().__init__("invalid form")
        self.errors = errors


@dataclass(frozen=True)
class FormState:
    token: str
    ctx: FlowContext
    nonce: str


async def open_form(services: Services, ctx: FlowContext, integration: Integration) -> str:
    """The signed token of one form: single use, its row written when it is submitted."""
    scopes = await requested_scopes(services, ctx, integration)
    nonce = secrets.token_urlsafe(24)
    state = SignedState(nonce=nonce, integration=integration.slug, protocol="form", context=ctx.with_(scopes=scopes))
    return sign_state(services.signer, state)


def read_form_state(services: Services, integration: Integration, token: str | None) -> FormState:
    state = read_state(services.signer, token, services.settings.state_max_age)
    if state.integration != integration.slug or state.protocol != "form":
        raise UntrustedFlowError("This form was not issued for this integration.", code="invalid_state")
    return FormState(token=token or "", ctx=state.context, nonce=state.nonce)


def validate_fields(integration: Integration, submitted: dict[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    errors: dict[str, FieldProblem] = {}
    for field in integration.fields:
        value = (submitted.get(field.name) or "").strip()
        if not value and field.optional and field.default is not None:
            value = field.default
        if not value:
            if not field.optional:
                errors[field.name] = "required"
            continue
        if len(value) > 4096:
            errors[field.name] = "too_long"
        elif field.pattern and not re.fullmatch(field.pattern, value):
            errors[field.name] = "format"
        values[field.name] = value
    if errors:
        raise FormInvalid(errors)
    return values


async def verify(
    services: Services, ctx: FlowContext, integration: Integration, values: dict[str, str]
) -> dict[str, Any]:
    """Ask the provider whether the credential works (simulated in the sandbox).

    Returns what to store: the fields, plus a token for client-credentials integrations.
    """
    stored: dict[str, Any] = {"type": integration.kind, "fields": values}
    if ctx.environment == "sandbox":
        for field in integration.fields:
            if field.secret and _sandbox_rejects(values.get(field.name, "")):
                raise FlowError(f"{integration.name} rejected these credentials.", code="invalid_credentials")
        if integration.client_credentials is not None:
            token = mint_client_credentials_token(services.signer, new_account())
            stored.update({"access_token": token, "token_type": "bearer"})
        return stored
    if integration.client_credentials is not None:
        tokens = await client_credentials_token(services, integration, values)
        stored.update({k: v for k, v in tokens.credentials().items() if k != "type"})
        return stored
    await _verify_request(services, integration, values)
    return stored


async def client_credentials_token(services: Services, integration: Integration, values: dict[str, str]) -> TokenSet:
    """The client credentials grant (RFC 6749 §4.4) with the end-user's own client ID and secret."""
    spec = integration.client_credentials
    assert spec is not None
    params = {"grant_type": "client_credentials"}
    params.update({k: _fill(v, values) for k, v in spec.token_params.items()})
    as_oauth2 = OAuth2Spec(
        authorize_url=spec.token_url,
        token_url=spec.token_url,
        token_auth_method=spec.token_auth_method,
        token_response=spec.token_response,
    )
    try:
        return await token_request(
            services.http,
            as_oauth2,
            render_url(spec.token_url, values),
            params,
            client_id=values.get("client_id", ""),
            client_secret=values.get("client_secret"),
        )
    except ProviderError as exc:
        if exc.provider_code in ("invalid_client", "unauthorized_client", "invalid_grant"):
            raise FlowError(f"{integration.name} rejected these credentials.", code="invalid_credentials") from exc
        raise


def _fill(template: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


def _client_for(services: Services, template: str) -> OutboundHTTP:
    """The client for a check whose URL takes the end-user's values (a WooCommerce store's host).

    Such a request connects only to the public address its host name was checked to resolve to
    (server/addresses.py): no second lookup that a rebinding DNS server could answer otherwise.
    A template whose own host is loopback is a custom integration under local development.
    """
    if not placeholders(template) or urlsplit(template).hostname in ("127.0.0.1", "localhost"):
        return services.http
    return services.typed_host_http


async def _verify_request(services: Services, integration: Integration, values: dict[str, str]) -> None:
    check = integration.verify
    if check is None:
        return
    for name in placeholders(check.url):
        if not HOST_SAFE.match(values.get(name, "")):
            raise FormInvalid({name: "not_a_host"})
    url = render_url(check.url, values)
    headers = {k: v.format(**values) for k, v in check.headers.items()}
    if integration.kind == "basic":  # RFC 7617: user-id ":" password, UTF-8, as httpx's BasicAuth
        pair = f"{values.get('username', '')}:{values.get('password', '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    try:
        response = await _client_for(services, check.url).request(check.method, url, headers=headers)
    except Unresolvable as exc:
        raise FormInvalid({placeholders(check.url)[0]: "unknown_host"}) from exc
    except AddressRefused as exc:
        field = placeholders(check.url)[0]
        raise FormInvalid({field: "private_host"}) from exc
    if response.status in (401, 403):
        raise FlowError(f"{integration.name} rejected these credentials.", code="invalid_credentials")
    if response.status not in check.ok_status:
        raise FlowError(f"{integration.name} answered HTTP {response.status} to the check.", code="provider_error")


async def submit(services: Services, integration: Integration, form: FormState, submitted: dict[str, str]) -> str:
    """Validate, verify, consume the flow, store the connection; return its ID."""
    values = validate_fields(integration, submitted)
    ctx = form.ctx
    try:
        stored = await verify(services, ctx, integration, values)
    except FlowError as exc:
        await record_failure(services, ctx, integration, exc.code)
        raise
    await consume_once(
        services, ctx, integration, form.nonce, reused="This form was already submitted. Please start again."
    )
    return await store_connection(
        services,
        ctx,
        integration,
        stored,
        scopes_granted=list(ctx.scopes),
        metadata={f.name: values[f.name] for f in integration.fields if not f.secret and f.name in values},
    )
