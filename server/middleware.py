"""The one ASGI layer around every request: an access log without query strings, the body size
limit, the character rule for every path, query string and form (server/text.py), and default
security headers.

One layer, not four: each pure-ASGI layer costs a call, a closure and a wrapped `send` on every
request — the four layers this replaces cost 6.9 µs a request, this one 2.8 µs (called in-process
with a browser's headers), against about 10 µs for all of a file served from memory
(server/assets.py). So the four concerns are functions, run by one `__call__` with one wrapped
`send`.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Iterable
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server import metrics
from server.error_responses import respond
from server.errors import InvalidRequest
from server.logs import REQUEST_ID
from server.proxies import TrustedProxies
from server.text import check_pairs, check_text

access_logger = logging.getLogger("latchkey.access")

RawHeaders = list[tuple[bytes, bytes]]

_FORM = b"application/x-www-form-urlencoded"
PASSTHROUGH_PREFIXES = ("/api/v1/passthrough/", "/passthrough/")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
LOG_PATH = "latchkey.log_path"  # a route's own account of its path for the access log (passthrough)
_TOO_LARGE = b'{"error": {"code": "payload_too_large", "message": "The request body is too large."}}'


class EdgeMiddleware:
    """Logs, limits, checks and secures each HTTP request; other scopes pass through untouched."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        passthrough_max_bytes: int | None = None,
        proxies: TrustedProxies | None = None,
        route_templates: dict[int, str] | None = None,
    ) -> None:
        self.app = app
        self.route_templates = route_templates or {}
        self.max_body_bytes = max_body_bytes
        self.passthrough_max_bytes = passthrough_max_bytes or max_body_bytes
        self.proxies = proxies or TrustedProxies(())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        # The client address and scheme, from a trusted proxy's headers: read once, here, by everything.
        trusted = self.proxies.apply(scope) if self.proxies else False
        request_id = request_id_of(scope, trusted)
        id_header = (b"x-request-id", request_id.encode())
        reset = REQUEST_ID.set(request_id)

        async def send_secured(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*with_security_headers(message.get("headers", [])), id_header]
            await send(message)

        try:
            await self._guarded(scope, receive, send_secured)
        finally:
            log_access(scope, status, start)
            if metrics.enabled():
                route = self.route_templates.get(id(scope.get("route")), metrics.UNMATCHED)
                metrics.request(route, scope["method"], status, time.perf_counter() - start)
            REQUEST_ID.reset(reset)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        content_length, content_type = declared_body(scope.get("headers", []))
        # A passthrough body is the host's message to a provider: a cap of its own, and not read here.
        passthrough = scope["path"].startswith(PASSTHROUGH_PREFIXES)
        max_bytes = self.passthrough_max_bytes if passthrough else self.max_body_bytes
        if content_length is not None and content_length > max_bytes:
            await send_too_large(send)
            return
        limited = limited_receive(receive, max_bytes)
        try:
            try:
                check_url_text(scope)
                replay = await checked_form(limited) if content_type == _FORM and not passthrough else limited
            except InvalidRequest as exc:
                await respond(Request(scope), exc)(scope, limited, send)
                return
            await self.app(scope, replay, send)
        except BodyTooLarge:
            await send_too_large(send)


def route_templates(routes: Iterable[BaseRoute], prefix: str = "") -> dict[int, str]:
    """Each route's full path template ({id}, never a value), by the route object the router puts in
    the scope: the only route label /metrics uses."""
    found: dict[int, str] = {}
    for route in routes:
        path = prefix + getattr(route, "path", "")
        if isinstance(route, Mount):
            found.update(route_templates(route.routes, path))
        found[id(route)] = re.sub(r":\w+}", "}", path)
    return found


def request_id_of(scope: Scope, trusted: bool) -> str:
    """A trusted proxy's X-Request-ID (so one ID follows the request through both logs), else a new one."""
    if trusted:
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                text: str = value.decode("latin-1")
                if _REQUEST_ID.fullmatch(text):
                    return text
    return secrets.token_hex(8)


