"""The signed state of one flow: the OAuth `state` parameter, or a credentials form's token.

It carries the flow's nonce (single use: server/db/flows.py), the integration, the protocol that
began it, the hash of the browser-binding secret, the flow's context and, for OAuth 2.0 with
PKCE, the verifier sealed with the server's key, so a start stores nothing. Its payload keeps
short keys: it travels in URLs, and states signed before a deploy keep verifying after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from server.catalog.models import Integration
from server.crypto import constant_time_equal, sha256_hex
from server.errors import UntrustedFlowError
from server.flow.context import FlowContext
from server.signing import SALT_STATE, Signer

ProtocolName = Literal["oauth2", "oauth1", "form"]


@dataclass(frozen=True)
class SignedState:
    nonce: str
    integration: str
    protocol: ProtocolName
    context: FlowContext
    browser_hash: str = ""  # redirect flows only: forms are posted to us, not called back
    variables: dict[str, str] = field(default_factory=dict)
    provider_scopes: tuple[str, ...] = ()
    sealed_verifier: str = ""  # the PKCE verifier, AES-GCM sealed and bound to the nonce; "" without PKCE

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"n": self.nonce, "i": self.integration, "c": self.context.to_dict()}
        if self.protocol == "form":
            data["f"] = 1
            return data
        data["b"] = self.browser_hash
        data["p"] = list(self.provider_scopes)
        if self.protocol == "oauth1":
            data["k"] = "oauth1"
        else:
            data["v"] = self.variables
            if self.sealed_verifier:
                data["s"] = self.sealed_verifier
        return data

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> SignedState:
        try:
            protocol: ProtocolName = (
                "form" if data.get("f") == 1 else "oauth1" if data.get("k") == "oauth1" else "oauth2"
            )
            return cls(
                nonce=str(data["n"]),
                integration=str(data["i"]),
                protocol=protocol,
                context=FlowContext.from_dict(data["c"]),
                browser_hash=str(data.get("b", "")),
                variables={str(k): str(v) for k, v in dict(data.get("v", {})).items()},
                provider_scopes=tuple(str(s) for s in data.get("p", [])),
                sealed_verifier=str(data.get("s", "")),
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise UntrustedFlowError("This authorization's state is not valid.", code="invalid_state") from exc


def sign_state(signer: Signer, state: SignedState) -> str:
    return signer.sign(SALT_STATE, state.payload(), compress=False)


def read_state(signer: Signer, token: str | None, max_age: int) -> SignedState:
    """Signature and age only; failures are untrusted (error page, no redirect)."""
    return SignedState.from_payload(signer.verify_state(token, max_age))


def verify_callback_state(
    signer: Signer, integration: Integration, token: str | None, browser_secret: str | None, max_age: int
) -> SignedState:
    """Signature, age, integration and browser binding of a provider's callback."""
    state = read_state(signer, token, max_age)
    if state.integration != integration.slug:
        raise UntrustedFlowError("This authorization was started for another integration.", code="invalid_state")
    if not browser_secret or not constant_time_equal(sha256_hex(browser_secret), state.browser_hash):
        raise UntrustedFlowError(
            "This authorization was started in another browser. For your safety it was not completed: "
            "please start again from the application.",
            code="wrong_browser",
        )
    return state
