"""The baseline: a bare Starlette app under the same uvicorn settings as Latchkey.

`/` answers "ok"; each `--file URL_PATH=FILE` is read once at start and served from memory with
its content type, so Latchkey's static files are compared with the same bytes sent at no cost.

    python -m bench.bare --port P [--file /embed.js=widget/packages/core/dist/embed.js …]
"""

from __future__ import annotations

import argparse
import mimetypes
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bench.servers import serve


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def in_memory(path: Path) -> Callable[[Request], Awaitable[Response]]:
    body = path.read_bytes()
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"

    async def send(request: Request) -> Response:
        return Response(body, media_type=media_type)

    return send


def bare_app(files: dict[str, Path]) -> Starlette:
    routes = [Route("/", hello)]
    routes += [Route(url_path, in_memory(path)) for url_path, path in files.items()]
    return Starlette(routes=routes)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--file", action="append", default=[], metavar="URL_PATH=FILE")
    args = parser.parse_args()
    files = {url_path: Path(path) for url_path, path in (f.split("=", 1) for f in args.file)}
    serve(bare_app(files), args.port)


if __name__ == "__main__":
    main()
