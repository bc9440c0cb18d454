"""Connect sessions and authorization links in a flow: opening one, binding it to the browser
that starts first, and letting a successful flow complete with it (server/db/connect_sessions.py).

The residual risk is documented in docs/security.md: whoever starts first is taken to be the
end-user, so the host hands the token only to the signed-in user's page.
"""

from __future__ import annotations

from server.db import connect_sessions as session_store
from server.db import connections as connection_store
from server.db.clock import utcnow
from server.db.connect_sessions import Kind, Refusal, SessionRecord
from server.errors import FlowError, Forbidden, InvalidRequest, LatchkeyError, NotFound
from server.flow.context import FlowContext
from server.services import Services

_USED = "This link was already used, or opened in another browser. Please start again from the application."
_EXPIRED = "This link has expired or was withdrawn. Please start again from the application."


def refused(refusal: Refusal) -> LatchkeyError:
    if refusal == "used":
        return Forbidden(_USED, code="session_used")
    return InvalidRequest(_EXPIRED, code="expired_session")


async def open_record(services: Services, token: str | None, kind: Kind, *, what: str) -> SessionRecord:
    """The live record a token names, or a readable error (invalid_state, session_used, expired_session)."""
    record = await session_store.find_by_token(services.db, token) if token else None
    if record is None or record.kind != kind:
        raise InvalidRequest(f"This {what} is not valid.", code="invalid_state")
    refusal = record.refusal(utcnow())
    if refusal is not None:
        raise refused(refusal)
    return record


async def check_still_open(services: Services, session_id: str | None) -> None:
    """A flow context signed earlier (a "Try again" link) may open the picker again only while its
    connect session or link is neither expired, revoked nor used up."""
    if session_id is None:
        return
    record = await session_store.find_by_id(services.db, session_id)
    if record is None:
        raise InvalidRequest(_EXPIRED, code="expired_session")
    refusal = record.refusal(utcnow())
    if refusal is not None:
        raise refused(refusal)


async def bind_start(services: Services, ctx: FlowContext, *, browser_hash: str) -> None:
    """A start with a session or link: the first browser claims it, any other is refused."""
    if ctx.session_id is None:
        return
    refusal = await session_store.bind(services.db, ctx.session_id, browser_hash=browser_hash, picker_id=ctx.picker_id)
    if refusal is not None:
        raise refused(refusal)


async def complete_with(services: Services, ctx: FlowContext) -> None:
    """Before a flow's connection is stored: an authorization link is used up here, and a session
    minted to re-authorize a connection may only write that connection (not a new one in its place)."""
    if ctx.connection_id is not None:
        try:
            await connection_store.get_connection(services.db, ctx.workspace_id, ctx.environment, ctx.connection_id)
        except NotFound as exc:
            raise FlowError("The connection to re-authorize was deleted meanwhile.", code="not_found") from exc
    if ctx.session_id is None:
        return
    refusal = await session_store.complete(services.db, ctx.session_id)
    if refusal is not None:
        error = refused(refusal)
        raise FlowError(error.message, code=error.code)
