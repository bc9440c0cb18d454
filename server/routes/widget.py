"""The embed script and the server-side result channel (docs/protocol.md)."""

from __future__ import annotations

import hashlib
import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.crypto import sha256_hex
from server.db import results as result_store
from server.error_responses import json_error
from server.services import services_of

_CHANNEL = re.compile(r"^[A-Za-z0-9_-]{32,128}$")


async def embed_js(request: Request) -> Response:
    settings = services_of(request).settings
    path = settings.widget_dist / "embed.js"
    if not path.is_file():
        return Response(
            "/* Latchkey: the embed script is not built. Run `make widget` (npm install && npm run build in widget/). */\n",
            status_code=503,
            media_type="application/javascript",
        )
    body = path.read_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": "public, max-age=300",
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/javascript", headers=headers)


async def result_channel(request: Request) -> Response:
    channel = request.query_params.get("channel", "")
    if not _CHANNEL.match(channel):
        return json_error("invalid_request", "channel must be 32–128 URL-safe characters.", 400)
    services = services_of(request)
    stored = await result_store.fetch_result(services.db, sha256_hex(channel))
    request_origin = request.headers.get("origin")
    headers = {"Cache-Control": "no-store", "Vary": "Origin"}
    if stored is None or not stored.done:
        # Nothing to leak while pending; any page holding the channel secret may ask.
        if request_origin:
            headers["Access-Control-Allow-Origin"] = request_origin
        return JSONResponse({"status": "pending", "started": stored is not None}, headers=headers)
    if stored.host_origin and request_origin == stored.host_origin:
        headers["Access-Control-Allow-Origin"] = stored.host_origin
    return JSONResponse({"status": "done", "message": stored.message}, headers=headers)
