"""Small pages and files: home, health, integration logos."""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from server.catalog.loader import find_logo
from server.errors import NotFound
from server.pages import render
from server.services import services_of


async def home(request: Request) -> Response:
    services = services_of(request)
    return render(
        request, "home.html", {"integration_count": len(services.catalog), "base_url": services.settings.base_url}
    )


async def healthz(request: Request) -> Response:
    await services_of(request).db.fetch_val("SELECT 1")
    return JSONResponse({"status": "ok"})


async def logo(request: Request) -> Response:
    integration = services_of(request).catalog.get(request.path_params["slug"])
    if integration is None:
        raise NotFound("No such integration.")
    headers = {
        "Cache-Control": "public, max-age=86400",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    }
    path = find_logo(integration.logo, integration.source) if integration.logo else None
    if path is not None:
        return FileResponse(path, media_type="image/svg+xml", headers=headers)
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40">'
        f'<rect width="40" height="40" rx="8" fill="{escape(integration.color)}"/>'
        '<text x="20" y="25" font-family="system-ui,sans-serif" font-size="14" font-weight="600" '
        f'fill="#fff" text-anchor="middle">{escape(integration.initials)}</text></svg>'
    )
    return Response(svg, media_type="image/svg+xml", headers=headers)