def log_access(scope: Scope, status: int, start: float) -> None:
    """Method, path, status, duration, and the client and scheme (a trusted proxy's, server/proxies.py).
    Query strings carry codes and states: never logged."""
    if not access_logger.isEnabledFor(logging.INFO):
        return
    path = scope.get(LOG_PATH) or scope["path"]
    if path.startswith(PASSTHROUGH_PREFIXES) and LOG_PATH not in scope:
        path = path.split("/passthrough/")[0] + "/passthrough/…"  # a provider path can carry personal data
    client = scope.get("client")
    access_logger.info(
        "%s %s %d %.1fms from %s over %s",
        scope["method"],
        path,
        status,
        (time.perf_counter() - start) * 1000,
        client[0] if client else "unknown",
        scope.get("scheme", "http"),
    )


def with_security_headers(headers: RawHeaders) -> RawHeaders:
    """`headers` with nosniff, no-referrer and, for an HTML page without its own, a strict CSP.

    A new list when something is added: a response may send the same list on every request.
    """
    sniff = referrer = csp = html = False
    for name, value in headers:
        if name == b"x-content-type-options":
            sniff = True
        elif name == b"referrer-policy":
            referrer = True
        elif name == b"content-security-policy":
            csp = True
        elif name == b"content-type":
            html = value.startswith(b"text/html")
    if sniff and referrer and (csp or not html):
        return headers
    added = [] if sniff else [(b"x-content-type-options", b"nosniff")]
    if not referrer:
        added.append((b"referrer-policy", b"no-referrer"))
    if html and not csp:
        added.append((b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"))
    return [*headers, *added]


def declared_body(headers: RawHeaders) -> tuple[int | None, bytes]:
    """The Content-Length a request declares (None without one) and its media type, lowercased."""
    length = None
    media_type = b""
    for name, value in headers:
        if name == b"content-length" and value.isdigit():
            length = int(value)
        elif name == b"content-type":
            media_type = value.split(b";")[0].strip().lower()
    return length, media_type


class BodyTooLarge(Exception):
    """A body read past the limit: raised from `receive`, answered 413 by the middleware."""


def limited_receive(receive: Receive, max_bytes: int) -> Receive:
    """`receive` that raises BodyTooLarge once the body passes `max_bytes`, Content-Length or not."""
    seen = 0

    async def limited() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > max_bytes:
                raise BodyTooLarge()
        return message

    return limited


async def send_too_large(send: Send) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(_TOO_LARGE)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": _TOO_LARGE})


# A query of printable ASCII without a percent escape decodes to printable ASCII: nothing to refuse,
# so it is not parsed here (a start link's query is one signed token; the route parses it anyway).
_PRINTABLE_ASCII = re.compile(rb"[\x20-\x7e]*").fullmatch


def check_url_text(scope: Scope) -> None:
    """Refuses a path or query string whose text is not clean UTF-8 without control characters.

    Starlette would decode bad UTF-8 with replacement characters (a silently different value) and
    hand NUL on to the database; here the request is answered 400 invalid_request — a page with
    its data-error-code for a browser, JSON for the API — before any route reads it. Forms are
    checked by checked_form, JSON bodies where they are parsed (server/api/validation.py).
    """
    check_text(scope["path"], "The path")
    query = scope.get("query_string", b"")
    if query and not (b"%" not in query and _PRINTABLE_ASCII(query)):
        check_pairs(_pairs(query), "query")


async def checked_form(receive: Receive) -> Receive:
    """Refuses a url-encoded form as check_url_text refuses a query; the route reads the body again."""
    body, replay = await _buffered(receive)
    check_pairs(_pairs(body), "form")
    return replay


def _pairs(encoded: bytes) -> list[tuple[str, str]]:
    try:
        return parse_qsl(encoded.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        raise InvalidRequest("The request carries text that is not valid UTF-8.") from exc


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body (read through the size limit), and a receive that hands it on again."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
