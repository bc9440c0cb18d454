"""Typed views of catalog files (validated against schema.json first)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.catalog.kinds import AUTH_KINDS, ApiAuthStyleName, AuthKindName


@dataclass(frozen=True)
class Variable:
    name: str
    label: str
    pattern: str
    help: str = ""
    default: str | None = None
    example: str | None = None  # the expected format, shown when a typed value does not match
    source: str = "user"
    callback_param: str | None = None
    allowed: tuple[str, ...] = ()


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    secret: bool = False
    optional: bool = False
    pattern: str | None = None
    help: str = ""
    placeholder: str = ""
    default: str | None = None


@dataclass(frozen=True)
class TokenResponseSpec:
    access_token: str = "access_token"
    refresh_token: str = "refresh_token"
    expires_in: str = "expires_in"
    expires_at: str | None = None
    scope: str = "scope"
    scope_separator: str = " "
    zero_expires_in_means_never: bool = False
    error_flag: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    token_type: str = "Bearer"  # the type the response must name (case-insensitive)
    token_type_optional: bool = False  # the provider sends no token_type (Shopify)


@dataclass(frozen=True)
class MetadataRequest:
    url: str
    extract: dict[str, str]
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    required: bool = True


@dataclass(frozen=True)
class OAuth2Spec:
    authorize_url: str
    token_url: str
    issuer: str | None = None
    revocation_url: str | None = None  # RFC 7009; the client authenticates there as at the token endpoint
    token_auth_method: str = "client_secret_post"
    token_request_format: str = "form"
    token_accept: str = "application/json"
    pkce: bool = False
    scope_param: str = "scope"
    scope_separator: str | None = " "
    default_scopes: tuple[str, ...] = ()
    authorize_params: dict[str, str] = field(default_factory=dict)
    token_params: dict[str, str] = field(default_factory=dict)
    refresh: bool = True
    callback_method: str = "GET"
    variables: tuple[Variable, ...] = ()
    token_response: TokenResponseSpec = field(default_factory=TokenResponseSpec)
    metadata_requests: tuple[MetadataRequest, ...] = ()


@dataclass(frozen=True)
class VerifyRequest:
    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    ok_status: tuple[int, ...] = (200,)


@dataclass(frozen=True)
class OAuth1Spec:
    request_token_url: str
    authorize_url: str
    access_token_url: str
    authorize_params: dict[str, str] = field(default_factory=dict)
    scope_param: str = "scope"
    scope_separator: str | None = ","


@dataclass(frozen=True)
class ClientCredentialsSpec:
    token_url: str
    token_auth_method: str = "client_secret_basic"
    scope_separator: str | None = " "
    token_params: dict[str, str] = field(default_factory=dict)
    token_response: TokenResponseSpec = field(default_factory=TokenResponseSpec)


@dataclass(frozen=True)
class ApiSpec:
    """How passthrough reaches the provider's API: the base URL and how the credentials go along.

    Templates take `{names}` from the connection's stored credentials (`access_token`, a form's
    fields) and its metadata (variables such as a shop name, token-response extras such as
    Salesforce's `instance_url`, metadata lookups such as Mailchimp's `dc`)."""

    base_url: str
    source: str  # the provider's documentation of its API base and authentication
    auth: ApiAuthStyleName = "bearer"
    token: str = "{access_token}"  # bearer
    name: str | None = None  # header / query: the header or parameter that carries the credential
    value: str | None = None  # header / query: its value
    username: str = "{username}"  # basic
    password: str = "{password}"  # basic
    headers: dict[str, str] = field(default_factory=dict)  # sent with every call (an API version…)
    hosts: tuple[str, ...] = ()  # when base_url starts with a variable: the host suffixes it may name


DEFAULT_COLOR = "#4b5563"  # an entry's badge colour when it names none


def initials_of(name: str, slug: str) -> str:
    """A monogram's default letters: the first letters of the name's first two words."""
    words = [w for w in name.replace("-", " ").split() if w]
    return "".join(w[0] for w in words[:2]).upper() or slug[:2].upper()


@dataclass(frozen=True)
class Integration:
    slug: str
    name: str
    kind: AuthKindName
    categories: tuple[str, ...]
    docs: str
    scopes: dict[str, tuple[str, ...]]
    description: str = ""
    logo: str | None = None
    logo_source: str | None = None  # simple-icons/<slug> or monogram (server/catalog/logo_art.py)
    monogram: str | None = None
    color: str = DEFAULT_COLOR
    sandbox_only: bool = False
    oauth2: OAuth2Spec | None = None
    oauth1: OAuth1Spec | None = None
    client_credentials: ClientCredentialsSpec | None = None
    fields: tuple[FormField, ...] = ()
    verify: VerifyRequest | None = None
    variables: tuple[Variable, ...] = ()
    api: ApiSpec | None = None
    notes: str = ""
    custom: bool = False
    source: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_oauth2(self) -> bool:
        return self.kind == "oauth2"

    @property
    def is_redirect(self) -> bool:
        """Authorized by sending the end-user to the provider (OAuth 2.0 code or OAuth 1.0a)."""
        return AUTH_KINDS[self.kind].via == "redirect"

    @property
    def is_form(self) -> bool:
        """Authorized by a form the end-user fills in here."""
        return AUTH_KINDS[self.kind].via == "form"

    @property
    def supported_scopes(self) -> tuple[str, ...]:
        return tuple(sorted(self.scopes))

    @property
    def initials(self) -> str:
        return self.monogram or initials_of(self.name, self.slug)

    def summary(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "name": self.name,
            "auth_kind": self.kind,
            "categories": list(self.categories),
            "unified_scopes": list(self.supported_scopes),
            "docs": self.docs,
            "custom": self.custom,
        }
