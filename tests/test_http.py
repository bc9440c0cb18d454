"""OutboundHTTP against a real HTTP server on loopback: size cap, overall deadline, no redirects."""

from __future__ import annotations

import gzip
import json
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from server.errors import ProviderError, ProviderUnavailable
from server.http import OutboundHTTP
from tests.harness import free_port


@pytest.fixture
def _database() -> Iterator[None]:
    """No database in this module: skip the fresh Postgres database conftest makes for each test."""
    yield


MAX_BYTES = 100_000


class Provider(BaseHTTPRequestHandler):
    """A hostile provider: each path misbehaves in one way."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        """/echo: the request's content type, user agent and body, as JSON."""
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        seen = {
            "type": self.headers.get("Content-Type"),
            "agent": self.headers.get("User-Agent"),
            "body": body.decode(),
        }
        self._send(200, json.dumps(seen).encode(), {"Content-Type": "application/json"})

    def do_GET(self) -> None:
        assert isinstance(self.server, ProviderServer)
        self.server.seen.append(self.path)
        try:
            if self.path == "/ok":
                self._send(200, b'{"ok": true}', {"Content-Type": "application/json"})
            elif self.path == "/set-cookie":  # a provider's session cookie, meant for one end-user's call
                self._send(200, b"{}", {"Set-Cookie": "session=first-user; Path=/"})
            elif self.path == "/cookie":
                self._send(200, (self.headers.get("Cookie") or "").encode())
            elif self.path == "/peer":  # the client's port: the same one while the connection is kept
                self._send(200, str(self.client_address[1]).encode())
            elif self.path.startswith("/exact/"):
                self._send(200, b"x" * int(self.path.rsplit("/", 1)[1]))
            elif self.path == "/big":
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"x" * 16_384
                for _ in range(256):  # 4 MiB, far past the cap
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            elif self.path == "/big-declared":
                self._send(200, b"y" * (MAX_BYTES * 3))
            elif self.path == "/gzip-bomb":
                self._send(200, gzip.compress(b"\0" * (MAX_BYTES * 50)), {"Content-Encoding": "gzip"})
            elif self.path == "/trickle":
                self.send_response(200)
                self.send_header("Content-Length", "20")
                self.end_headers()
                for _ in range(20):  # 1 byte every 30 ms: each read is quick, the whole takes 0.6 s
                    self.wfile.write(b"z")
                    self.wfile.flush()
                    time.sleep(0.03)
            elif self.path == "/not-http":
                self.wfile.write(b"hello there\r\n\r\n")
                self.close_connection = True
            elif self.path == "/hang-up":
                self.close_connection = True
            elif self.path == "/short-body":
                self.send_response(200)
                self.send_header("Content-Length", "100")
                self.end_headers()
                self.wfile.write(b"only a little")
                self.close_connection = True
            elif self.path == "/redirect":
                self._send(302, b"", {"Location": "/ok"})
            else:
                self._send(404)
        except (BrokenPipeError, ConnectionResetError):
            pass


class ProviderServer(ThreadingHTTPServer):
    daemon_threads = True
    seen: list[str]

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any) -> None:
        # Our client hangs up mid-body on purpose (size cap, deadline): not an error here.
        pass


@pytest.fixture
def provider() -> Iterator[ProviderServer]:
    server = ProviderServer(("127.0.0.1", 0), Provider)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def url(server: ProviderServer, path: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


@pytest.fixture
async def http() -> AsyncIterator[OutboundHTTP]:
    client = OutboundHTTP(deadline=0.3, max_bytes=MAX_BYTES)
    yield client
    await client.aclose()


async def test_a_normal_answer_is_read(provider: ProviderServer, http: OutboundHTTP) -> None:
    answer = await http.request("GET", url(provider, "/ok"))
    assert answer.status == 200 and answer.content == b'{"ok": true}' and answer.content_type == "application/json"


async def test_a_body_of_exactly_max_bytes_is_accepted(provider: ProviderServer, http: OutboundHTTP) -> None:
    answer = await http.request("GET", url(provider, f"/exact/{MAX_BYTES}"))
    assert len(answer.content) == MAX_BYTES


async def test_a_body_one_byte_over_the_cap_is_refused(provider: ProviderServer, http: OutboundHTTP) -> None:
    with pytest.raises(ProviderError, match=f"larger than {MAX_BYTES} bytes"):
        await http.request("GET", url(provider, f"/exact/{MAX_BYTES + 1}"))


async def test_a_streamed_body_over_the_cap_is_cut_off(provider: ProviderServer, http: OutboundHTTP) -> None:
    started = time.monotonic()
    with pytest.raises(ProviderError, match="larger than"):
        await http.request("GET", url(provider, "/big"))
    assert time.monotonic() - started < 0.3


async def test_a_declared_body_over_the_cap_is_refused(provider: ProviderServer, http: OutboundHTTP) -> None:
    with pytest.raises(ProviderError, match="larger than"):
        await http.request("GET", url(provider, "/big-declared"))


async def test_the_cap_counts_decompressed_bytes(provider: ProviderServer) -> None:
    # A patient deadline: on a loaded machine, inflating the bomb must not lose the race to the clock.
    patient = OutboundHTTP(deadline=5.0, max_bytes=MAX_BYTES)
    try:
        with pytest.raises(ProviderError, match="larger than"):
            await patient.request("GET", url(provider, "/gzip-bomb"))
    finally:
        await patient.aclose()


async def test_a_provider_trickling_bytes_hits_the_overall_deadline(
    provider: ProviderServer, http: OutboundHTTP
) -> None:
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match=re.escape("within 0.3 s")) as caught:
        await http.request("GET", url(provider, "/trickle"))
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 0.5, elapsed  # well before the 0.6 s the body takes
    assert caught.value.code == "provider_unavailable"


