"""API keys: the environment's key prefix, rotation (the new key shown once, the old one kept
working for a chosen grace period so a host can deploy without downtime), the workspace ID."""

from __future__ import annotations

from datetime import timedelta

from starlette.responses import Response

from server.dashboard.views.common import Dash, member_view, page, redirect
from server.db.workspaces import expire_previous_key, get_environment, rotate_key

# The rotate form's choices: seconds the replaced key keeps working, and how the page says it.
GRACE_CHOICES = (
    ("0", "Immediately"),
    ("3600", "After 1 hour"),
    ("86400", "After 24 hours"),
    ("604800", "After 7 days"),
)


def _context(**extra: object) -> dict[str, object]:
    return {"new_key": None, "rotated": None, "grace_choices": GRACE_CHOICES, **extra}


@member_view("api-keys")
async def show(dash: Dash) -> Response:
    return page(dash, "api_keys.html", _context())


@member_view("api-keys")
async def rotate(dash: Dash) -> Response:
    """The old key stops at once or after the chosen grace period. The new one is in this response
    only (no-store), never in a redirect, a cookie or the database (which keeps its SHA-256)."""
    assert dash.form is not None  # a POST
    grace = dash.form.choice("grace", [value for value, _ in GRACE_CHOICES], "0")
    if dash.form.errors:
        return page(dash, "api_keys.html", _context(), status=400)
    rotated = await rotate_key(
        dash.db, dash.workspace_id, dash.env.name, grace=timedelta(seconds=int(grace)), actor=dash.actor
    )
    dash.env = await get_environment(dash.db, dash.workspace_id, dash.env.name)
    return page(dash, "api_keys.html", _context(new_key=rotated.key, rotated=rotated))


@member_view("api-keys")
async def expire_previous(dash: Dash) -> Response:
    """End the grace period now: the rotated-out key stops working."""
    prefix = await expire_previous_key(dash.db, dash.workspace_id, dash.env.name, actor=dash.actor)
    if prefix is None:
        return redirect(dash, dash.url("api-keys"), "No previous key was still working: nothing changed.", kind="info")
    return redirect(dash, dash.url("api-keys"), f"The previous key {prefix}… no longer works.")
