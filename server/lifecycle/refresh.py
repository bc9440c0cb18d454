"""Refreshing a connection's access token, one refresher per connection across processes.

The lock is a lease on the connection row: `UPDATE connections SET refresh_lock_until = now + L
WHERE id = :id AND (refresh_lock_until IS NULL OR refresh_lock_until < now) RETURNING id` — on
SQLite and Postgres alike, of any number of concurrent callers exactly one gets the row. The
winner re-reads the row under the lease (someone may have refreshed just before), calls the
provider, and stores the new access token and the new refresh token (or keeps the old one when
the provider sends none) in one UPDATE. The others poll until the winner has finished an attempt
and share its result instead of calling the provider again. A crashed winner's lease simply
expires (L is longer than any provider call can take).

Failures are classified: a refused refresh token (`invalid_grant` …) makes the connection
unhealthy at once, with a `connection.unhealthy` webhook; anything else (an outage, a timeout, a
5xx) is retried with backoff and leaves the status alone until it has lasted longer than
`refresh_failure_grace` (24 h by default).
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from server import metrics
from server.catalog.models import Integration, OAuth2Spec
from server.db import connections as store
from server.db import events
from server.db.clock import utcnow
from server.db.connections import Connection, CredentialsUnreadable, RefreshState
from server.db.statements import Row
from server.errors import ConnectionUnhealthy, FlowError, LatchkeyError, NotFound, ProviderError, ProviderUnavailable
from server.flow.context import FlowContext
from server.flow.oauth2 import oauth2_spec
from server.flow.steps import ClientCredentials, client_credentials
from server.flow.templating import render_url
from server.flow.tokens import TokenSet, token_request
from server.lifecycle.backoff import refresh_retry_delay
from server.services import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Services

logger = logging.getLogger("latchkey.refresh")

REFRESH_MARGIN = timedelta(minutes=5)
PERMANENT_ERRORS = frozenset(
    {"invalid_grant", "invalid_refresh_token", "bad_refresh_token", "token_revoked", "refresh_token_expired"}
)
_POLL_FIRST, _POLL_MAX = 0.02, 0.25
_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
_inflight: set[asyncio.Task[Attempt]] = set()


@dataclass(frozen=True)
class Attempt:
    """What a refresh (or a health check) came to."""

    outcome: str  # fresh | refreshed | not_refreshable | failed
    connection: Connection
    credentials: dict[str, Any]
    error: str | None = None
    message: str | None = None
    permanent: bool = False

    def as_json(self) -> dict[str, Any]:
        error = {"code": self.error, "message": self.message} if self.error else None
        return {"outcome": self.outcome, "error": error}


def lease_seconds(services: Services) -> float:
    """Longer than a provider call can take, so a live winner never loses its lease."""
    return max(30.0, services.settings.http_timeout * 3)


def needs_refresh(connection: Connection, now: datetime, margin: timedelta) -> bool:
    return connection.expires_at is not None and connection.expires_at <= now + margin


async def credentials_valid_now(
    services: Services, workspace_id: str, environment: str, connection_id: str
) -> tuple[Connection, dict[str, Any]]:
    """The connection's credentials, refreshed first when the access token expires within 5 minutes.

    One read for the connection and its credentials: the request a host makes before each call."""
    return await _valid_now(services, connection_id, await _load(services, connection_id, (workspace_id, environment)))


async def credentials_valid_in(
    services: Services, connection_id: str, row: Row | None
) -> tuple[Connection, dict[str, Any]]:
    """`credentials_valid_now` for a whole connection row already read with the API key
    (store.read_with_key): None when the key's environment has no such connection."""
    return await _valid_now(services, connection_id, None if row is None else await _opened(services, row))


