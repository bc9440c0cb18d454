"""Signed, expiring tokens: each kind has its own salt; failures carry stable codes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterator
from typing import Any

import pytest
from itsdangerous import URLSafeTimedSerializer

from server.errors import InvalidRequest, UntrustedFlowError
from server.signing import SALT_CONTEXT, SALT_RESULT, SALT_SESSION, SALT_STATE, Signer


@pytest.fixture
def _database() -> Iterator[None]:
    """No database in this module: skip the fresh Postgres database conftest makes for each test."""
    yield


SECRET = "signing-test-secret-0123456789abcdef-xyz"
SIGNER = Signer(SECRET)
SALTS = (SALT_CONTEXT, SALT_STATE, SALT_SESSION, SALT_RESULT)


def signed_long_ago(salt: str, payload: Any, seconds: int) -> str:
    return Signer(SECRET, clock=lambda: time.time() - seconds).sign(salt, payload)


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


def test_an_expired_state_is_expired_state() -> None:
    token = signed_long_ago(SALT_STATE, {"n": "x"}, 700)
    with pytest.raises(UntrustedFlowError) as caught:
        SIGNER.verify_state(token, 600)
    assert caught.value.code == "expired_state"
    assert SIGNER.verify_state(token, 800) == {"n": "x"}  # the same token within its age is fine


def test_an_expired_link_is_expired_state() -> None:
    token = signed_long_ago(SALT_CONTEXT, {"x": 1}, 1900)
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


def test_a_token_signed_in_the_future_is_expired_state() -> None:
    token = Signer(SECRET, clock=lambda: time.time() + 120).sign(SALT_STATE, {"n": "x"})
    with pytest.raises(UntrustedFlowError) as caught:
        SIGNER.verify_state(token, 600)
    assert caught.value.code == "expired_state"


# The format is itsdangerous's: what it signs verifies here and the other way round, small
# payloads (sent as they are) and large ones (compressed) alike, current and old secrets too.
PAYLOADS = [{"n": 1}, {"c": {"x": "user-ü", "s": ["crm_contact_read"] * 40}, "n": "nonce"}, ["a"]]


def itsdangerous_of(salt: str, *secrets: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(list(reversed(secrets)), salt=salt)  # it signs with the last


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("salt", SALTS)
def test_tokens_signed_by_itsdangerous_verify_here_and_ours_verify_there(salt: str, payload: Any) -> None:
    theirs = itsdangerous_of(salt, SECRET).dumps(payload)
    assert SIGNER.verify(salt, theirs, 60, what="token") == payload
    ours = SIGNER.sign(salt, payload)
    assert itsdangerous_of(salt, SECRET).loads(ours, max_age=60) == payload
    assert ours.startswith(".") == theirs.startswith(".")  # compressed exactly when itsdangerous compresses
    old = "an-old-secret-0123456789abcdef-0123456"
    rotated = Signer(SECRET, (old,))
    assert rotated.verify(salt, itsdangerous_of(salt, old).dumps(payload), 60, what="token") == payload
    assert itsdangerous_of(salt, SECRET, old).loads(rotated.sign(salt, payload)) == payload


@pytest.mark.parametrize(
    "token",
    ["no-dots-at-all", "..", "a.b.c", "ünïcode.x.y", ".!!!.AAAA.BBBB", "e30.AAAAAAAAAAAAAAAAAA.sig"],
)
def test_a_malformed_token_is_invalid_state_never_a_crash(token: str) -> None:
    with pytest.raises(UntrustedFlowError) as caught:
        SIGNER.verify_state(token, 600)
    assert caught.value.code == "invalid_state"


def test_a_signed_token_whose_timestamp_or_payload_is_malformed_is_invalid_state() -> None:
    key = hashlib.sha1(SALT_STATE.encode() + b"signer" + SECRET.encode()).digest()

    def signed(value: bytes) -> str:
        mac = base64.urlsafe_b64encode(hmac.new(key, value, hashlib.sha1).digest()).rstrip(b"=")
        return (value + b"." + mac).decode()

    stamp = base64.urlsafe_b64encode(int(time.time()).to_bytes(4, "big")).rstrip(b"=")
    for value in (b"e30", b"e30." + b"A" * 20, b".bm90LXpsaWI." + stamp, b"bm90LWpzb24." + stamp):
        with pytest.raises(UntrustedFlowError) as caught:
            SIGNER.verify_state(signed(value), 600)
        assert caught.value.code == "invalid_state", value
    assert SIGNER.verify_state(signed(b"e30." + stamp), 600) == {}  # the same construction, well formed


def test_a_state_may_be_signed_uncompressed_and_verifies_alike() -> None:
    payload = {"n": "nonce", "c": {"x": "y" * 200}}
    plain = SIGNER.sign(SALT_STATE, payload, compress=False)
    packed = SIGNER.sign(SALT_STATE, payload)
    assert not plain.startswith(".") and packed.startswith(".") and len(plain) > len(packed)
    assert SIGNER.verify_state(plain, 600) == SIGNER.verify_state(packed, 600) == payload
    assert itsdangerous_of(SALT_STATE, SECRET).loads(plain) == payload
