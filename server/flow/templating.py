"""Substituting template variables (a shop name, a data centre) into provider URLs safely.

A value must fully match its pattern, use only host-safe characters, and the resulting URL must
keep the template's fixed host suffix: a shop name can never point a URL at another host.
"""

from __future__ import annotations

import re
import string
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

from server.catalog.models import Variable
from server.errors import VariableInvalid

HOST_SAFE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,250}[A-Za-z0-9])?$")


def placeholders(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def check_variable(variable: Variable, value: str | None) -> str:
    if value is None or value == "":
        if variable.default is not None:
            return variable.default
        raise VariableInvalid(f"{variable.label} is required.", variable=variable.name, problem="required")
    value = value.strip()
    if variable.allowed:
        if variable.source == "callback" and value.startswith("https://") and value not in variable.allowed:
            # A provider may send an origin (https://accounts.zoho.eu) where we list hosts.
            parts = urlsplit(value)
            if parts.path in ("", "/") and not parts.query and parts.hostname:
                value = parts.hostname
        if value not in variable.allowed:
            raise VariableInvalid(
                f"{variable.label} {value!r} is not one of the allowed values.", variable=variable.name
            )
        return value
    if not re.fullmatch(variable.pattern, value) or not HOST_SAFE.match(value) or ".." in value:
        raise VariableInvalid(f"{variable.label} {value!r} is not valid.", variable=variable.name)
    return value


def render_url(template: str, values: dict[str, str]) -> str:
    names = placeholders(template)
    if not names:
        return template
    url = template.format(**{n: values[n] for n in names})
    if any(c in url for c in "\\ \t\r\n") or "@" in urlsplit(url).netloc:
        # Browsers read "\" as "/" and "user@host" as another host: never let a value carry them.
        raise VariableInvalid("A template variable produced an invalid URL.")
    host_template = urlsplit(template).netloc if not template.startswith("{") else ""
    actual = urlsplit(url)
    if actual.scheme not in ("https", "http") or not actual.hostname:
        raise VariableInvalid("A template variable produced an invalid URL.")
    if host_template and "{" in host_template:
        suffix = host_template.rsplit("}", 1)[1]
        if suffix and not actual.netloc.endswith(suffix):
            raise VariableInvalid("A template variable tried to change the provider's host.")
    return url


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch  # RFC 3986 §2.3: never escaped


def encode_query(params: dict[str, str]) -> str:
    """`urlencode(params)`, the same bytes, with no escaping pass over what needs none (a state,
    a client ID, a code challenge): a start's authorization URL is encoded on every flow."""
    return "&".join(
        f"{k if _UNRESERVED(k) else quote_plus(k)}={v if _UNRESERVED(v) else quote_plus(v)}" for k, v in params.items()
    )


def with_params(url: str, params: dict[str, str]) -> str:
    """`url` with `params` added to its query (the ones it already has are kept, first)."""
    if "?" not in url and "#" not in url:  # the common case: nothing to keep, nothing to parse
        return f"{url}?{encode_query(params)}"
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))
