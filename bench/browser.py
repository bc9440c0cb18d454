"""A browser reduced to what an authorization flow needs: GET, a cookie jar, keep-alive.

Why not httpx: measured on this machine, httpx (and httpcore under it) costs the driver 5–14 ms of
CPU per flow at 20 browsers — its connection pool's bookkeeping grows with the requests in flight
— which is more than the lean client and the provider take together; on 2 cores the load
generator would have been what the lean line measured. This speaks plain HTTP/1.1 over asyncio
streams, a fraction of a millisecond per request, so the servers are what is measured.

Every server of the bench is on 127.0.0.1, so one jar of name → value pairs is the browser's
whole cookie store (cookies are not kept per port, by browsers either).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_HEAD = 1 << 20
Origin = tuple[str, int]
Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass(frozen=True)
class Response:
    status: int
    headers: list[tuple[str, str]]  # names lower-cased, in the order sent
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for n, v in self.headers if n == name), None)

    def all(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n == name]


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.1 as this client reads it."""


async def _body(reader: asyncio.StreamReader, headers: list[tuple[str, str]]) -> tuple[bytes, bool]:
    """The body, and whether the connection can be used again."""
    values = dict(headers)
    if "chunked" in values.get("transfer-encoding", "").lower():
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunks.append(await reader.readexactly(size + 2))
            if size == 0:
                return b"".join(chunks)[:-2], values.get("connection") != "close"
    if "content-length" in values:
        return await reader.readexactly(int(values["content-length"])), values.get("connection") != "close"
    return await reader.read(), False


async def exchange(stream: Stream, target: str, host: str, headers: dict[str, str]) -> tuple[Response, bool]:
    reader, writer = stream
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    writer.write("\r\n".join(lines).encode("latin-1"))
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status_line, *header_lines = head.split("\r\n")[:-2]
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ProtocolError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
    fields = [(n.strip().lower(), v.strip()) for n, _, v in (line.partition(":") for line in header_lines)]
    body, reusable = await _body(reader, fields)
    return Response(int(parts[1]), fields, body), reusable


class Connections:
    """Keep-alive connections per origin, at most `limit` open to each, idle ones reused last in first out."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.idle: defaultdict[Origin, list[Stream]] = defaultdict(list)
        self.gates: defaultdict[Origin, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(self.limit))

    async def get(self, url: str, headers: dict[str, str]) -> Response:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ProtocolError(f"this browser speaks plain http only: {url[:80]}")
        origin = (parts.hostname, parts.port or 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        async with self.gates[origin]:
            while self.idle[origin]:  # an idle connection the server has closed since fails at once: next
                stream = self.idle[origin].pop()
                try:
                    return await self._send(origin, stream, target, parts.netloc, headers)
                except (asyncio.IncompleteReadError, ConnectionError):
                    continue
            stream = await asyncio.open_connection(*origin, limit=MAX_HEAD)
            return await self._send(origin, stream, target, parts.netloc, headers)

    async def _send(self, origin: Origin, stream: Stream, target: str, host: str, headers: dict[str, str]) -> Response:
        try:
            response, reusable = await exchange(stream, target, host, headers)
        except BaseException:
            stream[1].close()
            raise
        if reusable:
            self.idle[origin].append(stream)
        else:
            stream[1].close()
        return response

    def close(self) -> None:
        for streams in self.idle.values():
            for _, writer in streams:
                writer.close()
        self.idle.clear()


class Browser:
    """One end-user's browser: a fresh cookie jar over the shared connections."""

    def __init__(self, connections: Connections) -> None:
        self.connections = connections
        self.cookies: dict[str, str] = {}

    async def get(self, url: str) -> Response:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        response = await self.connections.get(url, headers)
        for cookie in response.all("set-cookie"):
            pair, _, attributes = cookie.partition(";")
            name, _, value = pair.strip().partition("=")
            if "max-age=0" in attributes.lower().replace(" ", ""):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return response
