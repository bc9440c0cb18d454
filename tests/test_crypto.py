"""Secrets at rest (AES-GCM bound to their row), key rotation, and API-key hashing."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterator

import pytest

from server.crypto import Sealer, constant_time_equal, derive_key, hash_api_key, new_api_key, random_id
from server.errors import LatchkeyError


@pytest.fixture
def _database() -> Iterator[None]:
    """No database in this module: skip the fresh Postgres database conftest makes for each test."""
    yield


OLD = "the-old-secret-key-0123456789abcdef-0123"
NEW = "the-new-secret-key-0123456789abcdef-4567"
AAD = '["connection","ws_a","sandbox","hubspot","user-1"]'


def test_seal_then_open_round_trips() -> None:
    sealer = Sealer(OLD)
    token = sealer.seal(b"xoxp-secret-token", AAD)
    assert sealer.open(token, AAD) == b"xoxp-secret-token"
    assert b"xoxp" not in token.encode() and "secret" not in token


def test_json_round_trips() -> None:
    sealer = Sealer(OLD)
    value = {"access_token": "at", "refresh_token": "rt", "expires_at": "2030-01-01T00:00:00+00:00"}
    assert sealer.open_json(sealer.seal_json(value, AAD), AAD) == value


def test_each_seal_uses_a_fresh_nonce() -> None:
    sealer = Sealer(OLD)
    assert sealer.seal(b"same", AAD) != sealer.seal(b"same", AAD)


def test_a_ciphertext_moved_to_another_row_does_not_open() -> None:
    sealer = Sealer(OLD)
    token = sealer.seal(b"secret", AAD)
    for other in (
        '["connection","ws_b","sandbox","hubspot","user-1"]',
        '["connection","ws_a","production","hubspot","user-1"]',
        '["connection","ws_a","sandbox","hubspot","user-2"]',
        "activation:ws_a:sandbox:hubspot:client_secret",
        "",
    ):
        with pytest.raises(LatchkeyError):
            sealer.open(token, other)


def _flip(token: str, index: int) -> str:
    prefix, kid, blob = token.split(".", 2)
    raw = bytearray(base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4)))
    raw[index] ^= 0x01
    return f"{prefix}.{kid}.{base64.urlsafe_b64encode(bytes(raw)).decode().rstrip('=')}"


@pytest.mark.parametrize("index", [0, 11, 12, -1])  # nonce, ciphertext, tag
def test_a_tampered_ciphertext_does_not_open(index: int) -> None:
    sealer = Sealer(OLD)
    token = sealer.seal(b"secret", AAD)
    with pytest.raises(LatchkeyError):
        sealer.open(_flip(token, index), AAD)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: "v2" + t[2:],
        lambda t: t.split(".", 1)[1],
        lambda t: t.replace(t.split(".")[1], "00000000"),
        lambda t: t[:20],
        lambda t: "",
        lambda t: t + "!!",
    ],
)
def test_malformed_ciphertexts_do_not_open(mangle: Callable[[str], str]) -> None:
    sealer = Sealer(OLD)
    with pytest.raises(LatchkeyError):
        sealer.open(mangle(sealer.seal(b"secret", AAD)), AAD)


def test_another_secret_cannot_open() -> None:
    with pytest.raises(LatchkeyError):
        Sealer(NEW).open(Sealer(OLD).seal(b"secret", AAD), AAD)


def test_rotated_sealer_opens_old_ciphertexts_and_seals_with_the_new_key() -> None:
    old_token = Sealer(OLD).seal(b"secret", AAD)
    rotated = Sealer(NEW, (OLD,))
    assert rotated.open(old_token, AAD) == b"secret"
    new_token = rotated.seal(b"secret", AAD)
    assert Sealer(NEW).open(new_token, AAD) == b"secret"
    with pytest.raises(LatchkeyError):
        Sealer(OLD).open(new_token, AAD)


def test_needs_reseal_is_true_only_for_ciphertexts_of_an_old_key() -> None:
    rotated = Sealer(NEW, (OLD,))
    assert rotated.needs_reseal(Sealer(OLD).seal(b"x", AAD)) is True
    assert rotated.needs_reseal(rotated.seal(b"x", AAD)) is False


def test_the_ciphertext_names_its_key_without_revealing_it() -> None:
    token = Sealer(OLD).seal(b"x", AAD)
    prefix, kid, _ = token.split(".", 2)
    key = derive_key(OLD, "encryption-at-rest")
    assert prefix == "v1" and kid == hashlib.sha256(key).hexdigest()[:8]
    assert OLD not in token and key.hex() not in token


def test_keys_are_derived_per_purpose() -> None:
    assert derive_key(OLD, "encryption-at-rest") != derive_key(OLD, "something-else")
    assert len(derive_key(OLD, "encryption-at-rest")) == 32


@pytest.mark.parametrize(("env", "tag"), [("sandbox", "lk_sbx_"), ("production", "lk_live_")])
def test_api_keys_name_their_environment_and_carry_256_random_bits(env: str, tag: str) -> None:
    key = new_api_key(env)
    assert key.startswith(tag)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", key[len(tag) :])
    assert new_api_key(env) != key


def test_api_keys_are_hashed_with_sha256() -> None:
    key = new_api_key("sandbox")
    digest = hash_api_key(key)
    assert digest == hashlib.sha256(key.encode()).hexdigest() and len(digest) == 64
    assert key not in digest and hash_api_key(key) == digest and hash_api_key(key + "x") != digest


def test_constant_time_equal() -> None:
    assert (
        constant_time_equal("abc", "abc")
        and not constant_time_equal("abc", "abd")
        and not constant_time_equal("abc", "ab")
    )


def test_random_ids_are_prefixed_and_url_safe() -> None:
    ids = {random_id("conn") for _ in range(200)}
    assert len(ids) == 200 and all(re.fullmatch(r"conn_[A-Za-z0-9]{16}", i) for i in ids)
