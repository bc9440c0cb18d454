"""PKCE (RFC 7636), S256 only: there is no downgrade to `plain`."""

from __future__ import annotations

import base64
import hashlib
import secrets


def new_verifier() -> str:
    return secrets.token_urlsafe(64)[:86]


def s256_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
