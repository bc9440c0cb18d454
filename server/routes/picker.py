"""The integration picker page.

A picker that cannot open says why on an error page. When the parameters name an environment
whose allowed origins hold the host's origin, that page also tells the host (`connection.failed`)
and, inline, may be framed by it: otherwise the host sees a blocked frame and no onError."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import Response

from server.db.workspaces import get_environment
from server.error_responses import respond
from server.errors import LatchkeyError
from server.flow.context import FlowContext
from server.flow.offer import offered_integrations, picker_view
from server.flow.opening import context_from_picker_params, failure_audience, reopen_context
from server.i18n import negotiate, requested_lang
from server.pages import render
from server.services import Services, services_of
from server.signing import SALT_CONTEXT
from server.throttle import limit


async def picker(request: Request) -> Response:
    try:
        return await _picker(request)
    except LatchkeyError as error:
        if error.status >= 500:  # the database or a fault: nothing to look up, the usual page
            raise
        return respond(request, error, audience=await failure_audience(services_of(request), request.query_params))


async def _picker(request: Request) -> Response:
    await limit(request, "picker")
    services = services_of(request)
    ctx = await context_from_picker_params(services, request.query_params)
    # Without a usable `lang`, the browser's languages decide; the pages after the picker follow.
    lang = requested_lang(request.query_params.get("lang")) or negotiate(request.headers.get("accept-language"))
    # This page's own ID: a session started from it is bound to it too (an inline frame may get no cookie).
    ctx = ctx.with_(lang=lang, picker_id=secrets.token_urlsafe(16) if ctx.session_id else None)
    return await _show(request, services, ctx)


async def picker_again(request: Request) -> Response:
    """ "Try again" on a result page: the same flow's picker, from its signed context, checked anew."""
    await limit(request, "picker")
    services = services_of(request)
    data = services.signer.verify(
        SALT_CONTEXT, request.query_params.get("ctx"), services.settings.connect_session_max_age, what="link"
    )
    ctx = await reopen_context(services, FlowContext.from_dict(data))
    return await _show(request, services, ctx)


async def _show(request: Request, services: Services, ctx: FlowContext) -> Response:
    env = await get_environment(services.db, ctx.workspace_id, ctx.environment)
    integrations = await offered_integrations(services, ctx)
    ctx_token = services.signer.sign(SALT_CONTEXT, ctx.to_dict())
    return render(
        request,
        "picker.html",
        picker_view(services, ctx, env, integrations, ctx_token),
        frame_ancestors=env.allowed_origins if ctx.mode == "inline" else (),
    )
