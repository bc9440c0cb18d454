"""Files served from memory: embed.js, /static and the integration logos.

These are the requests every page that embeds Latchkey makes, so each file is read once, hashed
once for a strong ETag, and answered from bytes in memory with headers built once: no thread hop,
no file read, no Response object per request.

A file changed on disk — the widget rebuilt while `make run` runs, a stylesheet edited, a file
swapped for a link — is noticed by an `os.stat`. Our own files (embed.js, /static) are checked at
most once a second (RECHECK_SECONDS): measured with wrk, one stat on every request cost 7-10 % of
a static file's throughput (about 4.5 µs of CPU each), and a rebuild shows within a second all the
same. Logos come from catalog folders an operator supplies and are checked on every request.
"""

from __future__ import annotations

import hashlib
import math
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from time import monotonic

from starlette.types import Scope, Send

from server.middleware import with_security_headers

RawHeaders = list[tuple[bytes, bytes]]
RECHECK_SECONDS = 1.0
Signature = tuple[int, int, int, int]


@dataclass(frozen=True)
class Asset:
    """Bytes to serve and the header lists of their two answers, 200 and 304."""

    body: bytes
    etag: bytes
    full_headers: RawHeaders
    not_modified_headers: RawHeaders


def asset_of(body: bytes, content_type: str, headers: RawHeaders) -> Asset:
    """`body` with a strong ETag from its hash, and `headers` on both answers."""
    etag = b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'
    # The edge's security headers written in once: it finds them present and passes the list on
    # as it is, instead of copying it on every request.
    not_modified = with_security_headers([(b"etag", etag), *headers])
    full = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()), *not_modified]
    return Asset(body, etag, full, not_modified)


def signature(status: os.stat_result) -> Signature:
    """What changes when a file is rewritten or replaced: device, inode, size, modification time."""
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


def read_file(path: Path) -> tuple[bytes, Signature] | None:
    """The bytes of the regular file at `path` and the signature they were read at, or None."""
    try:
        with open(path, "rb") as file:
            status = os.fstat(file.fileno())
            if not stat.S_ISREG(status.st_mode):
                return None
            return file.read(), signature(status)
    except (OSError, ValueError):
        return None


class FileAsset:
    """One file held in memory, read again when a stat, at most every `recheck_after` seconds, shows it changed.

    `admit` decides on every (re)read whether the path may still be served: a file swapped for a
    link that leads out of its folder is refused, not read.
    """

    def __init__(
        self,
        path: Path,
        content_type: str,
        headers: RawHeaders,
        *,
        recheck_after: float,
        admit: Callable[[Path], bool] = lambda path: True,
    ) -> None:
        self.path = path
        self.content_type = content_type
        self.headers = headers
        self.recheck_after = recheck_after
        self.admit = admit
        self.asset: Asset | None = None
        self.signature: Signature | None = None
        self.checked_at = -math.inf

    def current(self) -> Asset | None:
        """The file as it was on disk at the last check, or None when it was gone or not admitted."""
        now = monotonic()
        if now - self.checked_at >= self.recheck_after:
            self.checked_at = now
            self._check()
        return self.asset

    def _check(self) -> None:
        try:
            on_disk = signature(os.stat(self.path))
        except (OSError, ValueError):
            self.asset = self.signature = None
            return
        if on_disk != self.signature:
            self._read()

    def _read(self) -> None:
        read = read_file(self.path) if self.admit(self.path) else None
        if read is None:
            self.asset = self.signature = None
            return
        body, self.signature = read
        self.asset = asset_of(body, self.content_type, self.headers)


def not_modified(scope: Scope, etag: bytes) -> bool:
    """Whether the request's If-None-Match names `etag` (or is `*`), weak or strong."""
    for name, value in scope["headers"]:
        if name == b"if-none-match":
            tags = [tag.strip().removeprefix(b"W/") for tag in value.split(b",")]
            return etag in tags or b"*" in tags
    return False


async def send_asset(asset: Asset, scope: Scope, send: Send) -> None:
    """200 with the bytes (none for HEAD), or 304 when the client already holds them."""
    if not_modified(scope, asset.etag):
        await send({"type": "http.response.start", "status": 304, "headers": asset.not_modified_headers})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": 200, "headers": asset.full_headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else asset.body})
