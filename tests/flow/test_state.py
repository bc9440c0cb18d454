"""The typed, signed state of one flow: it round-trips, keeps the payload format that states
signed before the typed state used, and refuses what it cannot trust."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from server.catalog.loader import load_catalog
from server.crypto import sha256_hex
from server.errors import UntrustedFlowError
from server.flow.context import FlowContext
from server.flow.state import SignedState, read_state, sign_state, verify_callback_state
from server.signing import SALT_STATE, Signer


@pytest.fixture
def _database() -> Iterator[None]:
    """No database in this module: skip the fresh Postgres database conftest makes for each test."""
    yield


SIGNER = Signer("state-test-secret-0123456789abcdef-0123456789")
CATALOG = load_catalog()
CTX = FlowContext(workspace_id="ws_1", environment="production", external_xref="user-1", scopes=("crm_contact_read",))
BROWSER = secrets.token_urlsafe(32)


def state(protocol: str = "oauth2", **changes: object) -> SignedState:
    values: dict[str, object] = {
        "nonce": "n-1",
        "integration": "hubspot",
        "protocol": protocol,
        "context": CTX,
        "browser_hash": "" if protocol == "form" else sha256_hex(BROWSER),
        "variables": {"shop": "acme"} if protocol == "oauth2" else {},
        "provider_scopes": () if protocol == "form" else ("crm.objects.contacts.read",),
    }
    values.update(changes)
    return SignedState(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("protocol", ["oauth2", "oauth1", "form"])
def test_a_signed_state_reads_back_as_the_same_state(protocol: str) -> None:
    original = state(protocol)
    assert read_state(SIGNER, sign_state(SIGNER, original), 600) == original


def test_the_payload_keeps_the_short_keys_of_states_signed_before_it() -> None:
    assert set(state("oauth2").payload()) == {"n", "i", "b", "c", "v", "p"}
    assert state("oauth1").payload()["k"] == "oauth1" and "v" not in state("oauth1").payload()
    assert state("form").payload() == {"n": "n-1", "i": "hubspot", "f": 1, "c": CTX.to_dict()}


def test_a_state_signed_by_the_untyped_code_still_verifies() -> None:
    # What `authorize.begin` signed before the state was a dataclass: a flow in progress across a
    # deploy must still complete.
    legacy = SIGNER.sign(
        SALT_STATE,
        {"n": "n-1", "i": "hubspot", "b": sha256_hex(BROWSER), "c": CTX.to_dict(), "v": {"shop": "acme"},
         "p": ["crm.objects.contacts.read"]},
    )  # fmt: skip
    assert read_state(SIGNER, legacy, 600) == state("oauth2")


@pytest.mark.parametrize("payload", [{"i": "hubspot", "c": {}}, {"n": "x", "i": "hubspot", "c": "not a dict"}])
def test_a_signed_but_malformed_payload_is_untrusted(payload: dict[str, object]) -> None:
    with pytest.raises(UntrustedFlowError) as caught:
        read_state(SIGNER, SIGNER.sign(SALT_STATE, payload), 600)
    assert caught.value.code == "invalid_state"


def test_a_callback_state_must_name_this_integration() -> None:
    token = sign_state(SIGNER, state())
    salesforce = CATALOG.get("salesforce")
    assert salesforce is not None
    with pytest.raises(UntrustedFlowError) as caught:
        verify_callback_state(SIGNER, salesforce, token, BROWSER, 600)
    assert caught.value.code == "invalid_state"


@pytest.mark.parametrize("browser_secret", [None, "", secrets.token_urlsafe(32)])
def test_a_callback_state_must_come_back_to_the_browser_that_started_it(browser_secret: str | None) -> None:
    hubspot = CATALOG.get("hubspot")
    assert hubspot is not None
    token = sign_state(SIGNER, state())
    with pytest.raises(UntrustedFlowError) as caught:
        verify_callback_state(SIGNER, hubspot, token, browser_secret, 600)
    assert caught.value.code == "wrong_browser"
    assert verify_callback_state(SIGNER, hubspot, token, BROWSER, 600) == state()


def test_a_form_token_is_never_a_callback_state() -> None:
    hubspot = CATALOG.get("hubspot")
    assert hubspot is not None
    with pytest.raises(UntrustedFlowError) as caught:
        verify_callback_state(SIGNER, hubspot, sign_state(SIGNER, state("form")), BROWSER, 600)
    assert caught.value.code == "wrong_browser"
