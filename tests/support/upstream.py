"""A provider API on loopback for passthrough tests: well-behaved routes, an API-key resource, and
hostile ones (a redirect to another host, a huge body, a slow drip, a hang, cookies and auth
challenges). A real HTTP/1.1 server in a thread; every request it receives is recorded, so a test
can also show that a refused call reached nobody. Test-only code."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.harness import free_port

API_KEY = "key-of-the-test-upstream-0123456789"


@dataclass
class Seen:
    method: str
    raw_path: str  # path and query exactly as the request line carried them
    headers: dict[str, str]
    body_size: int
    body_sha256: str

    @property
    def path(self) -> str:
        return urlsplit(self.raw_path).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.raw_path).query, keep_blank_values=True)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up mid-answer (the point of several tests) is not news


@dataclass
class Upstream:
    port: int = field(default_factory=free_port)
    seen: list[Seen] = field(default_factory=list)
    huge_chunk: bytes = b"x" * 65_536

    def __post_init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Upstream:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _read_body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    digest, size = hashlib.sha256(), 0
                    while True:
                        line = self.rfile.readline()
                        length = int(line.split(b";")[0].strip() or b"0", 16)
                        if length == 0:
                            self.rfile.readline()
                            break
                        chunk = self.rfile.read(length)
                        digest.update(chunk)
                        size += len(chunk)
                        self.rfile.readline()
                    self._digest = (size, digest.hexdigest())
                    return b""
                length = int(self.headers.get("Content-Length") or 0)
                digest, size, kept = hashlib.sha256(), 0, []
                while size < length:
                    chunk = self.rfile.read(min(65_536, length - size))
                    if not chunk:
                        break
                    digest.update(chunk)
                    size += len(chunk)
                    if size <= 65_536:
                        kept.append(chunk)
                self._digest = (size, digest.hexdigest())
                return b"".join(kept)

            def _handle(self) -> None:
                body = self._read_body()
                size, sha = self._digest
                seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, size, sha)
                with owner._lock:
                    owner.seen.append(seen)
                route = seen.path.rstrip("/").rsplit("/", 1)[-1]
                getattr(self, f"route_{route}", self.route_echo)(seen, body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def route_echo(self, seen: Seen, body: bytes) -> None:
                self._json(200, {"method": seen.method, "path": seen.raw_path, "size": seen.body_size})

            def route_key(self, seen: Seen, body: bytes) -> None:
                sent = seen.headers.get("x-api-key") or (seen.query.get("api_key") or [""])[0]
                if sent != API_KEY:
                    self._json(401, {"error": "bad key"}, {"WWW-Authenticate": 'ApiKey realm="test"'})
                else:
                    self._json(200, {"ok": True, "query": seen.query})

            def route_refuse(self, seen: Seen, body: bytes) -> None:
                self._json(401, {"error": "invalid_token"}, {"WWW-Authenticate": 'Bearer error="invalid_token"'})

            def route_redirect(self, seen: Seen, body: bytes) -> None:
                self.send_response(302)
                self.send_header("Location", "http://127.0.0.2:9/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def route_cookie(self, seen: Seen, body: bytes) -> None:
                self._json(
                    200,
                    {"ok": True},
                    {
                        "Set-Cookie": "session=provider-secret; Path=/",
                        "WWW-Authenticate": 'Bearer realm="provider"',
                        "Strict-Transport-Security": "max-age=1",
                        "Access-Control-Allow-Origin": "*",
                        "X-RateLimit-Remaining": "41",
                        "Link": '<https://api.example/next>; rel="next"',
                    },
                )

            def route_limited(self, seen: Seen, body: bytes) -> None:
                self._json(429, {"error": "slow down"}, {"Retry-After": "7"})

            def route_huge(self, seen: Seen, body: bytes) -> None:
                """`bytes` bytes of body; declared up front unless `chunked` is asked for."""
                total = int(seen.query.get("bytes", ["0"])[0])
                chunked = "chunked" in seen.query
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", str(total))
                self.end_headers()
                sent = 0
                try:
                    while sent < total and not owner._stop.is_set():
                        chunk = owner.huge_chunk[: total - sent]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                        sent += len(chunk)
                    if chunked:
                        self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    pass

            def route_drip(self, seen: Seen, body: bytes) -> None:
                """One byte every 0.2 s of the `declared` (default 1000) the answer says it has."""
                declared = int(seen.query.get("declared", ["1000"])[0])
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(declared))
                self.end_headers()
                try:
                    for _ in range(declared):
                        if owner._stop.wait(0.2):
                            return
                        self.wfile.write(b".")
                        self.wfile.flush()
                except OSError:
                    pass

            def route_hang(self, seen: Seen, body: bytes) -> None:
                owner._stop.wait(30)

            def route_upload(self, seen: Seen, body: bytes) -> None:
                self._json(201, {"size": seen.body_size, "sha256": seen.body_sha256})

        self._server = _QuietServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def requests_to(self, route: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path.rstrip("/").endswith("/" + route)]

    def wait_quiet(self, seconds: float = 0.05) -> None:
        time.sleep(seconds)
