"""The one place that turns errors into a page, a failure redirect or a JSON body."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ExceptionHandler

from server.errors import ErrorCodeName, LatchkeyError
from server.pages import render

logger = logging.getLogger("latchkey.errors")

_HTTP_CODES: dict[int, ErrorCodeName] = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "rate_limited",
}


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path.startswith("/widget/")


def json_error(code: ErrorCodeName, message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def error_page(request: Request, code: ErrorCodeName, message: str, status: int) -> Response:
    return render(request, "error.html", {"error_code": code, "error_message": message}, status=status)


def respond(request: Request, error: LatchkeyError) -> Response:
    if wants_json(request):
        return json_error(error.code, error.message, error.status)
    return error_page(request, error.code, error.message, error.status)


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


EXCEPTION_HANDLERS: Mapping[Any, ExceptionHandler] = {
    LatchkeyError: handle_latchkey_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
