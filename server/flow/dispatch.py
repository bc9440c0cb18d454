"""Which protocol runs a redirect flow, chosen from one table by the integration's auth kind.

The sandbox simulates every redirect kind with its own OAuth 2.0 server, so there the protocol
is always OAuth 2.0. Form kinds (API key, basic, client credentials) are in `credentials`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Protocol

from server.catalog.models import Integration
from server.errors import FlowError, UntrustedFlowError
from server.flow import oauth1, oauth2
from server.flow.context import FlowContext
from server.flow.state import ProtocolName, SignedState, verify_callback_state
from server.flow.steps import Outcome, consume_once, settle
from server.services import Services


class Begin(Protocol):
    def __call__(
        self,
        services: Services,
        ctx: FlowContext,
        integration: Integration,
        *,
        browser_hash: str,
        variables: dict[str, str],
    ) -> Awaitable[str]: ...


Complete = Callable[[Services, Integration, SignedState, dict[str, str]], Awaitable[Outcome]]


@dataclass(frozen=True)
class RedirectProtocol:
    begin: Begin  # -> the provider's URL to send the end-user to
    complete: Complete


PROTOCOLS: dict[ProtocolName, RedirectProtocol] = {
    "oauth2": RedirectProtocol(oauth2.begin, oauth2.complete),
    "oauth1": RedirectProtocol(oauth1.begin, oauth1.complete),
}
# By auth kind (server/catalog/kinds.py): the redirect kinds; a test checks none is missing.
BY_KIND: dict[str, ProtocolName] = {"oauth2": "oauth2", "oauth1": "oauth1"}


def protocol_for(integration: Integration, environment: str) -> ProtocolName:
    """The redirect protocol of this integration here; form kinds have none."""
    if integration.kind not in BY_KIND:
        raise UntrustedFlowError(f"{integration.name} is not authorized by a redirect.", code="invalid_request")
    return "oauth2" if environment == "sandbox" else BY_KIND[integration.kind]


async def begin(
    services: Services, ctx: FlowContext, integration: Integration, *, browser_hash: str, variables: dict[str, str]
) -> str:
    """Begin the flow and return the provider's URL to send the end-user to."""
    protocol = PROTOCOLS[protocol_for(integration, ctx.environment)]
    return await protocol.begin(services, ctx, integration, browser_hash=browser_hash, variables=variables)


# Callback parameters that must come once: with two values, which one "wins" is up to a parser,
# and an attacker who can append one (a redirect that keeps the query) would choose it.
SINGLE_VALUED = frozenset({"code", "iss", "error", "oauth_token", "oauth_verifier", "oauth_problem"})


def single_valued(integration: Integration) -> frozenset[str]:
    """The callback parameters of this integration that must not be repeated (beyond `state`)."""
    named = {v.callback_param or v.name for v in integration.variables if v.source == "callback"}
    return SINGLE_VALUED | named


async def complete(
    services: Services,
    integration: Integration,
    params: dict[str, str],
    *,
    browser_secret: str | None,
    repeated: Collection[str] = (),
) -> Outcome:
    """Handle the provider's callback. Raises UntrustedFlowError; otherwise returns an Outcome.

    `repeated` names the parameters the callback carried more than once: a repeated state is not
    trusted at all; a repeated code, issuer or error under a good state fails the flow (delivered
    to the host) before any token request.
    """
    if "state" in repeated:
        raise UntrustedFlowError("The callback carries its state more than once.", code="invalid_request")
    state = verify_callback_state(
        services.signer, integration, params.get("state"), browser_secret, services.settings.state_max_age
    )
    if state.protocol != protocol_for(integration, state.context.environment):
        raise UntrustedFlowError("This authorization's state is not valid.", code="invalid_state")
    doubled = sorted(single_valued(integration).intersection(repeated))
    if doubled:
        await consume_once(services, state.context, integration, state.nonce)
        return await settle(services, state.context, integration, _refuse(doubled))
    return await PROTOCOLS[state.protocol].complete(services, integration, state, params)


async def _refuse(doubled: list[str]) -> str:
    raise FlowError(f"The provider's answer repeats {', '.join(doubled)}.", code="invalid_request")
