"""API keys: the environment's key prefix, rotation (the new key shown once), the workspace ID."""

from __future__ import annotations

from starlette.responses import Response

from server.dashboard.views.common import Dash, member_view, page
from server.db.workspaces import get_environment, rotate_key


@member_view("api-keys")
async def show(dash: Dash) -> Response:
    return page(dash, "api_keys.html", {"new_key": None})


@member_view("api-keys")
async def rotate(dash: Dash) -> Response:
    """The old key stops working at once. The new one is in this response only (no-store), never in
    a redirect, a cookie or the database (which keeps its SHA-256)."""
    key = await rotate_key(dash.db, dash.workspace_id, dash.env.name, actor=dash.actor)
    dash.env = await get_environment(dash.db, dash.workspace_id, dash.env.name)
    return page(dash, "api_keys.html", {"new_key": key})
