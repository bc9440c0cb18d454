"""The one place that turns errors into a page, a failure redirect or a JSON body."""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
from collections.abc import Mapping
from typing import Any

import asyncpg
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ExceptionHandler

from server.db.database import database_unavailable
from server.error_texts import end_user_text
from server.errors import ErrorCodeName, LatchkeyError, RateLimited, ServiceUnavailable, Unauthorized
from server.flow.context import THEMES
from server.flow.opening import ACCENT, MAX_HOST_STATE, Audience
from server.flow.result import opening_failed
from server.i18n import requested_lang
from server.pages import render

logger = logging.getLogger("latchkey.errors")

# A database fault passes (a lock is released, the server comes back): clients retry after this.
RETRY_AFTER_SECONDS = 5

_HTTP_CODES: dict[int, ErrorCodeName] = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "rate_limited",
}


def wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/widget/", "/passthrough/"))


def json_error(code: ErrorCodeName, message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def error_page(
    request: Request, code: ErrorCodeName, message: str, status: int, *, audience: Audience | None = None
) -> Response:
    """An error page in the `lang` and `theme` the request asks for (else the browser's language).

    With an audience, the page also posts `connection.failed` to that origin (its opener, or its
    parent in inline mode, which alone may frame it)."""
    params = request.query_params
    theme, accent = params.get("theme"), (params.get("accent") or "").lstrip("#")
    mode = params.get("mode") or "popup"
    context: dict[str, Any] = {
        "error_code": code,
        "error_text": end_user_text(code),
        "error_message": message,
        "lang": requested_lang(params.get("lang")) or "",
        "theme": theme if theme in THEMES else "auto",
        "accent": accent if ACCENT.match(accent) else None,
        "payload_json": "",
        "host_origin": "",
        "mode": mode,
    }
    if audience is not None:
        origin, nonce = audience
        state = params.get("state")
        state = state if state and len(state) <= MAX_HOST_STATE else None
        context.update(
            payload_json=json.dumps(opening_failed(nonce, state, code, message)),
            host_origin=origin,
        )
    frame_ancestors = (audience[0],) if audience is not None and mode == "inline" else ()
    return render(request, "error.html", context, status=status, frame_ancestors=frame_ancestors)


def respond(request: Request, error: LatchkeyError, *, audience: Audience | None = None) -> Response:
    if wants_json(request):
        response: Response = json_error(error.code, error.message, error.status)
    else:
        response = error_page(request, error.code, error.message, error.status, audience=audience)
    if error.status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, Unauthorized):
        response.headers["WWW-Authenticate"] = error.challenge
    return response


async def handle_latchkey_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LatchkeyError)
    if exc.status >= 500:
        logger.error("%s %s failed: %s (%s)", request.method, request.url.path, exc.code, exc.message)
    return respond(request, exc)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code: ErrorCodeName = _HTTP_CODES.get(exc.status_code, "invalid_request")
    message = exc.detail if isinstance(exc.detail, str) else code
    if wants_json(request):
        return json_error(code, message, exc.status_code)
    return error_page(request, code, message, exc.status_code)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    message = "Something went wrong on our side. Nothing was saved; please try again."
    if wants_json(request):
        return json_error("server_error", message, 500)
    return error_page(request, "server_error", message, 500)


async def handle_database_fault(request: Request, exc: Exception) -> Response:
    """A database that is unavailable for a moment is a 503 to retry; any other fault stays a 500."""
    if not database_unavailable(exc):
        return await handle_unexpected(request, exc)
    logger.warning("%s %s: the database is unavailable: %r", request.method, request.url.path, exc)
    return respond(
        request, ServiceUnavailable("The service is unavailable for a moment. Nothing was saved; please retry shortly.")
    )


# What the database drivers raise when the database is out of reach (see database_unavailable).
_DATABASE_FAULTS = (
    sqlite3.OperationalError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    ConnectionError,
    TimeoutError,
    socket.gaierror,
)

EXCEPTION_HANDLERS: Mapping[Any, ExceptionHandler] = {
    **dict.fromkeys(_DATABASE_FAULTS, handle_database_fault),
    LatchkeyError: handle_latchkey_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
