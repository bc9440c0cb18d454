"""Signed, expiring tokens: flow context, OAuth state, connect sessions, form tokens.

Each kind has its own salt, so a token of one kind never verifies as another.

The format is itsdangerous's URLSafeTimedSerializer: base64url JSON (zlib-compressed, marked by a
leading ".", when that is shorter), a base64url timestamp, and an HMAC-SHA1 over both with a key
derived per salt ("django-concat"). It is written out here because every flow start verifies one
token and signs another: itsdangerous derives the key and compresses with a full 32 KiB window on
every call, about 30 µs to sign a state; with each key's HMAC prepared once and a 4 KiB window
this takes about 10. Tokens either one signs verify with the other (tests/test_signing.py), so
links made before the change keep working.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from server.errors import InvalidRequest, UntrustedFlowError

SALT_CONTEXT = "latchkey.flow-context.v1"
SALT_STATE = "latchkey.oauth-state.v1"
SALT_SESSION = "latchkey.connect-session.v1"
SALT_RESULT = "latchkey.result.v1"

# zlib: level 6, a 4 KiB window (2**12) and a small hash table. A token is a few hundred bytes, so
# the default 32 KiB window buys nothing and its setup costs more than the compression itself.
_ZLIB_ARGS = (6, zlib.DEFLATED, 12, 2)


class _BadToken(Exception):
    pass


class _Expired(_BadToken):
    pass


@dataclass(frozen=True)
class _Keys:
    signing: Any  # hmac.HMAC, keyed once: each use works on a copy
    verifying: tuple[Any, ...]  # the current key first, then the old ones


@functools.cache
def _keys(secret: str, old_secrets: tuple[str, ...], salt: str) -> _Keys:
    def prepared(key: str) -> Any:
        derived = hashlib.sha1(salt.encode() + b"signer" + key.encode()).digest()
        return hmac.new(derived, digestmod=hashlib.sha1)

    current = prepared(secret)
    return _Keys(signing=current, verifying=(current, *(prepared(s) for s in old_secrets)))


def _b64encode(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _b64decode(data: bytes) -> bytes:
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


def _dumps(keys: _Keys, payload: Any, now: int, compress: bool) -> str:
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    body = _b64encode(raw)
    if compress:
        compressor = zlib.compressobj(*_ZLIB_ARGS)
        packed = compressor.compress(raw) + compressor.flush()
        if len(packed) < len(raw) - 1:
            body = b"." + _b64encode(packed)
    value = body + b"." + _b64encode(now.to_bytes(8, "big").lstrip(b"\x00"))
    mac = keys.signing.copy()
    mac.update(value)
    return (value + b"." + _b64encode(mac.digest())).decode("ascii")


def _loads(keys: _Keys, token: str, max_age: int, now: int) -> Any:
    try:
        value, _, signature = token.encode("ascii").rpartition(b".")
        expected = _b64decode(signature)
        for key in keys.verifying:
            mac = key.copy()
            mac.update(value)
            if hmac.compare_digest(mac.digest(), expected):
                break
        else:
            raise _BadToken("signature")
        body, dot, stamp = value.rpartition(b".")
        signed_at = _b64decode(stamp)
        if not dot or not body or len(signed_at) > 8:
            raise _BadToken("timestamp")
        age = now - int.from_bytes(signed_at, "big")
        if age > max_age or age < 0:
            raise _Expired(f"signed {age} s ago")
        raw = zlib.decompress(_b64decode(body[1:])) if body.startswith(b".") else _b64decode(body)
        return json.loads(raw)
    except (UnicodeError, binascii.Error, ValueError, zlib.error) as exc:
        raise _BadToken(type(exc).__name__) from exc


@dataclass(frozen=True)
class Signer:
    secret: str
    old_secrets: tuple[str, ...] = ()
    clock: Callable[[], float] = field(default=time.time, compare=False)

    def _keys(self, salt: str) -> _Keys:
        # Signed with the current secret, verified with any: links made before a key rotation
        # keep working until they expire.
        return _keys(self.secret, self.old_secrets, salt)

    def sign(self, salt: str, payload: Any, *, compress: bool = True) -> str:
        """`compress=False` for a payload mostly of random bytes (a state: its nonce, hashes and
        sealed verifier), which zlib shrinks by a sixth at the cost of a third of the signing."""
        return _dumps(self._keys(salt), payload, int(self.clock()), compress)

    def _verified(self, salt: str, token: str, max_age: int) -> Any:
        return _loads(self._keys(salt), token, max_age, int(self.clock()))

    def verify_state(self, token: str | None, max_age: int) -> dict[str, Any]:
        """For the OAuth state: failures are untrusted (error page, no redirect)."""
        if not token:
            raise UntrustedFlowError(
                "This authorization arrived without a state parameter, so it cannot be matched to a "
                "request started here. If you installed the app from the provider's marketplace, start "
                "the connection from the application instead.",
                code="invalid_state",
            )
        try:
            data = self._verified(SALT_STATE, token, max_age)
        except _Expired as exc:
            raise UntrustedFlowError(
                "This authorization took too long and expired. Please start again.", code="expired_state"
            ) from exc
        except _BadToken as exc:
            raise UntrustedFlowError("This authorization's state is not valid.", code="invalid_state") from exc
        if not isinstance(data, dict):
            raise UntrustedFlowError("This authorization's state is not valid.", code="invalid_state")
        return data

    def verify(self, salt: str, token: str | None, max_age: int, *, what: str) -> Any:
        """For tokens the host or the picker hands us: failures are plain invalid requests."""
        if not token:
            raise InvalidRequest(f"The {what} is missing.")
        try:
            return self._verified(salt, token, max_age)
        except _Expired as exc:
            raise InvalidRequest(f"The {what} has expired; open the widget again.", code="expired_state") from exc
        except _BadToken as exc:
            raise InvalidRequest(f"The {what} is not valid.", code="invalid_state") from exc
