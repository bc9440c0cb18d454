"""Revoking a grant's tokens at the provider (RFC 7009), so that forgetting them really ends access.

Used when a flow's tokens cannot be stored (they would otherwise stay valid, held by nobody) and
when a connection is deleted. Best effort: one POST per token with the outbound client's deadline
and size cap, the client authenticated as at the token endpoint; the outcome is reported, never
raised into the caller — a provider that is down must not turn a deletion into an error.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

from server.catalog.models import OAuth2Spec
from server.errors import LatchkeyError
from server.flow.templating import render_url
from server.flow.tokens import basic_auth
from server.http import OutboundHTTP

logger = logging.getLogger("latchkey.revocation")

# revoked: every token was accepted (RFC 7009 §2.2: 200, also for a token already invalid);
# failed: the provider refused or could not be reached; not_supported: no RFC 7009 endpoint in the
# catalog (or no OAuth 2.0 tokens to revoke); not_attempted: the stored tokens could not be read.
Revocation = Literal["revoked", "failed", "not_supported", "not_attempted"]


async def revoke_tokens(
    http: OutboundHTTP,
    spec: OAuth2Spec,
    revocation_url: str | None,
    credentials: Mapping[str, Any],
    *,
    client_id: str,
    client_secret: str | None,
) -> Revocation:
    """Revoke the refresh token first (RFC 7009 §2.1: that ends the grant's access tokens too), then
    the access token. Never raises."""
    tokens = [
        (hint, value)
        for hint, value in (
            ("refresh_token", credentials.get("refresh_token")),
            ("access_token", credentials.get("access_token")),
        )
        if isinstance(value, str) and value
    ]
    if not revocation_url or credentials.get("type") != "oauth2" or not tokens:
        return "not_supported"
    outcome: Revocation = "revoked"
    for hint, token in tokens:
        body = {"token": token, "token_type_hint": hint}
        headers = {"Accept": "application/json"}
        if spec.token_auth_method == "client_secret_basic" and client_secret is not None:
            headers["Authorization"] = basic_auth(client_id, client_secret)
        else:
            body["client_id"] = client_id
            if client_secret is not None:
                body["client_secret"] = client_secret
        try:
            response = await http.request("POST", revocation_url, data=body, headers=headers)
        except LatchkeyError as exc:
            logger.warning("revoking a %s at %s failed: %s", hint, _host(revocation_url), exc.code)
            outcome = "failed"
            continue
        if response.status != 200:
            logger.warning("revoking a %s at %s failed: HTTP %d", hint, _host(revocation_url), response.status)
            outcome = "failed"
    return outcome


def revocation_url_for(spec: OAuth2Spec, values: Mapping[str, str]) -> str | None:
    """The spec's revocation URL with its template variables filled in; None when it has none (or lacks a value)."""
    if not spec.revocation_url:
        return None
    try:
        return render_url(spec.revocation_url, dict(values))
    except (KeyError, LatchkeyError):
        return None


def _host(url: str) -> str:
    return url.split("/")[2] if url.count("/") >= 2 else url
