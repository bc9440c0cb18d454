"""PKCE (RFC 7636): the verifier's length and alphabet, and the S256 challenge."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from server.flow.pkce import new_verifier, s256_challenge


@pytest.fixture
def _database() -> Iterator[None]:
    """No database in this module: skip the fresh Postgres database conftest makes for each test."""
    yield


# RFC 7636 §4.1: code-verifier = 43*128unreserved, unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
UNRESERVED = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def test_verifier_has_rfc_7636_length_and_alphabet() -> None:
    for _ in range(200):
        verifier = new_verifier()
        assert UNRESERVED.fullmatch(verifier), verifier


def test_verifier_carries_at_least_256_bits() -> None:
    # 43 characters of a 64-letter alphabet is the RFC's recommended minimum (32 octets).
    assert len(new_verifier()) >= 43 and len(new_verifier()) == 86


def test_verifiers_are_not_repeated() -> None:
    assert len({new_verifier() for _ in range(500)}) == 500


def test_s256_challenge_matches_rfc_7636_appendix_b() -> None:
    assert (
        s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_s256_challenge_is_unpadded_base64url() -> None:
    challenge = s256_challenge(new_verifier())
    assert len(challenge) == 43 and re.fullmatch(r"[A-Za-z0-9_-]{43}", challenge)
