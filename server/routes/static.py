"""Small pages and files: home, health, the files under /static, integration logos.

The files and logos are answered from memory (server/assets.py) by raw ASGI apps, not
request/response endpoints: measured with wrk, a Request and a Response with these headers built
per request cost a quarter of a small file's throughput; header lists built once cost nothing.
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from server.assets import RECHECK_SECONDS, Asset, FileAsset, asset_of, send_asset
from server.catalog.loader import Catalog, find_logo
from server.catalog.logo_art import draw_monogram
from server.catalog.models import Integration
from server.db import migrations
from server.db.database import database_unavailable
from server.errors import ConfigurationError, NotFound
from server.pages import render
from server.services import services_of


async def favicon(request: Request) -> Response:
    """/favicon.ico, which browsers ask for unprompted (a JSON page, a raw file): the pages' own icon."""
    return RedirectResponse("/static/favicon.svg", status_code=301, headers={"Cache-Control": "public, max-age=86400"})


async def home(request: Request) -> Response:
    services = services_of(request)
    return render(
        request, "home.html", {"integration_count": len(services.catalog), "base_url": services.settings.base_url}
    )


async def healthz(request: Request) -> Response:
    await services_of(request).db.fetch_val("SELECT 1")
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready to serve: the database answers and every migration is applied. 503 otherwise, with why
    (a load balancer keeps traffic away; nothing here is a secret)."""
    try:
        waiting = await migrations.pending(services_of(request).db)
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        return _not_ready("the database is unreachable")
    if waiting:
        return _not_ready(f"schema migrations pending: {', '.join(map(str, waiting))}")
    return JSONResponse({"status": "ready"}, headers={"Cache-Control": "no-store"})


def _not_ready(reason: str) -> Response:
    return JSONResponse(
        {"status": "unavailable", "reason": reason}, status_code=503, headers={"Cache-Control": "no-store"}
    )


class StaticFolder:
    """/static/{path}: the files under one folder, and nothing outside it however the path is spelled.

    Only the canonical name of a file found inside the folder is remembered, so no spelling of a
    path (`..`, `%2e%2e`, a link out) reaches a file elsewhere, and the cache holds no more entries
    than the folder has files.
    """

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():  # every page's stylesheet would be missing: refuse to start instead
            raise ConfigurationError(f"The static folder {folder} is not a directory.")
        self.folder = os.path.realpath(folder)
        self.files: dict[str, FileAsset] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(status_code=405, headers={"Allow": "GET, HEAD"})
        file = self.files.get(scope["path_params"]["path"]) or self._find(scope["path_params"]["path"])
        asset = file.current() if file is not None else None
        if asset is None:
            raise NotFound("No such file.")
        await send_asset(asset, scope, send)

    def _find(self, path: str) -> FileAsset | None:
        name = self._name_inside(path)
        if name is None:
            return None
        file = self.files.get(name)
        if file is None:
            real = Path(self.folder, name)
            file = FileAsset(real, _content_type(name), [], recheck_after=RECHECK_SECONDS, admit=self._admits)
            if file.current() is None:
                return None
            self.files[name] = file
        return file

    def _name_inside(self, path: str) -> str | None:
        """The file's name relative to the folder, links resolved; None for anything outside it."""
        try:
            real = os.path.realpath(os.path.join(self.folder, path))
        except (OSError, ValueError):  # a NUL in the path
            return None
        if real == self.folder or os.path.commonpath([real, self.folder]) != self.folder:
            return None
        return os.path.relpath(real, self.folder)

    def _admits(self, path: Path) -> bool:
        return self._name_inside(str(path)) is not None


def _content_type(name: str) -> str:
    """As Starlette's FileResponse names it: by extension, text types in UTF-8."""
    guessed = mimetypes.guess_type(name)[0] or "text/plain"
    return guessed + "; charset=utf-8" if guessed.startswith("text/") else guessed


_LOGO_HEADERS = [
    (b"cache-control", b"public, max-age=86400"),
    (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'"),
]


class Logos:
    """/logos/{slug}.svg: an entry's logo file (server/catalog/loader.find_logo), else its initials drawn."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.files: dict[str, FileAsset] = {}
        self.drawn: dict[str, Asset] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        integration = self.catalog.get(scope["path_params"]["slug"])
        if integration is None:
            raise NotFound("No such integration.")
        await send_asset(self._logo(integration), scope, send)

    def _logo(self, integration: Integration) -> Asset:
        file = self.files.get(integration.slug)
        asset = file.current() if file is not None else None
        if asset is None:  # not looked for yet, or gone or refused since: looked for again
            file = self._find(integration)
            asset = file.current() if file is not None else None
        return asset or self._drawn(integration)

    def _find(self, integration: Integration) -> FileAsset | None:
        path = self._logo_path(integration)
        if path is None:
            return None
        # Checked on every request: an operator's catalog folder may change under a running service.
        file = self.files[integration.slug] = FileAsset(
            path,
            "image/svg+xml",
            _LOGO_HEADERS,
            recheck_after=0,
            admit=lambda path: self._logo_path(integration) == path,
        )
        return file

    @staticmethod
    def _logo_path(integration: Integration) -> Path | None:
        return find_logo(integration.logo, integration.source) if integration.logo else None

    def _drawn(self, integration: Integration) -> Asset:
        drawn = self.drawn.get(integration.slug)
        if drawn is None:
            drawn = self.drawn[integration.slug] = drawn_logo(integration)
        return drawn


def drawn_logo(integration: Integration) -> Asset:
    """The entry's monogram (its initials) on its colour, for an entry without a logo file."""
    svg = draw_monogram(integration.name, integration.initials, integration.color)
    return asset_of(svg.encode(), "image/svg+xml", _LOGO_HEADERS)