async def _valid_now(
    services: Services, connection_id: str, state: RefreshState | None
) -> tuple[Connection, dict[str, Any]]:
    if state is None:
        raise store.not_found(connection_id)
    connection = state.connection
    now = utcnow()
    if not needs_refresh(state.connection, now, REFRESH_MARGIN) or not state.credentials.get("refresh_token"):
        return state.connection, state.credentials
    if state.connection.status == "unhealthy":
        # Do not hammer the provider with a refresh token it refused; /check retries on demand.
        return _still_valid_or(state.connection, state.credentials, now, _unhealthy(state.connection))
    attempt = await refresh(services, connection.id, margin=REFRESH_MARGIN)
    if attempt.outcome != "failed":
        return attempt.connection, attempt.credentials
    if attempt.permanent or attempt.connection.status == "unhealthy":
        failure: LatchkeyError = _unhealthy(attempt.connection)
    elif attempt.error == ProviderUnavailable.code:
        failure = ProviderUnavailable(
            f"The access token has expired and the provider could not be reached to refresh it: {attempt.message}"
        )
    else:
        failure = ProviderError(f"The access token has expired and refreshing it failed: {attempt.message}")
    return _still_valid_or(attempt.connection, attempt.credentials, utcnow(), failure)


def _still_valid_or(
    connection: Connection, credentials: dict[str, Any], now: datetime, failure: LatchkeyError
) -> tuple[Connection, dict[str, Any]]:
    """An access token that has not expired yet is still worth handing out."""
    if connection.expires_at is not None and connection.expires_at > now:
        return connection, credentials
    raise failure


async def _load(services: Services, connection_id: str, scope: tuple[str, str] | None = None) -> RefreshState | None:
    """The connection as the refresher sees it; credentials that no longer decrypt make it unhealthy (409)."""
    try:
        return await store.load_refresh_state(services.db, services.sealer, connection_id, scope)
    except CredentialsUnreadable as exc:
        raise await _unreadable(services, exc) from exc


async def _opened(services: Services, row: Row) -> RefreshState:
    """`_load` for a row already read."""
    try:
        return store.refresh_state_of(services.sealer, row)
    except CredentialsUnreadable as exc:
        raise await _unreadable(services, exc) from exc


async def _unreadable(services: Services, unreadable: CredentialsUnreadable) -> ConnectionUnhealthy:
    """Stored credentials that do not decrypt (another secret key, a ciphertext from another row) can
    never be used again: the connection is unhealthy at once, with its reason and webhook."""
    reason = "Its stored credentials could not be decrypted (another secret key, or a tampered row)."
    async with services.db.transaction():
        marked = await store.mark_credentials_unreadable(services.db, unreadable, reason=reason, now=utcnow())
        if marked is not None:
            # server_error: the fault is on Latchkey's side (its key, its rows), not the provider's.
            await _record(services, marked, "connection.unhealthy", error_code="server_error", detail=reason)
    if marked is not None:
        logger.error("the credentials of connection %s do not decrypt: now unhealthy", marked.id)
    return _unhealthy(marked or unreadable.connection, reason)


async def rejected(services: Services, connection_id: str, access_token: str, reason: str) -> None:
    """The provider refused an access token that was just refreshed (passthrough's second 401): the
    connection is unhealthy, with its reason and webhook — unless its token changed meanwhile."""
    state = await _load(services, connection_id)
    if state is None or state.credentials.get("access_token") != access_token:
        return
    async with services.db.transaction():
        marked = await store.mark_rejected(services.db, state, reason=reason, now=utcnow())
        if marked is not None:
            await _record(services, marked, "connection.unhealthy", error_code="provider_error", detail=reason)
    if marked is not None:
        logger.warning("connection %s (%s) is unhealthy: %s", marked.id, marked.integration, reason)


def _unhealthy(connection: Connection, reason: str | None = None) -> ConnectionUnhealthy:
    reason = reason or connection.status_reason or "Its tokens can no longer be refreshed."
    return ConnectionUnhealthy(
        f"The connection is unhealthy: {reason} Re-authorize it (POST /api/v1/connect-sessions with connection_id)."
    )


async def check(services: Services, connection: Connection) -> Attempt:
    """A health check: refresh now if the connection can be refreshed, else report its status."""
    return await refresh(services, connection.id, margin=None)


