"""Browser-facing authorization endpoints: start, callback, credentials form, result page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.catalog.models import Integration
from server.crypto import sha256_hex
from server.db import results as result_store
from server.db.workspaces import get_environment
from server.error_responses import error_page
from server.error_texts import end_user_text
from server.errors import FlowError, InvalidRequest, LatchkeyError, NotFound, UntrustedFlowError, VariableInvalid
from server.flow import credentials, dispatch
from server.flow.context import FlowContext
from server.flow.sessions import bind_start, open_record
from server.flow.steps import failure_outcome, succeeded
from server.pages import render
from server.routes.binding import browser_secret, ensure_browser_secret, set_binding_cookie
from server.routes.delivery import Actions, deliver, result_page
from server.services import Services, services_of
from server.signing import SALT_CONTEXT, SALT_RESULT
from server.throttle import limit


def _integration(request: Request) -> Integration:
    integration = services_of(request).catalog.get(request.path_params["integration"])
    if integration is None:
        raise NotFound("No such integration.", code="integration_not_found")
    return integration


async def read_context(request: Request) -> tuple[FlowContext, str]:
    """The flow's context, and the signed token that carries it onward (the variables page): from
    `ctx` (the picker's links) or from `link` (an authorization link, a server-side record)."""
    services = services_of(request)
    link = request.query_params.get("link")
    if link is not None:
        record = await open_record(services, link, "auth_url", what="link")
        ctx = FlowContext.from_dict(record.context).with_(session_id=record.id)
        return ctx, services.signer.sign(SALT_CONTEXT, ctx.to_dict())
    token = request.query_params.get("ctx")
    data = services.signer.verify(SALT_CONTEXT, token, services.settings.connect_session_max_age, what="link")
    return FlowContext.from_dict(data), token or ""


async def _frame_ancestors(request: Request, ctx: FlowContext) -> tuple[str, ...]:
    if ctx.mode != "inline":
        return ()
    env = await get_environment(services_of(request).db, ctx.workspace_id, ctx.environment)
    return env.allowed_origins


def page_context(ctx: FlowContext, **values: Any) -> dict[str, Any]:
    """What every page of a flow is shown with: the host's look and language, and its window."""
    return {
        "theme": ctx.theme,
        "accent": ctx.accent,
        "lang": ctx.lang,
        "mode": ctx.mode,
        "host_origin": ctx.origin or "",
        "nonce": ctx.nonce,
        **values,
    }


async def start(request: Request) -> Response:
    await limit(request, "start")
    services = services_of(request)
    integration = _integration(request)
    ctx, ctx_token = await read_context(request)
    # The binding secret is made here, in the window that starts the flow, and claims a connect
    # session or link for this browser: a start from any other browser is refused.
    secret, fresh = ensure_browser_secret(request, services.settings)
    await bind_start(services, ctx, browser_hash=sha256_hex(secret))
    response = await _begin(request, services, Started(ctx, ctx_token, integration, secret))
    if fresh:
        set_binding_cookie(response, services.settings, secret)
    return response


@dataclass(frozen=True)
class Started:
    ctx: FlowContext
    ctx_token: str
    integration: Integration
    browser_secret: str


async def _begin(request: Request, services: Services, started: Started) -> Response:
    ctx, integration = started.ctx, started.integration
    try:
        if not ctx.allows_integration(integration.slug) or not services.catalog.offered(
            integration.slug, ctx.environment
        ):
            raise FlowError(f"{integration.name} is not offered here.", code="integration_not_active")
        if integration.is_form:
            return await _credentials_form(request, services, ctx, integration)
        return await _to_provider(request, services, started)
    except FlowError as exc:
        return await deliver(request, failure_outcome(ctx, integration.slug, exc))


async def _credentials_form(
    request: Request, services: Services, ctx: FlowContext, integration: Integration
) -> Response:
    token = await credentials.open_form(services, ctx, integration)
    context = page_context(
        ctx,
        integration=integration,
        form_token=token,
        errors={},
        values={},
        error_code=None,
        error_text=None,
        error_message=None,
    )
    return render(request, "credentials.html", context, frame_ancestors=await _frame_ancestors(request, ctx))


def _variables_page(
    request: Request, started: Started, supplied: dict[str, str], error: VariableInvalid | None = None
) -> Response:
    integration = started.integration
    typed = {v.name for v in integration.variables if v.source == "user"}
    context = page_context(
        started.ctx,
        integration=integration,
        ctx_token=started.ctx_token,
        variables=integration.variables,
        values=supplied,
        error_text="Please correct the fields below." if error else None,  # the page's alert, translated there
        error_message=error.message if error else None,
        errors={error.variable: error.problem} if error and error.variable in typed else {},
    )
    return render(request, "variables.html", context, status=400 if error else 200)


async def _to_provider(request: Request, services: Services, started: Started) -> Response:
    ctx, integration = started.ctx, started.integration
    supplied = {v.name: request.query_params.get(v.name, "") for v in integration.variables if v.source == "user"}
    # Ask for every user variable, defaults prefilled: a Salesforce user may need test.salesforce.com.
    if any(not value for value in supplied.values()) or request.query_params.get("_retry"):
        return _variables_page(request, started, supplied)
    if ctx.channel_hash:
        await result_store.mark_started(services.db, ctx.channel_hash, ctx.origin)
    browser_hash = sha256_hex(started.browser_secret)
    try:
        url = await dispatch.begin(services, ctx, integration, browser_hash=browser_hash, variables=supplied)
    except VariableInvalid as exc:
        return _variables_page(request, started, supplied, exc)
    # The URL is encoded already (flow/templating.with_params): no second escaping pass over it.
    return Response(
        status_code=302, headers={"Location": url, "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
    )


async def callback(request: Request) -> Response:
    services = services_of(request)
    integration = _integration(request)
    if not integration.is_redirect:
        raise NotFound("No such integration.", code="integration_not_found")
    if request.method == "POST":
        if not integration.oauth2 or integration.oauth2.callback_method != "POST":
            raise InvalidRequest("This integration's callback is a GET.", status=405)
        # A cross-site POST carries no SameSite=Lax cookie; a top-level GET does. So the POST
        # callback (Copper) turns into a 303 to the same callback as a GET, where the browser
        # binding is checked as for every other provider.
        form = await request.form()
        # Every pair is kept, repeats included: the GET below refuses a repeated parameter.
        pairs = [(k, str(v)) for k, v in form.multi_items() if len(str(v)) <= 8192]
        target = request.url.replace(query=urlencode(pairs))
        return RedirectResponse(
            str(target), status_code=303, headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
        )
    params = dict(request.query_params)
    repeated = {key for key in params if len(request.query_params.getlist(key)) > 1}
    outcome = await dispatch.complete(
        services, integration, params, browser_secret=browser_secret(request, services.settings), repeated=repeated
    )
    return await deliver(request, outcome)


def _same_origin_post(request: Request, own_origin: str) -> bool:
    """CSRF defence for our forms (they may live in a third-party iframe, where cookies are not sent).

    Our pages send no referrer, so a browser posts their forms with `Origin: null`: Fetch Metadata
    (Sec-Fetch-Site) says where the post came from; Origin and Referer remain for other clients.
    """
    site = request.headers.get("sec-fetch-site")
    if site:
        return site == "same-origin"
    origin = request.headers.get("origin")
    if origin and origin != "null":
        return origin == own_origin
    referer = request.headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}" == own_origin
    return False


async def submit_credentials(request: Request) -> Response:
    await limit(request, "credentials")
    services = services_of(request)
    integration = _integration(request)
    if not _same_origin_post(request, services.settings.origin):
        raise UntrustedFlowError("Cross-site form submission refused.", code="invalid_request", status=403)
    form = await request.form()
    submitted = {k: str(v) for k, v in form.items()}
    state = credentials.read_form_state(services, integration, submitted.pop("form_token", None))
    ctx = state.ctx
    context = page_context(
        ctx,
        integration=integration,
        form_token=state.token,
        values={f.name: submitted.get(f.name, "") for f in integration.fields if not f.secret},
        errors={},
        error_code=None,
        error_text=None,
        error_message=None,
    )
    ancestors = await _frame_ancestors(request, ctx)
    try:
        connection_id = await credentials.submit(services, integration, state, submitted)
    except credentials.FormInvalid as exc:
        context["errors"] = exc.errors
        context["error_code"] = "invalid_request"
        return render(request, "credentials.html", context, status=400, frame_ancestors=ancestors)
    except FlowError as exc:
        if exc.code in ("invalid_credentials", "provider_error", "provider_unavailable"):
            context["error_code"] = exc.code
            context["error_text"] = end_user_text(exc.code)
            context["error_message"] = exc.message
            return render(request, "credentials.html", context, status=400, frame_ancestors=ancestors)
        return await deliver(request, failure_outcome(ctx, integration.slug, exc), after_post=True)
    return await deliver(request, succeeded(ctx, integration.slug, connection_id), after_post=True)


async def show_result(request: Request) -> Response:
    services = services_of(request)
    try:
        data = services.signer.verify(SALT_RESULT, request.query_params.get("r"), 300, what="result link")
    except LatchkeyError as exc:
        return error_page(request, exc.code, exc.message, 400)
    return result_page(
        request,
        data["m"],
        data.get("o"),
        data.get("mode", "popup"),
        theme=data.get("t", "auto"),
        lang=data.get("l", ""),
        actions=Actions.from_dict(data.get("x")),
    )
