"""Unified.to's authorization URL, for hosts migrating from it (docs/migrating-from-unified.md).

`GET /unified/integration/auth/{workspace_id}/{integration}` takes Unified's parameters
(`success_redirect`, `failure_redirect`, `external_xref`, `state`, `scopes`, `env`, `lang`,
`redirect`) and answers the URL that starts the flow as text — or sends the browser there with
`redirect=true`. It is a public-mode entrance like the picker's public parameters: refused where
the environment requires connect sessions, and every allowlist applies. The flow ends on
`success_redirect?id=<connection_id>&state=…` or `failure_redirect?error=…`.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from server.db.workspaces import get_environment
from server.errors import Forbidden, InvalidRequest, NotFound
from server.flow.opening import build_context, display_options
from server.services import services_of
from server.signing import SALT_CONTEXT
from server.throttle import limit

_TRUE = ("1", "true", "yes")


async def authorize(request: Request) -> Response:
    await limit(request, "start")
    services = services_of(request)
    q = request.query_params
    env_name = (q.get("env") or "production").lower()  # Unified's default, and its capitalised spelling
    if env_name not in ("sandbox", "production"):
        raise InvalidRequest("env must be Sandbox or Production.")
    env = await get_environment(services.db, request.path_params["workspace_id"], env_name)
    if not env.public_mode:
        raise Forbidden(
            "This environment only opens authorizations through a connect session from the host's backend "
            "(POST /api/v1/connect-sessions).",
            code="session_required",
        )
    slug = request.path_params["integration"]
    if services.catalog.offered(slug, env.name) is None:
        raise NotFound(f"No integration {slug!r} in this environment.", code="integration_not_found")
    scopes = [s for value in q.getlist("scopes") for s in value.split(",") if s.strip()]
    ctx = build_context(
        services,
        env,
        external_xref=q.get("external_xref"),
        scopes=scopes,
        integrations=[slug],
        success_url=q.get("success_redirect"),
        failure_url=q.get("failure_redirect"),
        display=display_options({"mode": "redirect", "lang": q.get("lang"), "state": q.get("state")}),
    ).with_(unified=True)
    token = services.signer.sign(SALT_CONTEXT, ctx.to_dict())
    url = f"{services.settings.base_url}/auth/{slug}/start?{urlencode({'ctx': token})}"
    if (q.get("redirect") or "").lower() in _TRUE:
        return RedirectResponse(url, status_code=302, headers={"Referrer-Policy": "no-referrer"})
    return PlainTextResponse(url, headers={"Cache-Control": "no-store"})
