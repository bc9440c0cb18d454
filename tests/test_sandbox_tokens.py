"""Sandbox tokens carry their account and, for access tokens, an expiry that is checked."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from server.sandbox.tokens import (
    SALT_ACCESS,
    SALT_REFRESH,
    account_of_access_token,
    account_of_refresh_token,
    mint_access_token,
    mint_client_credentials_token,
    mint_refresh_token,
    mint_tokens,
    new_account,
)
from server.signing import SALT_CONTEXT, SALT_RESULT, SALT_SESSION, SALT_STATE, Signer


@pytest.fixture
def _database() -> Iterator[None]:
    """No database in this module: skip the fresh Postgres database conftest makes for each test."""
    yield


SIGNER = Signer("sandbox-token-test-secret-0123456789abcdef")
OTHER = Signer("another-deployment-secret-0123456789abcdef")
ACCOUNT = "acct_0123456789abcdef"


def test_minted_tokens_keep_their_prefixes_and_name_the_account() -> None:
    tokens = mint_tokens(SIGNER, ACCOUNT)
    assert tokens.access_token.startswith("sbx_at_") and tokens.refresh_token.startswith("sbx_rt_")
    assert tokens.expires_in == 3600
    assert account_of_access_token(SIGNER, tokens.access_token) == ACCOUNT
    assert account_of_refresh_token(SIGNER, tokens.refresh_token) == ACCOUNT


def test_an_access_token_is_valid_until_its_lifetime_runs_out() -> None:
    token = mint_access_token(SIGNER, ACCOUNT, timedelta(minutes=5))
    assert account_of_access_token(SIGNER, token, now=time.time() + 290) == ACCOUNT
    assert account_of_access_token(SIGNER, token, now=time.time() + 301) is None


def test_an_access_token_minted_with_a_negative_lifetime_is_already_expired() -> None:
    assert account_of_access_token(SIGNER, mint_access_token(SIGNER, ACCOUNT, timedelta(seconds=-1))) is None


def test_refresh_tokens_do_not_expire() -> None:
    token = mint_refresh_token(SIGNER, ACCOUNT)
    assert account_of_refresh_token(SIGNER, token) == ACCOUNT
    assert mint_tokens(SIGNER, ACCOUNT, timedelta(seconds=-1)).expires_in == -1  # only the access token expired


def test_a_client_credentials_token_is_an_access_token_without_expiry() -> None:
    token = mint_client_credentials_token(SIGNER, ACCOUNT)
    assert token.startswith("sbx_cc_")
    assert account_of_access_token(SIGNER, token, now=time.time() + 10 * 365 * 86400) == ACCOUNT
    assert account_of_refresh_token(SIGNER, token) is None


def test_swapping_the_prefixes_of_access_tokens_gets_nothing() -> None:
    expiring = mint_access_token(SIGNER, ACCOUNT).removeprefix("sbx_at_")
    lasting = mint_client_credentials_token(SIGNER, ACCOUNT).removeprefix("sbx_cc_")
    assert account_of_access_token(SIGNER, "sbx_cc_" + expiring) is None  # would lose its expiry
    assert account_of_access_token(SIGNER, "sbx_at_" + lasting) is None


def test_an_access_token_is_not_a_refresh_token_nor_the_other_way_round() -> None:
    tokens = mint_tokens(SIGNER, ACCOUNT)
    assert account_of_access_token(SIGNER, tokens.refresh_token) is None
    assert account_of_refresh_token(SIGNER, tokens.access_token) is None
    # Even under the other prefix: the salts differ.
    assert account_of_access_token(SIGNER, "sbx_at_" + tokens.refresh_token.removeprefix("sbx_rt_")) is None
    assert account_of_refresh_token(SIGNER, "sbx_rt_" + tokens.access_token.removeprefix("sbx_at_")) is None


@pytest.mark.parametrize(
    "token",
    ["", "sbx_at_", "sbx_at_x", "sbx_at_not.a.token", "sbx_rt_x", "Bearer sbx_at_x", "sbx_at_\u00e9\u0000", "lk_sbx_x"],
)
def test_malformed_tokens_name_no_account(token: str) -> None:
    assert account_of_access_token(SIGNER, token) is None
    assert account_of_refresh_token(SIGNER, token) is None


def test_a_token_signed_with_another_secret_or_tampered_with_names_no_account() -> None:
    tokens = mint_tokens(OTHER, ACCOUNT)
    assert account_of_access_token(SIGNER, tokens.access_token) is None
    assert account_of_refresh_token(SIGNER, tokens.refresh_token) is None
    mine = mint_access_token(SIGNER, ACCOUNT)
    assert account_of_access_token(SIGNER, mine[:-2] + ("AA" if not mine.endswith("AA") else "BB")) is None


def test_tokens_signed_before_a_key_rotation_still_verify() -> None:
    tokens = mint_tokens(OTHER, ACCOUNT)
    rotated = Signer(SIGNER.secret, old_secrets=(OTHER.secret,))
    assert account_of_access_token(rotated, tokens.access_token) == ACCOUNT
    assert account_of_refresh_token(rotated, tokens.refresh_token) == ACCOUNT


def test_a_signed_payload_without_an_account_is_refused() -> None:
    expiry = int(time.time()) + 600
    assert account_of_access_token(SIGNER, "sbx_at_" + SIGNER.sign(SALT_ACCESS, {"x": expiry})) is None
    assert account_of_access_token(SIGNER, "sbx_at_" + SIGNER.sign(SALT_ACCESS, {"a": "eve", "x": expiry})) is None
    assert account_of_access_token(SIGNER, "sbx_at_" + SIGNER.sign(SALT_ACCESS, {"a": ACCOUNT})) is None  # no expiry
    assert account_of_access_token(SIGNER, "sbx_at_" + SIGNER.sign(SALT_ACCESS, {"a": ACCOUNT, "x": True})) is None
    assert account_of_refresh_token(SIGNER, "sbx_rt_" + SIGNER.sign(SALT_REFRESH, [ACCOUNT])) is None


def test_the_sandbox_salts_are_their_own() -> None:
    assert len({SALT_ACCESS, SALT_REFRESH, SALT_CONTEXT, SALT_STATE, SALT_SESSION, SALT_RESULT}) == 6


def test_new_accounts_are_random_and_prefixed() -> None:
    first, second = new_account(), new_account()
    assert first.startswith("acct_") and first != second


def test_tokens_minted_in_the_same_second_for_one_account_differ() -> None:
    first, second = mint_tokens(SIGNER, ACCOUNT), mint_tokens(SIGNER, ACCOUNT)
    assert first.access_token != second.access_token and first.refresh_token != second.refresh_token
    assert mint_client_credentials_token(SIGNER, ACCOUNT) != mint_client_credentials_token(SIGNER, ACCOUNT)
