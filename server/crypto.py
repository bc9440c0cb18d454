"""Encryption of stored secrets, key derivation and API-key hashing.

Stored secrets use AES-256-GCM with associated data naming the row and column they belong to,
so a ciphertext copied into another row does not decrypt. Each ciphertext names the key it was
made with (a short key id), so old keys listed in LATCHKEY_OLD_SECRET_KEYS still decrypt while
new writes use the current one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from server.errors import LatchkeyError

_PREFIX = "v1"


class UnreadableSecret(LatchkeyError):
    """A stored secret could not be decrypted (wrong key or tampered row)."""


def derive_key(secret: str, purpose: str, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=b"latchkey", info=purpose.encode()).derive(
        secret.encode()
    )


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


class Sealer:
    """Seals and opens secrets at rest. `aad` binds a ciphertext to its row and column."""

    def __init__(self, secret: str, old_secrets: tuple[str, ...] = ()) -> None:
        current = derive_key(secret, "encryption-at-rest")
        self._current_id = _key_id(current)
        keys = [current, *(derive_key(s, "encryption-at-rest") for s in old_secrets)]
        # One cipher object per key, made once: its key schedule is the costly part of a short seal.
        self._ciphers = {_key_id(key): AESGCM(key) for key in keys}

    def seal(self, plaintext: bytes, aad: str) -> str:
        nonce = os.urandom(12)
        ct = self._ciphers[self._current_id].encrypt(nonce, plaintext, aad.encode())
        blob = base64.urlsafe_b64encode(nonce + ct).decode().rstrip("=")
        return f"{_PREFIX}.{self._current_id}.{blob}"

    def open(self, token: str, aad: str) -> bytes:
        try:
            prefix, kid, blob = token.split(".", 2)
            cipher = self._ciphers[kid]
            raw = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
            if prefix != _PREFIX:
                raise ValueError(prefix)
            return cipher.decrypt(raw[:12], raw[12:], aad.encode())
        except (ValueError, KeyError, InvalidTag) as exc:
            raise UnreadableSecret() from exc

    def seal_json(self, value: Any, aad: str) -> str:
        return self.seal(json.dumps(value, separators=(",", ":")).encode(), aad)

    def open_json(self, token: str, aad: str) -> Any:
        return json.loads(self.open(token, aad))

    def needs_reseal(self, token: str) -> bool:
        return token.split(".", 2)[1] != self._current_id


def new_api_key(environment: str) -> str:
    tag = "sbx" if environment == "sandbox" else "live"
    return f"lk_{tag}_{secrets.token_urlsafe(32)}"


def hash_api_key(key: str) -> str:
    """API keys carry 256 random bits, so a plain SHA-256 is a sound, fast lookup hash."""
    return hashlib.sha256(key.encode()).hexdigest()


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def random_id(prefix: str, nbytes: int = 12) -> str:
    return f"{prefix}_{secrets.token_urlsafe(nbytes).replace('-', 'x').replace('_', 'y')}"
