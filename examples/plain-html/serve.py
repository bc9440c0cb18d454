"""Serve the plain-HTML example host page on its own origin (standard library only).

    python examples/plain-html/serve.py --port 8001 --latchkey http://127.0.0.1:8000

Then open http://localhost:8001/ — an origin on the demo workspace's allowlist (`make run`).
"""

from __future__ import annotations

import argparse
import functools
import html
import http.server
import io
from pathlib import Path
from typing import Any, BinaryIO

HERE = Path(__file__).resolve().parent


class ExampleHandler(http.server.SimpleHTTPRequestHandler):
    """Static files from this folder; `{{LATCHKEY}}` and `{{WORKSPACE}}` filled in on HTML pages."""

    def __init__(self, *args: Any, latchkey_url: str, workspace_id: str, **kwargs: Any) -> None:
        self.values = {"{{LATCHKEY}}": html.escape(latchkey_url), "{{WORKSPACE}}": html.escape(workspace_id)}
        super().__init__(*args, directory=str(HERE), **kwargs)

    def send_head(self) -> BinaryIO | None:
        path = Path(self.translate_path(self.path.split("?", 1)[0]))
        if path.is_dir():
            path = path / "index.html"
        if path.suffix != ".html" or not path.is_file():
            return super().send_head()
        body = path.read_text(encoding="utf-8")
        for placeholder, value in self.values.items():
            body = body.replace(placeholder, value)
        data = body.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        return io.BytesIO(data)

    def log_message(self, format: str, *args: Any) -> None:
        if not getattr(self.server, "quiet", False):
            super().log_message(format, *args)


class ExampleServer(http.server.ThreadingHTTPServer):
    quiet = False  # True: no request log


def make_server(host: str, port: int, latchkey_url: str, workspace_id: str, quiet: bool = False) -> ExampleServer:
    handler = functools.partial(ExampleHandler, latchkey_url=latchkey_url.rstrip("/"), workspace_id=workspace_id)
    server = ExampleServer((host, port), handler)
    server.quiet = quiet
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--latchkey", default="http://127.0.0.1:8000", help="Latchkey's base URL")
    parser.add_argument("--workspace", default="ws_demo", help="public workspace ID (default: the demo workspace)")
    args = parser.parse_args()
    server = make_server(args.host, args.port, args.latchkey, args.workspace)
    print(
        f"example host page on http://localhost:{args.port}/ (Latchkey: {args.latchkey}, workspace {args.workspace})",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
