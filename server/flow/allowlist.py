"""Exact allowlists for host origins and success / failure URLs.

An origin matches only an identical (normalised) origin. A URL matches an entry with the same
scheme, host and port when the paths are equal, or when the entry's path ends with "/" and the
URL's path continues it (a prefix only on whole path segments). The URL may add a query string;
fragments and credentials in URLs are refused.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST = re.compile(r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]*[a-z0-9])?$|^[0-9a-f:.]+$")


def normalise_origin(value: str | None) -> str | None:
    if not value:
        return None
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    host = parts.hostname.lower()
    if not _HOST.match(host):
        return None
    if ":" in host:
        host = f"[{host}]"
    if port and port != _DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}:{port}"
    return f"{parts.scheme}://{host}"


def origin_allowed(origin: str | None, allowed: tuple[str, ...] | list[str]) -> bool:
    normal = normalise_origin(origin)
    return normal is not None and normal in {normalise_origin(a) for a in allowed}


def _split(url: str) -> tuple[str, str, int | None, str, str] | None:
    try:
        parts = urlsplit(url.strip())
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username or parts.password or parts.fragment:
        return None
    if not _HOST.match(parts.hostname.lower()):
        return None
    if any(c in url for c in "\\\r\n\t "):
        return None
    return parts.scheme, parts.hostname.lower(), port, parts.path or "/", parts.query


def url_allowed(url: str | None, allowed: tuple[str, ...] | list[str]) -> bool:
    if not url:
        return False
    target = _split(url)
    if target is None:
        return False
    scheme, host, port, path, _query = target
    for entry in allowed:
        rule = _split(entry)
        if rule is None:
            continue
        r_scheme, r_host, r_port, r_path, r_query = rule
        if (scheme, host, port) != (r_scheme, r_host, r_port) or r_query:
            continue
        continues = path == r_path or (r_path.endswith("/") and path.startswith(r_path))
        # Browsers read %2e%2e (and .%2e, %2e.) as "..": decode before looking for dot segments.
        if continues and not any(segment in (".", "..") for segment in unquote(path).split("/")):
            return True
    return False


def valid_allowlist_entry(value: str, *, kind: str) -> bool:
    if kind == "origin":
        return normalise_origin(value) is not None
    parts = _split(value)
    return parts is not None and not parts[4]  # a redirect URL entry carries no query
