"""What every dashboard page shares: the signed-in member, the environment, CSRF, the layout."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.audit_actions import Actor
from server.dashboard import auth
from server.dashboard.forms import Form
from server.db.database import Database
from server.db.workspaces import ENVIRONMENTS, Environment, get_environment
from server.errors import NotFound
from server.pages import render
from server.services import Services, services_of

SECTIONS = (
    ("integrations", "Integrations"),
    ("connections", "Connections"),
    ("embed", "Embed"),
    ("api-keys", "API keys"),
    ("webhooks", "Webhooks"),
    ("activity", "Activity"),
)

# The dashboard frames its own picker preview and posts its forms to itself; nothing else.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


@dataclass
class Dash:
    """One request to a member's page: who, which environment, and the submitted form."""

    request: Request
    services: Services
    session: auth.DashboardSession
    env: Environment
    section: str
    form: Form | None = None

    @property
    def db(self) -> Database:
        return self.services.db

    @property
    def workspace_id(self) -> str:
        return self.session.member.workspace_id

    @property
    def env_name(self) -> str:
        return self.env.name

    @property
    def actor(self) -> Actor:
        """Who the activity log says made a change from this page: the signed-in member."""
        return Actor.member(self.session.member.email)

    def url(self, *parts: str, **query: Any) -> str:
        path = "/".join(["/dashboard", self.env.name, *parts])
        query = {k: v for k, v in query.items() if v not in (None, "", [])}
        return f"{path}?{urlencode(query, doseq=True)}" if query else path


def harden(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    # `same-origin`: our own forms then post with a real Origin header (no-referrer makes it "null").
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def plain_page(request: Request, template: str, context: dict[str, Any], *, status: int = 200) -> Response:
    """A dashboard page outside the signed-in layout (sign-in)."""
    context.setdefault("lang", "en")
    context.setdefault("theme", "auto")
    return harden(render(request, f"dashboard/{template}", context, status=status))


def page(dash: Dash, template: str, context: dict[str, Any], *, status: int = 200) -> Response:
    services = dash.services
    flash, had_flash = auth.pop_flash(dash.request, services.settings)
    context = {
        "member": dash.session.member,
        "env": dash.env,
        "env_name": dash.env.name,
        "section": dash.section,
        "sections": SECTIONS,
        "csrf_field": auth.CSRF_FIELD,
        "csrf_token": dash.session.csrf_token,
        "flash": flash,
        "switch_urls": {name: f"/dashboard/{name}/{dash.section}" for name in ENVIRONMENTS},
        "base_url": services.settings.base_url,
        "url": dash.url,
        "errors": dash.form.errors if dash.form else {},
        **context,
    }
    response = plain_page(dash.request, template, context, status=status)
    if had_flash:
        auth.clear_flash(response, services.settings)
    return response


def redirect(dash: Dash, url: str, flash: str | None = None, *, kind: str = "success") -> Response:
    response = RedirectResponse(url, status_code=303)
    if flash:
        auth.set_flash(response, dash.services.settings, flash, kind)
    return harden(response)


View = Callable[[Dash], Awaitable[Response]]


def member_view(section: str) -> Callable[[View], Callable[[Request], Awaitable[Response]]]:
    """A page for signed-in members: resolves the environment, checks CSRF on POST, and turns an
    ID of another workspace (or of nothing) into the dashboard's own 404."""

    def decorate(view: View) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(view)
        async def endpoint(request: Request) -> Response:
            services = services_of(request)
            session = await auth.current_session(request, services)
            if session is None:
                target = request.url.path if request.method == "GET" else "/dashboard"
                response = RedirectResponse(f"/dashboard/sign-in?{urlencode({'next': target})}", status_code=303)
                if request.method != "GET":
                    auth.set_flash(
                        response, services.settings, "Your session ended. Sign in again; nothing was changed.", "info"
                    )
                return harden(response)
            env_name = request.path_params.get("env", "sandbox")
            if env_name not in ENVIRONMENTS:
                return await not_found(request, services, session, "There is no such environment.")
            env = await get_environment(services.db, session.member.workspace_id, env_name)
            dash = Dash(request=request, services=services, session=session, env=env, section=section)
            if request.method == "POST":
                dash.form = Form(await request.form())
                auth.check_csrf(request, services.settings, session, dash.form.data.get(auth.CSRF_FIELD))
            try:
                return await view(dash)
            except NotFound as exc:
                return page(dash, "not_found.html", {"message": exc.message}, status=404)

        return endpoint

    return decorate


async def not_found(request: Request, services: Services, session: auth.DashboardSession, message: str) -> Response:
    env = await get_environment(services.db, session.member.workspace_id, "sandbox")
    dash = Dash(request=request, services=services, session=session, env=env, section="integrations")
    return page(dash, "not_found.html", {"message": message}, status=404)
