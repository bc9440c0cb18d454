"""`/api/v1/passthrough/{connection_id}/{path}` (and Unified.to's `/passthrough/…`): thin glue over
server/passthrough/ — the host's request in, the provider's answer streamed back."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from server.api.auth import authenticate
from server.errors import NotFound
from server.middleware import LOG_PATH
from server.passthrough.forward import Call, Interrupted, Relayed, forward
from server.services import services_of

logger = logging.getLogger("latchkey.passthrough")

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
_MARK = "/passthrough/"


def split_raw_path(scope: Scope) -> tuple[str, str]:
    """(connection ID, the provider path as sent) from the raw request path: percent-encoding kept."""
    raw = scope.get("raw_path") or scope["path"].encode()
    text = raw.decode("latin-1")
    rest = text[text.index(_MARK) + len(_MARK) :]
    connection_id, _, path = rest.partition("/")
    return connection_id, path


class RelayedResponse(StreamingResponse):
    """The provider's answer. Cut off after it began (deadline, size cap), it stays incomplete: the
    server closes the connection rather than end a truncated body as if it were whole."""

    def __init__(self, relayed: Relayed) -> None:
        super().__init__(relayed.body, status_code=relayed.status)
        self.relayed = relayed
        self.raw_headers = _raw(relayed.headers)

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        try:
            async for chunk in self.body_iterator:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except Interrupted as exc:
            logger.warning(
                "passthrough to %s (connection %s) cut off: %s",
                self.relayed.integration,
                self.relayed.connection.id,
                exc,
            )
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.relayed.aclose()


async def _stream(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk


async def passthrough(request: Request) -> Response:
    env = await authenticate(request)
    connection_id, path = split_raw_path(request.scope)
    if not connection_id:
        raise NotFound("No connection ID in the passthrough path.")
    _log_as(request, connection_id)
    length = request.headers.get("content-length")
    call = Call(
        method=request.method,
        path=path,
        query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=list(request.headers.items()),
        body=_stream(request),
        content_length=int(length) if length is not None and length.isdigit() else None,
        chunked="chunked" in request.headers.get("transfer-encoding", "").lower(),
    )
    relayed = await forward(services_of(request), env, connection_id, call)
    _log_as(request, connection_id, relayed.integration)
    if relayed.content is not None:
        await relayed.aclose()
        whole = Response(relayed.content, status_code=relayed.status)
        whole.raw_headers = _raw(relayed.headers)  # the provider's own Content-Length, for these very bytes
        return whole
    return RelayedResponse(relayed)


def _log_as(request: Request, connection_id: str, integration: str | None = None) -> None:
    """What the access log prints for this call: the route, the connection, its integration — never
    the provider path, which can carry personal data."""
    prefix = request.scope["path"].split(_MARK)[0]
    request.scope[LOG_PATH] = f"{prefix}{_MARK}{connection_id}/…" + (f" ({integration})" if integration else "")


def _raw(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
