"""Delivering a flow's outcome to the host: redirect, or a result page that posts a message.

The success / failure URL and the host origin were checked when the flow was created; they are
checked again here, against the allowlists as they are now. A failure is still delivered when the
database is unavailable (often the very cause of the failure): then the signed context's URL and
origin — checked when the flow was created — are used as they are, and the result channel, which
needs the database, is skipped (the result page still posts its message).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.db import results as result_store
from server.db.database import database_unavailable
from server.db.workspaces import Environment, get_environment
from server.error_responses import error_page
from server.error_texts import end_user_text
from server.flow.allowlist import origin_allowed, url_allowed
from server.flow.result import app_url, message, redirect_url
from server.flow.steps import Outcome
from server.pages import render
from server.services import services_of
from server.signing import SALT_CONTEXT, SALT_RESULT

logger = logging.getLogger("latchkey.flow")


async def deliver(request: Request, outcome: Outcome, *, after_post: bool = False) -> Response:
    services = services_of(request)
    ctx, result = outcome.ctx, outcome.result
    env = await _environment_now(request, outcome)
    target = redirect_url(ctx, result)
    used_url = ctx.success_url if result.ok else ctx.failure_url
    if env is not None and used_url and not url_allowed(used_url, env.allowed_redirect_urls):
        return error_page(
            request, "redirect_not_allowed", "The application's return address is no longer allowed.", 400
        )
    origin = ctx.origin if ctx.origin and (env is None or origin_allowed(ctx.origin, env.allowed_origins)) else None
    payload = message(ctx, result)
    if ctx.channel_hash:
        try:
            await result_store.store_result(services.db, ctx.channel_hash, origin, payload)
        except Exception as exc:
            if result.ok or not database_unavailable(exc):
                raise
            logger.warning("the failure of a %s flow is not in the result channel: database unavailable", ctx.mode)
    if ctx.mode == "redirect" and target:
        return RedirectResponse(
            target, status_code=303 if after_post else 302, headers={"Referrer-Policy": "no-referrer"}
        )
    actions = Actions()
    if ctx.mode == "redirect":  # the end-user's own window ends here: offer the way on
        actions = Actions(
            again=None if result.ok else services.signer.sign(SALT_CONTEXT, ctx.to_dict()),
            back=app_url(ctx, result),
            app=env.workspace_name if env is not None else None,
        )
    if after_post:
        token = services.signer.sign(
            SALT_RESULT,
            {"m": payload, "o": origin, "mode": ctx.mode, "t": ctx.theme, "l": ctx.lang, "x": actions.to_dict()},
        )
        return RedirectResponse(request.url_for("auth_result").include_query_params(r=token), status_code=303)
    return result_page(request, payload, origin, ctx.mode, theme=ctx.theme, lang=ctx.lang, actions=actions)


@dataclass(frozen=True)
class Actions:
    """What a result page in the end-user's own window offers: "Try again" (a signed context for
    /picker/again, failures only), "Back to app" (app_url) and the host app's name."""

    again: str | None = None
    back: str | None = None
    app: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"again": self.again, "back": self.back, "app": self.app}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Actions:
        data = data or {}
        return cls(again=data.get("again"), back=data.get("back"), app=data.get("app"))


async def _environment_now(request: Request, outcome: Outcome) -> Environment | None:
    """The environment's allowlists as they are now; None for a failure while the database is unavailable."""
    ctx = outcome.ctx
    try:
        return await get_environment(services_of(request).db, ctx.workspace_id, ctx.environment)
    except Exception as exc:
        if outcome.result.ok or not database_unavailable(exc):
            raise
        logger.warning("delivering a flow failure without the database: the creation-time checks stand")
        return None


def result_page(
    request: Request,
    payload: dict[str, Any],
    origin: str | None,
    mode: str,
    *,
    theme: str = "auto",
    lang: str = "",
    actions: Actions = Actions(),
) -> Response:
    services = services_of(request)
    ok = payload["type"] == "connection.created"
    return render(
        request,
        "result.html",
        {
            "ok": ok,
            "payload_json": json.dumps(payload),
            "host_origin": origin or "",
            "own_origin": services.settings.origin,
            "mode": mode,
            "integration": services.catalog.get(payload["integration"]),
            "error_code": payload.get("error"),
            "error_text": end_user_text(payload.get("error") or "server_error"),
            "error_message": payload.get("errorDescription"),
            "connection_id": payload.get("connectionId"),
            "again_url": f"/picker/again?{urlencode({'ctx': actions.again})}" if actions.again else None,
            "back_url": actions.back,
            "app_name": actions.app,
            "theme": theme,
            "lang": lang,
        },
        status=200 if ok else 400,
    )
