"""Password hashing for dashboard members: scrypt (hashlib), parameters stored with each hash.

The encoded form is `scrypt$<log2 N>$<r>$<p>$<salt b64>$<hash b64>`, so the cost can be raised
later without invalidating existing hashes (`needs_rehash` says when to re-hash on sign-in).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

MIN_LENGTH = 12
MAX_LENGTH = 1024  # scrypt's cost does not depend on the length, but a bound keeps requests small


@dataclass(frozen=True)
class ScryptCost:
    """OWASP's scrypt settings: N=2^15 (32 MiB), r=8, p=3 — same work as N=2^17, r=8, p=1."""

    log2_n: int = 15
    r: int = 8
    p: int = 3

    @property
    def maxmem(self) -> int:
        n: int = 2**self.log2_n  # mypy types int ** int as Any (a negative exponent gives a float)
        return 129 * self.r * n + 1024 * 1024


DEFAULT_COST = ScryptCost()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, cost: ScryptCost) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=2**cost.log2_n, r=cost.r, p=cost.p, maxmem=cost.maxmem, dklen=32
    )


def hash_password(password: str, cost: ScryptCost | None = None) -> str:
    cost = cost or DEFAULT_COST
    salt = os.urandom(16)
    digest = _derive(password, salt, cost)
    return f"scrypt${cost.log2_n}${cost.r}${cost.p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, log2_n, r, p, salt, digest = encoded.split("$")
        cost = ScryptCost(int(log2_n), int(r), int(p))
        if scheme != "scrypt" or not (10 <= cost.log2_n <= 20):
            return False
        expected = _unb64(digest)
        return hmac.compare_digest(_derive(password, _unb64(salt), cost), expected)
    except (ValueError, TypeError):
        return False


def needs_rehash(encoded: str, cost: ScryptCost | None = None) -> bool:
    cost = cost or DEFAULT_COST
    return not encoded.startswith(f"scrypt${cost.log2_n}${cost.r}${cost.p}$")


# A hash of a random password, checked when no member has the email, so that an unknown email
# takes as long to refuse as a wrong password.
_DUMMY: dict[ScryptCost, str] = {}


def burn_time(password: str, cost: ScryptCost | None = None) -> None:
    cost = cost or DEFAULT_COST
    if cost not in _DUMMY:
        _DUMMY[cost] = hash_password(secrets.token_urlsafe(16), cost)
    verify_password(password, _DUMMY[cost])


def check_new_password(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    return None


def generate_password() -> str:
    """A password for a member created from the command line (printed once)."""
    return secrets.token_urlsafe(15)