async def refresh(services: Services, connection_id: str, *, margin: timedelta | None) -> Attempt:
    """Refresh unless the token is good for `margin` more (None: refresh regardless).

    Exactly one caller at a time calls the provider; the others wait for its result.
    """
    db = services.db
    lease = lease_seconds(services)
    token = secrets.token_hex(16)
    asked_at = utcnow()
    loop = asyncio.get_running_loop()
    give_up = loop.time() + lease + services.settings.http_timeout
    pause = _POLL_FIRST
    while True:
        now = utcnow()
        if await store.acquire_refresh_lease(db, connection_id, token, now, now + timedelta(seconds=lease)):
            # Shielded: once the provider may have rotated the refresh token, storing the new one
            # must not be cancelled with the request that asked.
            task = asyncio.ensure_future(_refresh_holding_lease(services, connection_id, token, margin, lease))
            _inflight.add(task)
            task.add_done_callback(_inflight.discard)
            attempt = await asyncio.shield(task)
            metrics.refreshed(attempt.outcome)  # the lease holder's attempt: once however many waited
            return attempt
        await asyncio.sleep(pause)
        pause = min(pause * 2, _POLL_MAX)
        state = await _load(services, connection_id)
        if state is None:
            raise NotFound("The connection was deleted.")
        if state.attempted_at is not None and state.attempted_at >= asked_at:
            return _shared(state)
        if margin is not None and not needs_refresh(state.connection, utcnow(), margin):
            return Attempt("fresh", state.connection, state.credentials)
        if loop.time() > give_up:
            raise ProviderUnavailable("Another refresh of this connection is still running; try again shortly.")


def _shared(state: RefreshState) -> Attempt:
    """The result of the attempt another refresher finished while this one waited."""
    if state.error is None:
        return Attempt("refreshed", state.connection, state.credentials)
    return Attempt(
        "failed",
        state.connection,
        state.credentials,
        error=state.error,
        message=state.connection.status_reason or f"The refresh failed ({state.error}).",
        permanent=state.error in PERMANENT_ERRORS,
    )


async def _refresh_holding_lease(
    services: Services, connection_id: str, token: str, margin: timedelta | None, lease: float
) -> Attempt:
    try:
        state = await _load(services, connection_id)
        if state is None:
            raise NotFound("The connection was deleted.")
        if margin is not None and not needs_refresh(state.connection, utcnow(), margin):
            return Attempt("fresh", state.connection, state.credentials)  # refreshed just before we got the lease
        integration = services.catalog.get(state.connection.integration)
        if not _refreshable(state, integration, services):
            if state.refreshable is not False:
                await store.mark_not_refreshable(services.db, state)
            return Attempt("not_refreshable", state.connection, state.credentials)
        assert integration is not None
        try:
            async with asyncio.timeout(max(1.0, lease - 5)):
                tokens = await _request(services, state, integration)
        except TimeoutError:
            return await _failed(services, state, ProviderUnavailable("The provider did not answer in time."))
        except LatchkeyError as exc:
            return await _failed(services, state, exc)
        return await _refreshed(services, state, tokens)
    finally:
        await store.release_refresh_lease(services.db, connection_id, token)


def _refreshable(state: RefreshState, integration: Integration | None, services: Services) -> bool:
    if integration is None or state.credentials.get("type") != "oauth2" or not state.credentials.get("refresh_token"):
        return False
    if state.connection.environment == "sandbox":
        return integration.is_redirect  # the sandbox provider refreshes every simulated integration
    return integration.oauth2 is not None and integration.oauth2.refresh


async def _request(services: Services, state: RefreshState, integration: Integration) -> TokenSet:
    connection = state.connection
    sandbox = connection.environment == "sandbox"
    spec: OAuth2Spec = oauth2_spec(integration, sandbox)
    if sandbox:
        # Test connections exist for integrations that are not activated: the sandbox client is synthetic.
        creds = ClientCredentials(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)
        token_url = f"{services.sandbox_issuer}/oauth/token"
    else:
        ctx = FlowContext(
            workspace_id=connection.workspace_id,
            environment=connection.environment,
            external_xref=connection.external_xref,
        )
        creds = await client_credentials(services, ctx, integration)
        names = {v.name for v in (*integration.variables, *spec.variables)}
        values = {k: str(v) for k, v in connection.metadata.items() if k in names}
        try:
            token_url = render_url(spec.token_url, values)
        except KeyError as exc:
            raise FlowError(
                f"The connection lacks the value {exc.args[0]!r} its token URL needs.", code="invalid_request"
            ) from exc
    return await token_request(
        services.http,
        spec,
        token_url,
        {"grant_type": "refresh_token", "refresh_token": state.credentials["refresh_token"]},
        client_id=creds.client_id,
        client_secret=creds.client_secret,
    )


