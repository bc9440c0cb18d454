"""Signed, expiring tokens: each kind has its own salt; failures carry stable codes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from itsdangerous import TimestampSigner

from server.errors import InvalidRequest, UntrustedFlowError
from server.signing import SALT_CONTEXT, SALT_RESULT, SALT_SESSION, SALT_STATE, Signer


@pytest.fixture
def _database() -> Iterator[None]:
    """No database in this module: skip the fresh Postgres database conftest makes for each test."""
    yield


SECRET = "signing-test-secret-0123456789abcdef-xyz"
SIGNER = Signer(SECRET)
SALTS = (SALT_CONTEXT, SALT_STATE, SALT_SESSION, SALT_RESULT)


def signed_long_ago(monkeypatch: pytest.MonkeyPatch, salt: str, payload: Any, seconds: int) -> str:
    then = int(time.time()) - seconds
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: then)
    token = SIGNER.sign(salt, payload)
    monkeypatch.undo()
    return token


def tampered(token: str) -> str:
    return token[:-2] + ("AA" if not token.endswith("AA") else "BB")


def test_a_state_round_trips() -> None:
    token = SIGNER.sign(SALT_STATE, {"n": "nonce", "i": "acme"})
    assert SIGNER.verify_state(token, 600) == {"n": "nonce", "i": "acme"}


@pytest.mark.parametrize("salt", SALTS)
def test_a_token_verifies_only_as_its_own_kind(salt: str) -> None:
    token = SIGNER.sign(salt, {"x": 1})
    assert SIGNER.verify(salt, token, 60, what="token") == {"x": 1}
    for other in SALTS:
        if other == salt:
            continue
        with pytest.raises(InvalidRequest) as caught:
            SIGNER.verify(other, token, 60, what="token")
        assert caught.value.code == "invalid_state"


def test_a_context_token_does_not_verify_as_a_state() -> None:
    token = SIGNER.sign(SALT_CONTEXT, {"n": "nonce", "i": "acme"})
    with pytest.raises(UntrustedFlowError) as caught:
        SIGNER.verify_state(token, 600)
    assert caught.value.code == "invalid_state" and caught.value.status == 400


def test_a_session_token_does_not_verify_as_a_state() -> None:
    with pytest.raises(UntrustedFlowError) as caught:
        SIGNER.verify_state(SIGNER.sign(SALT_SESSION, {"n": "x"}), 600)
    assert caught.value.code == "invalid_state"


def test_another_secret_does_not_verify() -> None:
    token = Signer("another-secret-0123456789abcdef-0123").sign(SALT_STATE, {"n": 1})
    with pytest.raises(UntrustedFlowError) as caught:
        SIGNER.verify_state(token, 600)
    assert caught.value.code == "invalid_state"


def test_an_expired_state_is_expired_state(monkeypatch: pytest.MonkeyPatch) -> None:
    token = signed_long_ago(monkeypatch, SALT_STATE, {"n": "x"}, 700)
    with pytest.raises(UntrustedFlowError) as caught:
        SIGNER.verify_state(token, 600)
    assert caught.value.code == "expired_state"
    assert SIGNER.verify_state(token, 800) == {"n": "x"}  # the same token within its age is fine


def test_an_expired_link_is_expired_state(monkeypatch: pytest.MonkeyPatch) -> None:
    token = signed_long_ago(monkeypatch, SALT_CONTEXT, {"x": 1}, 1900)
    with pytest.raises(InvalidRequest) as caught:
        SIGNER.verify(SALT_CONTEXT, token, 1800, what="link")
    assert caught.value.code == "expired_state" and caught.value.status == 400


def test_a_tampered_state_is_invalid_state() -> None:
    token = SIGNER.sign(SALT_STATE, {"n": "x"})
    with pytest.raises(UntrustedFlowError) as caught:
        SIGNER.verify_state(tampered(token), 600)
    assert caught.value.code == "invalid_state"


def test_a_tampered_payload_is_invalid_state() -> None:
    token = SIGNER.sign(SALT_CONTEXT, {"workspace_id": "ws_a"})
    other = SIGNER.sign(SALT_CONTEXT, {"workspace_id": "ws_b"})
    spliced = other.split(".")[0] + "." + ".".join(token.split(".")[1:])
    with pytest.raises(InvalidRequest) as caught:
        SIGNER.verify(SALT_CONTEXT, spliced, 60, what="link")
    assert caught.value.code == "invalid_state"


def test_a_tampered_link_is_invalid_state() -> None:
    with pytest.raises(InvalidRequest) as caught:
        SIGNER.verify(SALT_SESSION, tampered(SIGNER.sign(SALT_SESSION, {"x": 1})), 60, what="connect session")
    assert caught.value.code == "invalid_state" and "connect session" in caught.value.message


@pytest.mark.parametrize("missing", [None, ""])
def test_a_missing_state_is_invalid_state(missing: str | None) -> None:
    with pytest.raises(UntrustedFlowError) as caught:
        SIGNER.verify_state(missing, 600)
    assert caught.value.code == "invalid_state"


@pytest.mark.parametrize("missing", [None, ""])
def test_a_missing_link_is_invalid_request(missing: str | None) -> None:
    with pytest.raises(InvalidRequest) as caught:
        SIGNER.verify(SALT_CONTEXT, missing, 60, what="link")
    assert caught.value.code == "invalid_request" and "link is missing" in caught.value.message


def test_a_state_that_is_not_an_object_is_invalid_state() -> None:
    with pytest.raises(UntrustedFlowError) as caught:
        SIGNER.verify_state(SIGNER.sign(SALT_STATE, ["n", "x"]), 600)
    assert caught.value.code == "invalid_state"


def test_tokens_signed_with_an_old_secret_verify_after_rotation_and_new_ones_use_the_new_secret() -> None:
    rotated = Signer("the-new-secret-0123456789abcdef-0123", (SECRET,))
    assert rotated.verify_state(SIGNER.sign(SALT_STATE, {"n": 1}), 600) == {"n": 1}
    fresh = rotated.sign(SALT_STATE, {"n": 2})
    with pytest.raises(UntrustedFlowError):
        SIGNER.verify_state(fresh, 600)  # the old secret alone cannot verify what the new one signed
