"""Building a FlowContext from what a host hands us: public picker parameters, a connect
session, or an API request. Every check of the allowlists at creation time happens here."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from server.crypto import sha256_hex
from server.db import connect_sessions as session_store
from server.db.workspaces import Environment, get_environment
from server.errors import Forbidden, InvalidRequest, LatchkeyError
from server.flow.allowlist import normalise_origin, origin_allowed, url_allowed
from server.flow.context import MODES, THEMES, FlowContext
from server.flow.scopes import parse_scope_list
from server.flow.sessions import check_still_open, open_record
from server.languages import LANGS
from server.services import Services

_TOKENISH = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
ACCENT = re.compile(r"^[0-9a-fA-F]{6}$")
# The host's own opaque value, echoed back (docs/protocol.md).
MAX_HOST_STATE = 512
# A host origin allowed to hear why a picker could not open, and the nonce of its embed script.
Audience = tuple[str, str | None]
_CATEGORY = re.compile(r"^[a-z][a-z0-9_-]{0,40}$")


def _list(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(dict.fromkeys(str(i).strip() for i in items if str(i).strip()))


def check_external_xref(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest("external_xref (the host's ID for the end-user) is required.")
    xref = value.strip()
    if len(xref) > 255 or any(ord(c) < 32 for c in xref):
        raise InvalidRequest("external_xref must be at most 255 printable characters.")
    return xref


def check_redirects(env: Environment, success_url: str | None, failure_url: str | None) -> None:
    for name, url in (("success_url", success_url), ("failure_url", failure_url)):
        if url and not url_allowed(url, env.allowed_redirect_urls):
            raise InvalidRequest(
                f"{name} {url!r} is not on this environment's allowed redirect URLs.", code="redirect_not_allowed"
            )


def check_origin(env: Environment, origin: str | None, mode: str) -> str | None:
    if mode == "redirect" and not origin:
        return None
    if not origin:
        raise InvalidRequest("origin (the host page's origin) is required for popup and inline modes.")
    if not origin_allowed(origin, env.allowed_origins):
        raise InvalidRequest(
            f"The origin {origin!r} is not on this environment's allowed origins.", code="origin_not_allowed"
        )
    return normalise_origin(origin)


def check_integrations(services: Services, env: Environment, slugs: tuple[str, ...]) -> tuple[str, ...]:
    for slug in slugs:
        if services.catalog.offered(slug, env.name) is None:
            raise InvalidRequest(f"Unknown integration {slug!r}.", code="integration_not_found", status=400)
    return slugs


def display_options(params: Mapping[str, Any]) -> dict[str, Any]:
    mode = params.get("mode") or "popup"
    if mode not in MODES:
        raise InvalidRequest(f"mode must be one of {', '.join(MODES)}.")
    theme = params.get("theme") or "auto"
    if theme not in THEMES:
        raise InvalidRequest(f"theme must be one of {', '.join(THEMES)}.")
    lang = (params.get("lang") or "").split("-")[0].lower()
    accent = params.get("accent") or None
    if accent and not ACCENT.match(accent.lstrip("#")):
        raise InvalidRequest("accent must be a colour like 4f46e5.")
    nonce = params.get("nonce") or None
    if nonce and not _TOKENISH.match(nonce):
        raise InvalidRequest("nonce must be 16–128 URL-safe characters.")
    channel = params.get("channel") or None
    if channel and not re.fullmatch(r"[A-Za-z0-9_-]{32,128}", channel):
        raise InvalidRequest("channel must be 32–128 URL-safe characters.")
    state = params.get("state") or None
    if state and len(state) > MAX_HOST_STATE:
        raise InvalidRequest(f"state must be at most {MAX_HOST_STATE} characters.")
    return {
        "mode": mode,
        "theme": theme,
        "lang": lang if lang in LANGS else "",  # empty: each page follows the browser's languages
        "accent": accent.lstrip("#") if accent else None,
        "nonce": nonce,
        "channel_hash": sha256_hex(channel) if channel else None,
        "host_state": state,
    }


def build_context(
    services: Services,
    env: Environment,
    *,
    external_xref: Any,
    scopes: Any = None,
    integrations: Any = None,
    categories: Any = None,
    success_url: str | None = None,
    failure_url: str | None = None,
    origin: str | None = None,
    via_session: bool = False,
    connection_id: str | None = None,
    session_id: str | None = None,
    display: dict[str, Any] | None = None,
) -> FlowContext:
    display = display or {"mode": "redirect"}
    cats = _list(categories)
    if any(not _CATEGORY.match(c) for c in cats):
        raise InvalidRequest("categories must be category names like crm,ticketing.")
    check_redirects(env, success_url, failure_url)
    return FlowContext(
        workspace_id=env.workspace_id,
        environment=env.name,
        external_xref=check_external_xref(external_xref),
        scopes=parse_scope_list(scopes if not isinstance(scopes, tuple) else list(scopes)),
        integrations=check_integrations(services, env, _list(integrations)),
        categories=cats,
        success_url=success_url or None,
        failure_url=failure_url or None,
        origin=check_origin(env, origin, display.get("mode", "redirect")),
        via_session=via_session,
        connection_id=connection_id,
        session_id=session_id,
        **display,
    )


async def context_from_picker_params(services: Services, params: Mapping[str, str]) -> FlowContext:
    """The picker's query string: a connect session token, or public parameters where allowed."""
    display = display_options(params)
    if params.get("session"):
        record = await open_record(services, params["session"], "session", what="connect session")
        data = record.context
        env = await get_environment(services.db, record.workspace_id, record.environment)
        fixed_origin = data.get("origin")
        origin = params.get("origin") or fixed_origin
        if fixed_origin and normalise_origin(origin) != normalise_origin(fixed_origin):
            raise InvalidRequest("This connect session was created for another origin.", code="origin_not_allowed")
        base = FlowContext.from_dict(data)
        return build_context(
            services,
            env,
            external_xref=base.external_xref,
            scopes=list(base.scopes),
            integrations=list(base.integrations),
            categories=list(base.categories) or params.get("categories"),
            success_url=base.success_url,
            failure_url=base.failure_url,
            origin=origin,
            via_session=True,
            connection_id=base.connection_id,
            session_id=record.id,
            display={**display, "host_state": display["host_state"] or base.host_state},
        )
    workspace_id = params.get("workspace") or ""
    env = await get_environment(services.db, workspace_id, _environment_named(params))
    if not env.public_mode:
        raise Forbidden(
            "This environment only opens the widget with a connect session from the host's backend "
            "(POST /api/v1/connect-sessions).",
            code="session_required",
        )
    return build_context(
        services,
        env,
        external_xref=params.get("external_xref"),
        scopes=params.get("scopes"),
        integrations=params.get("integrations"),
        categories=params.get("categories"),
        success_url=params.get("success_url"),
        failure_url=params.get("failure_url"),
        origin=params.get("origin"),
        display=display,
    )


