"""Signed, expiring tokens: flow context, OAuth state, connect sessions, form tokens.

Each kind has its own salt, so a token of one kind never verifies as another.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from server.errors import InvalidRequest, UntrustedFlowError

SALT_CONTEXT = "latchkey.flow-context.v1"
SALT_STATE = "latchkey.oauth-state.v1"
SALT_SESSION = "latchkey.connect-session.v1"
SALT_RESULT = "latchkey.result.v1"


@functools.cache
def _serializer(secret: str, old_secrets: tuple[str, ...], salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer([*reversed(old_secrets), secret], salt=salt)


@dataclass(frozen=True)
class Signer:
    secret: str
    old_secrets: tuple[str, ...] = ()

    def _serializer(self, salt: str) -> URLSafeTimedSerializer:
        # itsdangerous signs with the last key and verifies with any: links made before a key
        # rotation keep working until they expire. One serializer per salt, built once (every flow
        # start verifies one token and signs another).
        return _serializer(self.secret, self.old_secrets, salt)

    def sign(self, salt: str, payload: Any) -> str:
        return self._serializer(salt).dumps(payload)

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
            data = self._serializer(SALT_STATE).loads(token, max_age=max_age)
        except SignatureExpired as exc:
            raise UntrustedFlowError(
                "This authorization took too long and expired. Please start again.", code="expired_state"
            ) from exc
        except BadSignature as exc:
            raise UntrustedFlowError("This authorization's state is not valid.", code="invalid_state") from exc
        if not isinstance(data, dict):
            raise UntrustedFlowError("This authorization's state is not valid.", code="invalid_state")
        return data

    def verify(self, salt: str, token: str | None, max_age: int, *, what: str) -> Any:
        """For tokens the host or the picker hands us: failures are plain invalid requests."""
        if not token:
            raise InvalidRequest(f"The {what} is missing.")
        try:
            return self._serializer(salt).loads(token, max_age=max_age)
        except SignatureExpired as exc:
            raise InvalidRequest(f"The {what} has expired; open the widget again.", code="expired_state") from exc
        except BadSignature as exc:
            raise InvalidRequest(f"The {what} is not valid.", code="invalid_state") from exc
