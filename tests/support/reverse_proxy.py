"""A small reverse proxy on loopback for tests, as nginx would be configured in front of Latchkey:
it listens on 127.0.0.2, connects to the upstream *from* 127.0.0.2 (so the upstream can trust that
address alone), appends the peer it saw to X-Forwarded-For, says X-Forwarded-Proto: https (TLS ends
here in production), and sets X-Request-ID. Whole bodies, one request per connection. Test-only code."""

from __future__ import annotations

import http.client
import itertools
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.harness import free_port

PROXY_ADDRESS = "127.0.0.2"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


class ReverseProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.request_ids: list[str] = []
        self._counter = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://{PROXY_ADDRESS}:{self.port}"

    def start(self) -> ReverseProxy:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                seen = self.headers.get("X-Forwarded-For")
                headers["X-Forwarded-For"] = f"{seen}, {self.client_address[0]}" if seen else self.client_address[0]
                headers["X-Forwarded-Proto"] = "https"
                request_id = f"proxy-{next(owner._counter)}"
                owner.request_ids.append(request_id)
                headers["X-Request-ID"] = request_id
                upstream = http.client.HTTPConnection(
                    "127.0.0.1", owner.upstream_port, timeout=30, source_address=(PROXY_ADDRESS, 0)
                )
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                finally:
                    upstream.close()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in _HOP_BY_HOP | {"content-length"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self._server = ThreadingHTTPServer((PROXY_ADDRESS, self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
