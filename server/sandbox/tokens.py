"""Sandbox tokens that mean something: each names a synthetic account, and an access token expires.

The sandbox data API (server/routes/sandbox_api.py) answers only a valid, unexpired access token,
so an expired sandbox token really gets a 401 and a connection's refresh really matters. Tokens are
signed, not stored: the account and the expiry are in the token (own salts, so an access token never
verifies as a refresh token or anything else Latchkey signs). The prefixes are kept from the random
tokens these replace (`sbx_at_`, `sbx_rt_`, `sbx_cc_`).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from server.errors import InvalidRequest
from server.signing import Signer

SALT_ACCESS = "latchkey.sandbox-access-token.v1"
SALT_REFRESH = "latchkey.sandbox-refresh-token.v1"

ACCESS_PREFIX = "sbx_at_"
REFRESH_PREFIX = "sbx_rt_"
CLIENT_CREDENTIALS_PREFIX = "sbx_cc_"
ACCOUNT_PREFIX = "acct_"

ACCESS_TOKEN_LIFETIME = timedelta(hours=1)

# The signature's own timestamp is not the expiry (the payload's "x" is): no age limit there.
_NO_AGE_LIMIT = 100 * 365 * 24 * 3600


@dataclass(frozen=True)
class SandboxTokens:
    access_token: str
    refresh_token: str
    expires_in: int


def new_account() -> str:
    """A fresh synthetic account: its data is derived from this id (server/sandbox/data.py)."""
    return ACCOUNT_PREFIX + secrets.token_hex(8)


def mint_access_token(signer: Signer, account: str, lifetime: timedelta = ACCESS_TOKEN_LIFETIME) -> str:
    """`sbx_at_…`, valid for `lifetime` from now (a negative lifetime makes one already expired)."""
    expiry = int(time.time() + lifetime.total_seconds())
    return ACCESS_PREFIX + signer.sign(SALT_ACCESS, {"a": account, "x": expiry, "n": _nonce()})


def mint_client_credentials_token(signer: Signer, account: str) -> str:
    """`sbx_cc_…`: an access token without expiry, as a sandbox client-credentials connection stores
    none and is never refreshed."""
    return CLIENT_CREDENTIALS_PREFIX + signer.sign(SALT_ACCESS, {"a": account, "x": None, "n": _nonce()})


def mint_refresh_token(signer: Signer, account: str) -> str:
    """`sbx_rt_…`: refresh tokens do not expire."""
    return REFRESH_PREFIX + signer.sign(SALT_REFRESH, {"a": account, "n": _nonce()})


def mint_tokens(signer: Signer, account: str, lifetime: timedelta = ACCESS_TOKEN_LIFETIME) -> SandboxTokens:
    return SandboxTokens(
        access_token=mint_access_token(signer, account, lifetime),
        refresh_token=mint_refresh_token(signer, account),
        expires_in=int(lifetime.total_seconds()),
    )


def account_of_access_token(signer: Signer, token: str | None, *, now: float | None = None) -> str | None:
    """The account of a valid `sbx_at_…` (unexpired at `now`) or `sbx_cc_…` token; None otherwise."""
    if not token:
        return None
    if token.startswith(ACCESS_PREFIX):
        data = _payload(signer, SALT_ACCESS, token[len(ACCESS_PREFIX) :])
        expiry = data.get("x") if data else None
        if not isinstance(expiry, int) or isinstance(expiry, bool):
            return None
        if (time.time() if now is None else now) >= expiry:
            return None
    elif token.startswith(CLIENT_CREDENTIALS_PREFIX):
        data = _payload(signer, SALT_ACCESS, token[len(CLIENT_CREDENTIALS_PREFIX) :])
        if data is None or data.get("x", 0) is not None:
            return None  # an expiring access token under the client-credentials prefix is refused
    else:
        return None
    return _account(data)


def account_of_refresh_token(signer: Signer, token: str | None) -> str | None:
    """The account of a validly signed `sbx_rt_…` token; None otherwise."""
    if not token or not token.startswith(REFRESH_PREFIX):
        return None
    return _account(_payload(signer, SALT_REFRESH, token[len(REFRESH_PREFIX) :]))


def _nonce() -> str:
    # Without it two tokens for one account minted in the same second would be the same token
    # (a refresh would hand back the token it replaces).
    return secrets.token_urlsafe(6)


def _payload(signer: Signer, salt: str, signed: str) -> dict[str, Any] | None:
    try:
        data = signer.verify(salt, signed, _NO_AGE_LIMIT, what="sandbox token")
    except InvalidRequest:
        return None
    return data if isinstance(data, dict) else None


def _account(data: dict[str, Any] | None) -> str | None:
    account = data.get("a") if data else None
    return account if isinstance(account, str) and account.startswith(ACCOUNT_PREFIX) else None
