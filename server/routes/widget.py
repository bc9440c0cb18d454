"""The embed script and the server-side result channel (docs/protocol.md)."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from server.assets import RECHECK_SECONDS, FileAsset, send_asset
from server.crypto import sha256_hex
from server.db import results as result_store
from server.error_responses import json_error
from server.services import services_of

_CHANNEL = re.compile(r"^[A-Za-z0-9_-]{32,128}$")


class EmbedScript:
    """/embed.js from memory (server/assets.py); a rebuild under `make run` is served within a second."""

    def __init__(self, path: Path) -> None:
        self.file = FileAsset(path, "application/javascript", _EMBED_HEADERS, recheck_after=RECHECK_SECONDS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        asset = self.file.current()
        if asset is None:
            await _NOT_BUILT(scope, receive, send)
            return
        await send_asset(asset, scope, send)


_EMBED_HEADERS = [
    (b"cache-control", b"public, max-age=300"),
    (b"access-control-allow-origin", b"*"),
    (b"cross-origin-resource-policy", b"cross-origin"),
    (b"x-content-type-options", b"nosniff"),
]
_NOT_BUILT = Response(
    "/* Latchkey: the embed script is not built. Run `make widget` (npm install && npm run build in widget/). */\n",
    status_code=503,
    media_type="application/javascript",
)


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
