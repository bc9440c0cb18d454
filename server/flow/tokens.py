"""The OAuth 2.0 token request and the reading of providers' token responses."""

from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote

from server.catalog.models import OAuth2Spec, TokenResponseSpec
from server.errors import ProviderError, ProviderUnavailable
from server.http import OutboundHTTP, ProviderResponse

_MAX_TOKEN_LENGTH = 16_384
_MAX_LIFETIME = 20 * 365 * 86400


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    token_type: str = "bearer"
    refresh_token: str | None = None
    expires_at: datetime | None = None
    scope: list[str] | None = None
    id_token: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def credentials(self) -> dict[str, Any]:
        """What is sealed into the connection row."""
        creds: dict[str, Any] = {"type": "oauth2", "access_token": self.access_token, "token_type": self.token_type}
        if self.refresh_token:
            creds["refresh_token"] = self.refresh_token
        if self.expires_at:
            creds["expires_at"] = self.expires_at.isoformat()
        if self.id_token:
            creds["id_token"] = self.id_token
        return creds


def dig(data: Any, path: str) -> Any:
    """Follow a dotted path through objects (and lists, by number): `authed_user.access_token`, `0.id`."""
    for part in path.split("."):
        if isinstance(data, list) and part.isdigit():
            data = data[int(part)] if int(part) < len(data) else None
        elif isinstance(data, dict):
            data = data.get(part)
        else:
            return None
    return data


def parse_body(response: ProviderResponse) -> dict[str, Any]:
    """JSON, or form-encoded (GitHub's default and some legacy providers)."""
    try:
        text = response.content.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        # Decoding with replacement characters would store a token the provider never issued.
        raise ProviderError("The provider's token endpoint answered with a body that is not UTF-8.") from exc
    if response.content_type in ("application/x-www-form-urlencoded", "text/plain") and not text.startswith("{"):
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False)
        if pairs:
            return dict(pairs)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProviderError(
            f"The provider's token endpoint answered HTTP {response.status} with a body that is not JSON "
            f"({response.content_type or 'no content type'})."
        ) from exc
    if not isinstance(data, dict):
        raise ProviderError("The provider's token response is not a JSON object.")
    return data


def _provider_error(data: dict[str, Any], status: int) -> ProviderError:
    code = data.get("error") if isinstance(data.get("error"), str) else None
    description = data.get("error_description") or data.get("message") or ""
    text = f"The provider refused the token request (HTTP {status}"
    text += f", {code}" if code else ""
    text += f": {str(description)[:200]})" if description else ")"
    return ProviderError(text, provider_code=code)


_SECONDS = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?")


def lifetime(raw: Any) -> int:
    """`expires_in` in whole seconds: a non-negative number, or a string of one ("3600").

    A fraction (3599.9) is cut down to the second before, so a token is never thought valid
    longer than the provider said. A negative, boolean or non-numeric value is refused: today's
    "never expires" reading of it would keep a dead token forever.
    """
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ProviderError("The provider's expires_in is not a number.")
    if isinstance(raw, str) and not _SECONDS.fullmatch(raw.strip()):
        raise ProviderError("The provider's expires_in is not a non-negative number of seconds.")
    try:
        seconds = float(raw)
    except OverflowError as exc:  # an integer with hundreds of digits
        raise ProviderError("The provider's expires_in is not a plausible lifetime.") from exc
    if not math.isfinite(seconds) or seconds < 0:
        raise ProviderError("The provider's expires_in is not a non-negative number of seconds.")
    if seconds > _MAX_LIFETIME:
        raise ProviderError("The provider's expires_in is not a plausible lifetime.")
    return math.floor(seconds)


def check_token_type(spec: TokenResponseSpec, data: dict[str, Any]) -> None:
    """The token must be of the type the entry expects (Bearer unless it says otherwise).

    token_type is read beside the access token (Slack's user token: `authed_user.token_type`).
    """
    parent, _, _ = spec.access_token.rpartition(".")
    sent = dig(data, f"{parent}.token_type" if parent else "token_type")
    if sent in (None, "") and spec.token_type_optional:
        return
    if not isinstance(sent, str) or sent.lower() != spec.token_type.lower():
        raise ProviderError(
            f"The provider's token is not of type {spec.token_type} "
            f"({'no token_type' if sent in (None, '') else 'token_type ' + repr(str(sent)[:40])})."
        )


