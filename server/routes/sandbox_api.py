"""The sandbox provider's data API: a small synthetic CRM behind its expiring sandbox tokens.

What a sandbox connection's passthrough reaches (`{base_url}/sandbox/api/{path}` with the
connection's access token), so a host can try API calls with nothing real behind them. It answers
as a provider does, not as Latchkey's own API: errors are `{"error": code, "error_description":
message}` like the sandbox token endpoint's, a bad token is a 401 with an RFC 6750 challenge, and
every path answers its other methods 405 itself (with `Allow`) rather than through the app's error
pages. The data comes from server/sandbox/data.py; nothing is stored, not even a created contact.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from server.db.clock import utcnow
from server.errors import InvalidRequest
from server.sandbox import data
from server.sandbox.tokens import account_of_access_token
from server.services import services_of
from server.text import check_json

Handler = Callable[[Request, str], Awaitable[Response]]  # (request, the token's account) → response

_NO_STORE = {"Cache-Control": "no-store"}


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={**_NO_STORE, **(headers or {})})


def _error(
    status: int, error: str, description: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return _json({"error": error, "error_description": description, **extra}, status, headers)


def _unauthorized(description: str) -> JSONResponse:
    # RFC 6750 §3: the challenge names the error; the description is plain ASCII without quotes.
    challenge = f'Bearer error="invalid_token", error_description="{description}"'
    return _error(401, "invalid_token", description, {"WWW-Authenticate": challenge})


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _account(request: Request) -> str | Response:
    token = _bearer(request)
    if token is None:
        return _unauthorized("A bearer access token is required.")
    account = account_of_access_token(services_of(request).signer, token)
    if account is None:
        return _unauthorized("The access token is invalid or has expired.")
    return account


class _Resource:
    """One path: its handler for each method. Another method is a 405 (before the token is read);
    every handler runs only with a valid access token."""

    def __init__(self, handlers: dict[str, Handler], *, any_method: Handler | None = None) -> None:
        self.handlers = {**handlers, "HEAD": handlers["GET"]} if "GET" in handlers else dict(handlers)
        self.any_method = any_method
        self.allow = ", ".join(sorted(self.handlers))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self._respond(request)
        await response(scope, receive, send)

    async def _respond(self, request: Request) -> Response:
        handler = self.handlers.get(request.method, self.any_method)
        if handler is None:
            return _error(405, "method_not_allowed", f"{request.method} is not allowed here.", {"Allow": self.allow})
        account = _account(request)
        if isinstance(account, Response):
            return account
        return await handler(request, account)


async def me(request: Request, account: str) -> Response:
    return _json(dict(data.dataset(account).account))


def _list(collection: str) -> Handler:
    async def list_records(request: Request, account: str) -> Response:
        records = data.dataset(account).collection(collection)
        assert records is not None
        query = request.query_params
        try:
            return _json(data.page(records, data.parse_limit(query.get("limit")), query.get("cursor")))
        except data.PagingError as exc:
            return _error(400, "invalid_request", str(exc))

    return list_records


def _get(collection: str) -> Handler:
    async def get_record(request: Request, account: str) -> Response:
        records = data.dataset(account).collection(collection)
        assert records is not None
        record_id = request.path_params["record_id"]
        record = data.find(records, record_id)
        if record is None:
            return _error(404, "not_found", f"No {collection} record {record_id[:64]!r} in this account.")
        return _json(record)

    return get_record


async def create_contact(request: Request, account: str) -> Response:
    """201 with the contact a real API would create; it is not stored (a GET of it is a 404)."""
    try:
        body = json.loads(await request.body())
        if not isinstance(body, dict):
            raise InvalidRequest("The request body must be a JSON object.")
        check_json(body)
    except (ValueError, RecursionError):
        return _error(400, "invalid_request", "The request body is not valid JSON.")
    except InvalidRequest as exc:
        return _error(400, "invalid_request", exc.message)
    try:
        contact = data.new_contact(body, utcnow())
    except data.ContactInvalid as exc:
        return _error(422, "invalid_fields", "The contact is not valid.", fields=exc.fields)
    location = f"{services_of(request).settings.base_url}/sandbox/api/crm/contacts/{contact['id']}"
    return _json(contact, 201, {"Location": location})


async def not_found(request: Request, account: str) -> Response:
    return _error(404, "not_found", "There is no such endpoint in the sandbox API.")


routes = [
    Route("/sandbox/api/me", _Resource({"GET": me}), name="sandbox_api_me"),
    Route(
        "/sandbox/api/crm/contacts",
        _Resource({"GET": _list("contacts"), "POST": create_contact}),
        name="sandbox_api_contacts",
    ),
    Route("/sandbox/api/crm/companies", _Resource({"GET": _list("companies")}), name="sandbox_api_companies"),
    Route("/sandbox/api/crm/deals", _Resource({"GET": _list("deals")}), name="sandbox_api_deals"),
    *(
        Route(
            f"/sandbox/api/crm/{collection}/{{record_id}}",
            _Resource({"GET": _get(collection)}),
            name=f"sandbox_api_{collection}_record",
        )
        for collection in data.COLLECTIONS
    ),
    # Last: any other path under /sandbox/api is the provider's own JSON 404 (after the token check).
    Route("/sandbox/api/{path:path}", _Resource({}, any_method=not_found), name="sandbox_api_not_found"),
]
