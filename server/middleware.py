"""Pure ASGI middleware: an access log without query strings, default security headers, the body
size limit, and the character rule for every path, query string and form (server/text.py)."""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qsl

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.error_responses import respond
from server.errors import InvalidRequest
from server.text import check_pairs, check_text

access_logger = logging.getLogger("latchkey.access")


class AccessLogMiddleware:
    """Logs method, path and status. Query strings carry codes and states: never logged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            access_logger.info(
                "%s %s %d %.1fms", scope["method"], scope["path"], status, (time.perf_counter() - start) * 1000
            )


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                if "content-security-policy" not in headers and headers.get("content-type", "").startswith("text/html"):
                    headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
            await send(message)

        await self.app(scope, receive, send_wrapper)


class BodySizeLimitMiddleware:
    """Refuses request bodies over `max_bytes` with 413, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await _too_large(send)
                return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await _too_large(send)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send) -> None:
    body = b'{"error": {"code": "payload_too_large", "message": "The request body is too large."}}'
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class TextInputMiddleware:
    """Refuses a path, query string or form whose text is not clean UTF-8 without control characters.

    Starlette would decode bad UTF-8 with replacement characters (a silently different value) and
    hand NUL on to the database; here the request is answered 400 invalid_request — a page with
    its data-error-code for a browser, JSON for the API — before any route reads it. JSON bodies
    are checked where they are parsed (server/api/validation.py).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replay = receive
        try:
            check_text(scope["path"], "The path")
            check_pairs(_pairs(scope.get("query_string", b"")), "query")
            content_type = dict(scope.get("headers", [])).get(b"content-type", b"").split(b";")[0].strip().lower()
            if content_type == b"application/x-www-form-urlencoded":
                body, replay = await _buffered(receive)
                check_pairs(_pairs(body), "form")
        except InvalidRequest as exc:
            await respond(Request(scope), exc)(scope, replay, send)
            return
        await self.app(scope, replay, send)


def _pairs(encoded: bytes) -> list[tuple[str, str]]:
    try:
        return parse_qsl(encoded.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        raise InvalidRequest("The request carries text that is not valid UTF-8.") from exc


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body (the size limit wraps this), and a receive that hands it on again."""
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
