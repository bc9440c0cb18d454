"""Signing in and out."""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.dashboard import auth
from server.dashboard.forms import Form
from server.dashboard.views.common import Dash, harden, member_view, plain_page, redirect
from server.db import members as member_store
from server.db.clock import utcnow
from server.services import services_of
from server.throttle import client_address, limit

HOME = "/dashboard/sandbox/integrations"


def _safe_next(value: object) -> str:
    """Only a path inside the dashboard: never another site (`//evil.example`, `/\\evil`)."""
    if (
        isinstance(value, str)
        and value.startswith("/dashboard/")
        and "//" not in value
        and "\\" not in value
        and len(value) < 300
    ):
        return value
    return HOME


async def _sign_in_page(
    request: Request,
    *,
    email: str = "",
    error: str | None = None,
    error_code: str | None = None,
    status: int = 200,
    next_url: str = HOME,
) -> Response:
    services = services_of(request)
    cookies: dict[str, str] = {}
    token = auth.sign_in_form_token(request, cookies, services.settings)
    flash, had_flash = auth.pop_flash(request, services.settings)
    response = plain_page(
        request,
        "sign_in.html",
        {
            "form_token": token,
            "email": email,
            "error": error,
            "error_code": error_code,
            "next": next_url,
            "flash": flash,
        },
        status=status,
    )
    auth.set_sign_in_cookies(response, services.settings, cookies)
    if had_flash:
        auth.clear_flash(response, services.settings)
    return response


async def sign_in_form(request: Request) -> Response:
    services = services_of(request)
    next_url = _safe_next(request.query_params.get("next"))
    if await auth.current_session(request, services):
        return harden(RedirectResponse(next_url, status_code=303))
    return await _sign_in_page(request, next_url=next_url)


async def sign_in(request: Request) -> Response:
    await limit(request, "sign_in")
    services = services_of(request)
    form = Form(await request.form())
    auth.check_sign_in_form(request, services.settings, form.data.get("form_token"))
    email = form.text("email", max_len=254)
    password = form.secret("password", max_len=1024)
    next_url = _safe_next(form.data.get("next"))
    if not email or not password:
        return await _sign_in_page(
            request,
            email=email,
            error="Enter your email address and your password.",
            error_code="missing_credentials",
            status=400,
            next_url=next_url,
        )
    result = await auth.check_password(services, email, password, client_address(request))
    if result.locked_until is not None:
        until = result.locked_until.strftime("%H:%M UTC")
        locked = await _sign_in_page(
            request,
            email=email,
            status=429,
            next_url=next_url,
            error_code="account_locked",
            error=f"Too many wrong passwords from here. Sign-in to this account is locked until {until}; try again then.",
        )
        locked.headers["Retry-After"] = str(max(1, math.ceil((result.locked_until - utcnow()).total_seconds())))
        return locked
    if result.member is None:
        return await _sign_in_page(
            request,
            email=email,
            error="That email address and password do not match a member.",
            error_code="invalid_credentials",
            status=400,
            next_url=next_url,
        )
    response = harden(RedirectResponse(next_url, status_code=303))
    previous = await auth.current_session(request, services)
    if previous is not None:  # signing in again, maybe as someone else: the old session ends here
        await member_store.delete_session(services.db, previous.id_hash)
    await auth.start_session(services, response, result.member)
    return response


@member_view("integrations")
async def sign_out(dash: Dash) -> Response:
    response = redirect(dash, "/dashboard/sign-in", "You are signed out.", kind="info")
    await auth.end_session(dash.services, response, dash.session)
    return response


async def home(request: Request) -> Response:
    env = request.path_params.get("env", "sandbox")
    target = f"/dashboard/{env}/integrations" if env in ("sandbox", "production") else HOME
    return harden(RedirectResponse(target, status_code=303))
