"""Which webhook URLs Latchkey will send to (SSRF defence; the address rule is server/addresses.py).

An endpoint URL is https, or http to a loopback address when `webhook_allow_loopback` is on
(local development and tests). Literal addresses are checked when the endpoint is created; every
address a host name resolves to is checked again when the delivery connects
(server/lifecycle/webhook_http.py), so a name that later resolves to a private address is refused.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from server.addresses import address_allowed, literal_address, unmapped
from server.errors import InvalidRequest

MAX_URL_LENGTH = 2048
_LOOPBACK_NAMES = ("localhost",)


def _is_loopback_name(host: str) -> bool:
    return host in _LOOPBACK_NAMES or host.endswith(".localhost")


def check_webhook_url(url: object, *, allow_loopback: bool) -> str:
    """The URL if Latchkey may deliver to it, else InvalidRequest saying why."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise InvalidRequest(f"url must be a string of at most {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise InvalidRequest("url is not a valid URL.") from exc
    if parts.scheme not in ("https", "http") or not host:
        raise InvalidRequest("url must be an https:// URL.")
    if parts.username is not None or parts.password is not None:
        raise InvalidRequest("url must not carry a user name or password.")
    if parts.fragment:
        raise InvalidRequest("url must not have a #fragment.")
    # Judged as what a resolver makes of it: 2130706433, 0x7f.0.0.1 and 0177.0.0.1 are 127.0.0.1.
    literal = literal_address(host)
    loopback = _is_loopback_name(host) or (literal is not None and unmapped(literal).is_loopback)
    if loopback and not allow_loopback:
        raise InvalidRequest("url points at this machine (loopback), which is refused.")
    if literal is not None and not address_allowed(literal, allow_loopback=allow_loopback):
        raise InvalidRequest("url points at a private or reserved network address, which is refused.")
    if parts.scheme == "http" and not loopback:
        raise InvalidRequest("url must be an https:// URL (plain http is allowed only to loopback in development).")
    return url
