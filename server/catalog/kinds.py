"""The auth kinds an integration can use: the one table the catalog schema, the flow dispatch,
the REST API and the dashboard read (a test checks schema.json against it).

A kind is either a *redirect* (the end-user is sent to the provider and comes back to our
callback) or a *form* (the end-user types a credential into our page, which we verify).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AuthKindName = Literal["oauth2", "oauth1", "oauth2_client_credentials", "api_key", "basic"]


@dataclass(frozen=True)
class AuthKind:
    name: AuthKindName
    label: str  # the dashboard's name for it
    via: Literal["redirect", "form"]


AUTH_KINDS: dict[str, AuthKind] = {
    k.name: k
    for k in (
        AuthKind("oauth2", "OAuth 2.0", "redirect"),
        AuthKind("oauth1", "OAuth 1.0a", "redirect"),
        AuthKind("oauth2_client_credentials", "Client credentials", "form"),
        AuthKind("api_key", "API key", "form"),
        AuthKind("basic", "Username and password", "form"),
    )
}
REDIRECT_KINDS: tuple[str, ...] = tuple(name for name, k in AUTH_KINDS.items() if k.via == "redirect")
FORM_KINDS: tuple[str, ...] = tuple(name for name, k in AUTH_KINDS.items() if k.via == "form")


ApiAuthStyleName = Literal["bearer", "basic", "header", "query", "oauth1"]

# How passthrough sends a connection's credentials to the provider's API (the catalog's `api.auth`).
API_AUTH_STYLES: dict[str, str] = {
    "bearer": "Authorization: Bearer <token>",
    "basic": "HTTP Basic with a user name and password",
    "header": "a named header carries the credential",
    "query": "a named query parameter carries the credential",
    "oauth1": "an OAuth 1.0a signature (HMAC-SHA1) on every request",
}
