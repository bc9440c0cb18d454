"""Where a passthrough call goes and what it carries: the catalog's `api` block applied to one connection.

The base URL's host is fixed by the catalog and the connection's stored values, never by the
request. A value substituted into the base URL must be one URL-safe token (a shop name, a data
centre, a cloud id) — or, for a base URL that starts with a variable (Salesforce's
`instance_url`), an https origin on one of the hosts the entry lists. The result still passes
`render_url`'s guard: the template's fixed host suffix stays.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit

from server.catalog.models import ApiSpec, Integration
from server.errors import Conflict, VariableInvalid
from server.flow.oauth1 import signed_api_header
from server.flow.templating import placeholders, render_url

_TOKEN = re.compile(r"[A-Za-z0-9._~-]{1,200}")


class ConnectionIncomplete(Conflict):
    """The connection lacks a value its integration's API base URL or credentials need."""


@dataclass(frozen=True)
class Target:
    """The provider URL (credentials in its query where the API wants them) and the headers to add."""

    url: str
    headers: dict[str, str]  # the integration's fixed headers (an API version): a host's own value wins
    credential: tuple[str, str] | None  # the header that carries the credential: the host never sets it
    typed_host: bool  # the host comes from the end-user's or provider's values: connect only to public addresses


@dataclass(frozen=True)
class Consumer:
    """An OAuth 1.0a integration's consumer key and secret (the workspace's activation)."""

    key: str
    secret: str


def _fill(template: str, values: dict[str, str], what: str) -> str:
    missing = [name for name in placeholders(template) if name not in values]
    if missing:
        raise ConnectionIncomplete(f"The connection has no {missing[0]!r}, which its {what} needs; re-authorize it.")
    return template.format(**values)


def _origin(value: str, hosts: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    host = parts.hostname or ""
    if (
        parts.scheme != "https"
        or parts.username is not None
        or parts.password is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or not any(host == h or host.endswith("." + h) for h in hosts)
    ):
        raise ConnectionIncomplete("The connection's API origin is not one of the hosts its integration allows.")
    return f"https://{parts.netloc}"


def base_url(api: ApiSpec, metadata: dict[str, Any]) -> str:
    """The integration's API base for this connection, its host guarded."""
    template = api.base_url
    values: dict[str, str] = {}
    for index, name in enumerate(placeholders(template)):
        raw = metadata.get(name)
        if raw is None or raw == "":
            raise ConnectionIncomplete(
                f"The connection has no {name!r}, which its API base URL needs; re-authorize it."
            )
        value = str(raw)
        if index == 0 and template.startswith("{"):
            values[name] = _origin(value, api.hosts)
        elif _TOKEN.fullmatch(value) and value not in (".", ".."):
            values[name] = value
        else:
            raise ConnectionIncomplete(f"The connection's {name!r} cannot be part of a URL.")
    try:
        return render_url(template, values)
    except VariableInvalid as exc:
        raise ConnectionIncomplete(f"The connection's API base URL cannot be built: {exc.message}") from exc


def typed_host(api: ApiSpec) -> bool:
    """Whether the base URL's host is made of stored values rather than fixed by the catalog."""
    if api.base_url.startswith("{"):
        return True
    return "{" in urlsplit(api.base_url).netloc


def credential_values(credentials: dict[str, Any], metadata: dict[str, Any]) -> dict[str, str]:
    """What the `api` block's credential templates may name: metadata, a form's fields, the token."""
    values = {k: str(v) for k, v in metadata.items() if isinstance(v, (str, int, float))}
    fields = credentials.get("fields")
    if isinstance(fields, dict):
        values.update({k: str(v) for k, v in fields.items()})
    if isinstance(credentials.get("access_token"), str):
        values["access_token"] = credentials["access_token"]
    return values


def _without_param(query: str, name: str) -> str:
    """`query` (as sent) without any `name=` pair: the host cannot override the credential."""
    kept = [pair for pair in query.split("&") if pair and unquote_plus(pair.split("=", 1)[0]) != name]
    return "&".join(kept)


def build(
    integration: Integration,
    *,
    base: str,
    path: str,
    query: str,
    method: str,
    credentials: dict[str, Any],
    metadata: dict[str, Any],
    consumer: Consumer | None = None,
    form_body: bytes = b"",
) -> Target:
    """The target of one call: `base` + `path` + `query`, with the credentials where `api` says."""
    api = integration.api
    assert api is not None
    values = credential_values(credentials, metadata)
    headers = {name: _fill(value, values, f"{name} header") for name, value in api.headers.items()}
    if api.auth == "query":
        assert api.name is not None and api.value is not None
        query = _without_param(query, api.name)
        pair = f"{quote(api.name, safe='')}={quote(_fill(api.value, values, 'API credential'), safe='')}"
        query = f"{query}&{pair}" if query else pair
    url = f"{base}/{path}" + (f"?{query}" if query else "")
    credential: tuple[str, str] | None = None
    if api.auth == "bearer":
        credential = ("Authorization", "Bearer " + _fill(api.token, values, "API token"))
    elif api.auth == "basic":
        user = f"{_fill(api.username, values, 'API user name')}:{_fill(api.password, values, 'API password')}"
        credential = ("Authorization", "Basic " + base64.b64encode(user.encode()).decode())
    elif api.auth == "header":
        assert api.name is not None and api.value is not None
        credential = (api.name, _fill(api.value, values, "API credential"))
    elif api.auth == "oauth1":
        token, secret = credentials.get("oauth_token"), credentials.get("oauth_token_secret")
        if consumer is None or not isinstance(token, str) or not isinstance(secret, str):
            raise ConnectionIncomplete("The connection has no OAuth 1.0a token credentials; re-authorize it.")
        credential = (
            "Authorization",
            signed_api_header(
                method,
                url,
                consumer_key=consumer.key,
                consumer_secret=consumer.secret,
                token=token,
                token_secret=secret,
                form_body=form_body,
            ),
        )
    return Target(url=url, headers=headers, credential=credential, typed_host=typed_host(api))


def sandbox_target(base: str, path: str, query: str, token: str) -> Target:
    """In the sandbox every integration's passthrough reaches the sandbox data API with a sandbox token."""
    url = f"{base}/{path}" + (f"?{query}" if query else "")
    return Target(url=url, headers={}, credential=("Authorization", f"Bearer {token}"), typed_host=False)