def _merged_credentials(old: dict[str, Any], tokens: TokenSet) -> dict[str, Any]:
    fresh = dict(old)
    fresh.update(access_token=tokens.access_token, token_type=tokens.token_type)
    if tokens.refresh_token:
        fresh["refresh_token"] = tokens.refresh_token  # rotated; otherwise the old one stays valid
    if tokens.expires_at:
        fresh["expires_at"] = tokens.expires_at.isoformat()
    else:
        fresh.pop("expires_at", None)
    if tokens.id_token:
        fresh["id_token"] = tokens.id_token
    return fresh


async def _refreshed(services: Services, state: RefreshState, tokens: TokenSet) -> Attempt:
    db = services.db
    credentials = _merged_credentials(state.credentials, tokens)
    metadata = {**state.connection.metadata, **tokens.metadata}
    now = utcnow()
    store_it = store.store_refreshed(
        db, services.sealer, state, credentials, expires_at=tokens.expires_at, metadata=metadata, now=now
    )
    if state.connection.status == "healthy":
        connection = await store_it
    else:
        async with db.transaction():
            connection = await store_it
            if connection is not None:
                await _record(services, connection, "connection.updated")
    if connection is None:
        return await _reauthorized_meanwhile(services, state)
    logger.info("refreshed the tokens of connection %s (%s)", connection.id, connection.integration)
    return Attempt("refreshed", connection, credentials)


def _error_code(error: LatchkeyError) -> str:
    code = getattr(error, "provider_code", None)
    return code if isinstance(code, str) and _CODE.match(code) else error.code


async def _failed(services: Services, state: RefreshState, error: LatchkeyError) -> Attempt:
    db = services.db
    now = utcnow()
    code = _error_code(error)
    permanent = isinstance(error, ProviderError) and code in PERMANENT_ERRORS
    unhealthy_reason: str | None = None
    if permanent:
        failures, failing_since, next_at = 0, None, None
        unhealthy_reason = f"The provider refused the refresh token ({code}): the end-user must re-authorize."
    else:
        failures = state.failures + 1
        failing_since = state.failing_since or now
        next_at = now + refresh_retry_delay(failures)
        grace = timedelta(seconds=services.settings.refresh_failure_grace)
        if now - failing_since >= grace:
            hours = grace.total_seconds() / 3600
            unhealthy_reason = f"Refreshing the tokens has failed for more than {hours:g} h ({code})."
    record_it = store.record_refresh_failure(
        db,
        state,
        error=code,
        now=now,
        failures=failures,
        failing_since=failing_since,
        next_refresh_at=next_at,
        unhealthy_reason=unhealthy_reason,
    )
    if unhealthy_reason is not None and state.connection.status != "unhealthy":
        async with db.transaction():
            connection = await record_it
            if connection is not None:
                await _record(services, connection, "connection.unhealthy", error_code=code, detail=unhealthy_reason)
    else:
        connection = await record_it
    if connection is None:
        return await _reauthorized_meanwhile(services, state)
    logger.warning(
        "refreshing connection %s (%s) failed: %s%s",
        connection.id,
        connection.integration,
        code,
        " (now unhealthy)" if unhealthy_reason else f" (attempt {failures}, retry after {next_at})",
    )
    return Attempt("failed", connection, state.credentials, error=code, message=error.message, permanent=permanent)


async def _reauthorized_meanwhile(services: Services, state: RefreshState) -> Attempt:
    """The end-user re-authorized during the refresh: the new grant wins, this result is dropped."""
    current = await _load(services, state.connection.id)
    if current is None:
        raise NotFound("The connection was deleted.")
    return Attempt("fresh", current.connection, current.credentials)


async def _record(
    services: Services, connection: Connection, type: str, *, error_code: str | None = None, detail: str | None = None
) -> None:
    await events.record_event(
        services.db,
        workspace_id=connection.workspace_id,
        environment=connection.environment,
        integration=connection.integration,
        external_xref=connection.external_xref,
        connection_id=connection.id,
        type=type,
        error_code=error_code,
        detail=detail,
    )