async def test_the_trickle_is_read_whole_with_a_longer_deadline(provider: ProviderServer) -> None:
    patient = OutboundHTTP(deadline=5.0, max_bytes=MAX_BYTES)
    try:
        answer = await patient.request("GET", url(provider, "/trickle"))
    finally:
        await patient.aclose()
    assert answer.content == b"z" * 20


async def test_redirects_are_returned_not_followed(provider: ProviderServer, http: OutboundHTTP) -> None:
    answer = await http.request("GET", url(provider, "/redirect"))
    assert answer.status == 302 and answer.headers["location"] == "/ok"
    assert provider.seen == ["/redirect"]


async def test_connection_refused_is_provider_unavailable(http: OutboundHTTP) -> None:
    with pytest.raises(ProviderUnavailable, match="could not be reached") as caught:
        await http.request("GET", f"http://127.0.0.1:{free_port()}/token")
    assert caught.value.status == 504


@pytest.mark.parametrize("path", ["/not-http", "/hang-up", "/short-body"])
async def test_a_malformed_or_cut_off_answer_is_provider_unavailable(
    provider: ProviderServer, http: OutboundHTTP, path: str
) -> None:
    with pytest.raises(ProviderUnavailable, match="could not be reached"):
        await http.request("GET", url(provider, path))
    assert set(provider.seen) == {path} and len(provider.seen) <= 2  # a dropped GET is sent once more at most


async def test_calls_share_one_kept_alive_connection(provider: ProviderServer, http: OutboundHTTP) -> None:
    ports = set()
    for _ in range(3):
        answer = await http.request("GET", url(provider, "/peer"))
        ports.add(answer.content)
    assert len(ports) == 1 and provider.seen == ["/peer"] * 3


@pytest.mark.parametrize(
    "arguments",
    [
        {"data": {"grant_type": "authorization_code", "code": "a b&c=d", "name": "Zoë"}},
        {"json": {"grant_type": "refresh_token", "scopes": ["a", "b"], "name": "Zoë"}},
        {"content": b"raw bytes", "headers": {"Content-Type": "text/plain"}},
    ],
)
async def test_a_body_is_sent_as_httpx_would_send_it(
    provider: ProviderServer, http: OutboundHTTP, arguments: dict[str, Any]
) -> None:
    answer = await http.request("POST", url(provider, "/echo"), **arguments)
    expected = httpx.Request("POST", url(provider, "/echo"), **arguments)
    seen = json.loads(answer.content)
    assert seen["body"].encode() == expected.read()
    assert seen["type"] == expected.headers["content-type"]
    assert seen["agent"] == "Latchkey/0.1"


async def test_a_providers_cookie_is_never_sent_with_a_later_call(provider: ProviderServer) -> None:
    """One pool serves every connection: a cookie set in one end-user's call must not ride on the next.
    By host name: a jar may refuse cookies from an IP address anyway."""

    def url(server: ProviderServer, path: str) -> str:
        return f"http://localhost:{server.server_address[1]}{path}"

    for transport in (None, httpx.AsyncHTTPTransport()):
        http = OutboundHTTP(deadline=2.0, max_bytes=MAX_BYTES, transport=transport)
        try:
            await http.request("GET", url(provider, "/set-cookie"))
            streamed = await http.open_stream("GET", url(provider, "/set-cookie"), headers=[], content=b"", timeout=2.0)
            await streamed.aclose()
            assert (await http.request("GET", url(provider, "/cookie"))).content == b""
            later = await http.open_stream("GET", url(provider, "/cookie"), headers=[], content=b"", timeout=2.0)
            assert await later.aread() == b""
            await later.aclose()
        finally:
            await http.aclose()