async def reopen_context(services: Services, ctx: FlowContext) -> FlowContext:
    """A signed context shown again (the result page's "Try again"): checked anew against its
    session and the environment's allowlists as they are now, as a fresh picker would be."""
    await check_still_open(services, ctx.session_id)
    env = await get_environment(services.db, ctx.workspace_id, ctx.environment)
    check_redirects(env, ctx.success_url, ctx.failure_url)
    check_origin(env, ctx.origin, ctx.mode)
    check_integrations(services, env, ctx.integrations)
    return ctx


def _environment_named(params: Mapping[str, str]) -> str:
    return params.get("env") or params.get("environment") or "sandbox"


async def failure_audience(services: Services, params: Mapping[str, str]) -> Audience | None:
    """Who may hear why a picker could not open: `(host origin, nonce)` when the parameters name an
    environment (by its session, even an expired or used one, or by workspace and env) whose allowed
    origins hold the `origin` parameter; else None, and the error page stays unframeable and silent.

    An inline picker's error page may then be framed by that origin alone and post
    `connection.failed` to it, so the host's onError fires instead of a blocked-frame icon."""
    origin = normalise_origin(params.get("origin"))
    if origin is None or params.get("mode") not in ("inline", "popup"):
        return None
    try:
        token = params.get("session")
        if token:
            record = await session_store.find_by_token(services.db, token)
            if record is None:
                return None
            fixed_origin = record.context.get("origin")
            if fixed_origin and normalise_origin(fixed_origin) != origin:
                return None
            env = await get_environment(services.db, record.workspace_id, record.environment)
        else:
            workspace_id = params.get("workspace") or ""
            env = await get_environment(services.db, workspace_id, _environment_named(params))
    except LatchkeyError:
        return None
    if not origin_allowed(origin, env.allowed_origins):
        return None
    nonce = params.get("nonce")
    return origin, nonce if nonce and _TOKENISH.match(nonce) else None
