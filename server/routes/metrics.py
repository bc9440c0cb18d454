"""`GET /metrics` (Bearer LATCHKEY_METRICS_TOKEN), or the same text on a port of its own
(LATCHKEY_METRICS_PORT, bound by whichever worker process gets it first: the samples of every
process are read from the shared multiprocess directory either way)."""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import Response

from server import metrics
from server.crypto import constant_time_equal
from server.db import webhooks as webhook_store
from server.db.clock import utcnow
from server.errors import NotFound, Unauthorized
from server.services import Services, services_of
from server.throttle import limit

logger = logging.getLogger("latchkey.metrics")
_HEAD_LIMIT = 16_384


async def scrape(services: Services) -> bytes:
    backlog, oldest_due = await webhook_store.outbox_state(services.db, now=utcnow())
    return metrics.exposition(backlog, oldest_due)


async def metrics_endpoint(request: Request) -> Response:
    services = services_of(request)
    token = services.settings.metrics_token
    if token is None:
        raise NotFound("Metrics are not served here (LATCHKEY_METRICS_TOKEN is not set).")
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not constant_time_equal(sent.strip(), token):
        await limit(request, "api_auth_failure")
        raise Unauthorized("Send LATCHKEY_METRICS_TOKEN as 'Authorization: Bearer …'.", invalid_token=bool(sent))
    return Response(await scrape(services), media_type=metrics.CONTENT_TYPE, headers={"Cache-Control": "no-store"})


async def serve_port(services: Services, host: str, port: int) -> asyncio.Server | None:
    """A minimal HTTP/1.1 server answering `GET /metrics` on `port`; None when another process has it."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            line = head[:_HEAD_LIMIT].split(b"\r\n", 1)[0].split(b" ")
            if len(line) == 3 and line[0] in (b"GET", b"HEAD") and line[1].split(b"?")[0] == b"/metrics":
                body, status = await scrape(services), b"200 OK"
                kind = metrics.CONTENT_TYPE.encode()
            else:
                body, status, kind = b"not found\n", b"404 Not Found", b"text/plain"
            writer.write(
                b"HTTP/1.1 "
                + status
                + b"\r\nContent-Type: "
                + kind
                + b"\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + (body if line[0] != b"HEAD" else b"")
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    try:
        return await asyncio.start_server(answer, host, port, limit=_HEAD_LIMIT)
    except OSError as exc:
        logger.debug("the metrics port %s:%d is another process's (%s)", host, port, exc)
        return None