def normalise(spec: TokenResponseSpec, response: ProviderResponse, *, now: datetime | None = None) -> TokenSet:
    now = now or datetime.now(UTC)
    if response.status >= 500:
        cls = ProviderUnavailable if response.status in (502, 503, 504) else ProviderError
        raise cls(f"The provider's token endpoint failed with HTTP {response.status}.")
    data = parse_body(response)
    if response.status != 200 or ("error" in data and not dig(data, spec.access_token)):
        raise _provider_error(data, response.status)
    if spec.error_flag is not None and dig(data, spec.error_flag) is not True:
        raise _provider_error(data, response.status)
    access_token = dig(data, spec.access_token)
    if not isinstance(access_token, str) or not access_token or len(access_token) > _MAX_TOKEN_LENGTH:
        raise ProviderError("The provider's token response has no usable access_token.")
    refresh_token = dig(data, spec.refresh_token)
    expires_at = None
    if spec.expires_at and dig(data, spec.expires_at):
        try:
            expires_at = datetime.fromisoformat(str(dig(data, spec.expires_at)).replace("Z", "+00:00"))
        except ValueError as exc:
            raise ProviderError("The provider's expires_at is not a date.") from exc
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
    else:
        raw = dig(data, spec.expires_in)
        if raw not in (None, ""):
            seconds = lifetime(raw)
            if not (seconds == 0 and spec.zero_expires_in_means_never):
                expires_at = now + timedelta(seconds=seconds)
    scope_raw = dig(data, spec.scope)
    scope: list[str] | None
    if isinstance(scope_raw, list):
        scope = [str(s) for s in scope_raw]
    elif isinstance(scope_raw, str):
        sep = spec.scope_separator
        scope = [s for s in (scope_raw.replace(",", " ").split() if sep in (" ", ",") else scope_raw.split(sep)) if s]
    else:
        scope = None
    metadata = {}
    for key, path in spec.extra.items():
        value = dig(data, path)
        if value is not None and isinstance(value, (str, int, float, bool)):
            metadata[key] = value
    check_token_type(spec, data)
    token_type = dig(data, "token_type") if "." not in spec.access_token else None
    return TokenSet(
        access_token=access_token,
        token_type=str(token_type or "bearer").lower(),
        refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        expires_at=expires_at,
        scope=scope,
        id_token=data.get("id_token") if isinstance(data.get("id_token"), str) else None,
        metadata=metadata,
    )


def basic_auth(client_id: str, client_secret: str) -> str:
    # RFC 6749 §2.3.1: form-urlencode each part before joining.
    raw = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}".encode()
    return "Basic " + base64.b64encode(raw).decode()


async def token_request(
    http: OutboundHTTP,
    spec: OAuth2Spec,
    token_url: str,
    params: dict[str, str],
    *,
    client_id: str,
    client_secret: str | None,
) -> TokenSet:
    body = {**spec.token_params, **params}
    headers = {"Accept": spec.token_accept}
    if spec.token_auth_method == "client_secret_basic" and client_secret is not None:
        headers["Authorization"] = basic_auth(client_id, client_secret)
    else:
        body["client_id"] = client_id
        if client_secret is not None:
            body["client_secret"] = client_secret
    if spec.token_request_format == "json":
        response = await http.request("POST", token_url, json=body, headers=headers)
    else:
        response = await http.request("POST", token_url, data=body, headers=headers)
    return normalise(spec.token_response, response)


async def exchange_code(
    http: OutboundHTTP,
    spec: OAuth2Spec,
    token_url: str,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str | None,
    client_id: str,
    client_secret: str | None,
) -> TokenSet:
    params = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if code_verifier:
        params["code_verifier"] = code_verifier
    return await token_request(http, spec, token_url, params, client_id=client_id, client_secret=client_secret)
