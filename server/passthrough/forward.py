"""One passthrough call: the connection's credentials valid now, the provider called, the answer relayed.

Both bodies stream: a request body larger than `REPLAY_BYTES` goes to the provider as it arrives,
a response body comes back as it arrives, each under its cap, the whole call under one deadline.
A 401 on a refreshable connection gets one refresh (skipped when another caller refreshed since
this one read the token) and one retry — when the request can be sent again: an idempotent
method with its body kept, or any method without a body. A second 401 marks the connection
unhealthy (`connection.unhealthy`). The host's credentials, cookies and hop-by-hop headers never
reach the provider; the provider's cookies and auth challenges never reach the host.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from server.addresses import AddressRefused, Unresolvable
from server.catalog.models import Integration
from server.db import connections as store
from server.db.connections import Connection
from server.db.workspaces import Environment
from server.errors import Conflict, LatchkeyError, ProviderError, ProviderUnavailable
from server.flow.context import FlowContext
from server.flow.steps import client_credentials
from server.lifecycle import refresh
from server.passthrough.paths import checked_path
from server.passthrough.target import Consumer, Target, base_url, build, sandbox_target
from server.sandbox.tokens import ACCOUNT_PREFIX, mint_access_token
from server.services import Services

logger = logging.getLogger("latchkey.passthrough")

REPLAY_BYTES = 65_536  # a body up to this size is kept, so a call can be sent again after a refresh
WHOLE_BYTES = 65_536  # an answer declared this small is read whole before it is relayed (one send, no stream)
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)
# Never forwarded to the provider: the host's own credentials and cookies, addressing, forwarding.
_NOT_FORWARDED = _HOP_BY_HOP | {
    "authorization",
    "proxy-authorization",
    "cookie",
    "host",
    "content-length",
    "expect",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-real-ip",
    "x-request-id",
}
# Never returned to the host: the provider's cookies and auth challenges, and what would speak
# for Latchkey's own origin (transport security, alternative services, cross-origin rules).
_NOT_RETURNED = _HOP_BY_HOP | {
    "set-cookie",
    "set-cookie2",
    "www-authenticate",
    "proxy-authenticate",
    "strict-transport-security",
    "alt-svc",
    "content-security-policy",
    "server",
}
_SANDBOX_FORM_TOKEN_LIFETIME = timedelta(minutes=5)


class PayloadTooLarge(LatchkeyError):
    """The request body is larger than passthrough accepts."""

    code = "payload_too_large"


class Interrupted(Exception):
    """The provider's answer was cut off after it began (deadline, size cap, or the provider broke off)."""

    def __init__(self, message: str, *, deadline: bool = False) -> None:
        super().__init__(message)
        self.deadline = deadline


@dataclass(frozen=True)
class Call:
    """A host's passthrough request as it came: the raw path and query, its headers and body."""

    method: str
    path: str  # as sent, percent-encoded, after /passthrough/{connection_id}/
    query: str  # as sent
    headers: list[tuple[str, str]]
    body: AsyncIterator[bytes]
    content_length: int | None
    chunked: bool

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.content_length)


@dataclass
class Relayed:
    """The provider's answer, its body still to be read (and the response closed after)."""

    status: int
    headers: list[tuple[str, str]]
    body: AsyncIterator[bytes]
    connection: Connection
    integration: str
    _response: httpx.Response
    content: bytes | None = None  # the whole body, already read, when it was declared small

    async def aclose(self) -> None:
        await self._response.aclose()


async def forward(services: Services, env: Environment, connection_id: str, call: Call) -> Relayed:
    """Make the call to the connection's provider and return its answer to relay."""
    path = checked_path(call.path)  # before anything: a path that could leave the base reaches no one
    settings = services.settings
    cap = settings.passthrough_max_request_bytes
    if call.content_length is not None and call.content_length > cap:
        raise PayloadTooLarge(f"The request body is larger than {cap} bytes.")
    connection, credentials = await refresh.credentials_valid_now(services, env.workspace_id, env.name, connection_id)
    integration = services.catalog.get(connection.integration)
    if integration is None or (integration.api is None and not env.is_sandbox):
        raise Conflict(
            f"The integration {connection.integration!r} has no API passthrough (its catalog entry has no api)."
        )
    body = await _body(call, cap)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.passthrough_timeout
    target = await _target(services, env, integration, connection, credentials, path, call, body)
    response = await _send(services, call, target, body, deadline)
    try:
        if response.status_code == 401 and _may_retry(call, body, credentials):
            renewed = await _renewed(services, connection, credentials)
            if renewed is not None:
                await response.aclose()
                connection, credentials = renewed
                target = await _target(services, env, integration, connection, credentials, path, call, body)
                response = await _send(services, call, target, body, deadline)
                if response.status_code == 401:
                    await refresh.rejected(
                        services,
                        connection.id,
                        str(credentials.get("access_token")),
                        f"{integration.name} refused the access token (HTTP 401) right after it was refreshed.",
                    )
        return await _relayed(services, response, connection, integration, deadline)
    except BaseException:
        await response.aclose()  # whatever failed, the provider's connection goes back to the pool
        raise


async def _body(call: Call, cap: int) -> bytes | AsyncIterator[bytes]:
    """The body kept whole when it is small (so the call can be repeated), else streamed under `cap`."""
    if not call.has_body:
        return b""
    if call.content_length is not None and call.content_length <= REPLAY_BYTES:
        return b"".join([chunk async for chunk in call.body])
    return _capped(call.body, cap)


async def _capped(body: AsyncIterator[bytes], cap: int) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in body:
        seen += len(chunk)
        if seen > cap:
            raise PayloadTooLarge(f"The request body is larger than {cap} bytes.")
        yield chunk


def _may_retry(call: Call, body: bytes | AsyncIterator[bytes], credentials: dict[str, Any]) -> bool:
    if not isinstance(body, bytes) or not credentials.get("refresh_token"):
        return False
    return call.method in IDEMPOTENT or body == b""


async def _renewed(
    services: Services, connection: Connection, credentials: dict[str, Any]
) -> tuple[Connection, dict[str, Any]] | None:
    """Credentials newer than the ones the provider refused: another caller's, or a refresh's now."""
    state = await store.load_refresh_state(services.db, services.sealer, connection.id)
    if state is None:
        return None
    if state.credentials.get("access_token") != credentials.get("access_token"):
        return state.connection, state.credentials  # refreshed (or re-authorized) since we read it
    attempt = await refresh.refresh(services, connection.id, margin=None)
    if attempt.outcome != "refreshed":
        return None  # the first 401 goes back to the host; a refused refresh token already made it unhealthy
    return attempt.connection, attempt.credentials


async def _target(
    services: Services,
    env: Environment,
    integration: Integration,
    connection: Connection,
    credentials: dict[str, Any],
    path: str,
    call: Call,
    body: bytes | AsyncIterator[bytes],
) -> Target:
    if env.is_sandbox:
        token = credentials.get("access_token")
        if not isinstance(token, str):
            # A sandbox form connection (an API key…) holds no token: the sandbox API gets one for it.
            token = mint_access_token(services.signer, ACCOUNT_PREFIX + connection.id, _SANDBOX_FORM_TOKEN_LIFETIME)
        return sandbox_target(f"{services.settings.base_url}/sandbox/api", path, call.query, token)
    api = integration.api
    assert api is not None
    consumer = None
    form_body = b""
    if api.auth == "oauth1":
        ctx = FlowContext(
            workspace_id=connection.workspace_id,
            environment=connection.environment,
            external_xref=connection.external_xref,
        )
        creds = await client_credentials(services, ctx, integration)
        consumer = Consumer(creds.client_id, creds.client_secret or "")
        if _media_type(call.headers) == "application/x-www-form-urlencoded":
            if not isinstance(body, bytes):
                raise PayloadTooLarge(f"An OAuth 1.0a form body is signed whole: at most {REPLAY_BYTES} bytes.")
            form_body = body
    return build(
        integration,
        base=base_url(api, connection.metadata),
        path=path,
        query=call.query,
        method=call.method,
        credentials=credentials,
        metadata=connection.metadata,
        consumer=consumer,
        form_body=form_body,
    )


def _media_type(headers: list[tuple[str, str]]) -> str:
    for name, value in headers:
        if name.lower() == "content-type":
            return value.split(";")[0].strip().lower()
    return ""


def _connection_listed(headers: Iterable[tuple[str, str]]) -> set[str]:
    """The headers a `Connection` header names: hop-by-hop for this message, never relayed."""
    return {t.strip().lower() for n, v in headers if n.lower() == "connection" for t in v.split(",") if t.strip()}


def forwarded_headers(call_headers: list[tuple[str, str]], target: Target) -> list[tuple[str, str]]:
    """The host's headers the provider may see, the integration's fixed ones it did not set, the credential."""
    credential = target.credential[0].lower() if target.credential else None
    fixed = {name.lower(): (name, value) for name, value in target.headers.items()}
    listed = _connection_listed(call_headers)
    kept: list[tuple[str, str]] = []
    for name, value in call_headers:
        lower = name.lower()
        if lower in _NOT_FORWARDED or lower in listed or lower == credential or lower.startswith("latchkey-"):
            continue
        fixed.pop(lower, None)  # the host's own value of a fixed header (an API version, a tenant) wins
        kept.append((name, value))
    if not any(name.lower() == "accept-encoding" for name, _ in kept):
        kept.append(("Accept-Encoding", "identity"))  # relayed as it comes: no encoding the host did not ask for
    kept += fixed.values()
    if target.credential:
        kept.append(target.credential)
    return kept


async def _send(
    services: Services, call: Call, target: Target, body: bytes | AsyncIterator[bytes], deadline: float
) -> httpx.Response:
    http = services.typed_host_http if target.typed_host else services.http
    headers = forwarded_headers(call.headers, target)
    if call.content_length is not None:
        headers.append(("Content-Length", str(call.content_length)))
    try:
        async with asyncio.timeout_at(deadline):
            return await http.open_stream(
                call.method, target.url, headers=headers, content=body, timeout=services.settings.passthrough_timeout
            )
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise ProviderUnavailable(
            f"The provider did not answer within {services.settings.passthrough_timeout:g} s."
        ) from exc
    except (Unresolvable, AddressRefused) as exc:
        raise ProviderUnavailable(f"The provider's API host cannot be used: {exc}", status=502) from exc
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(f"The provider could not be reached ({exc.__class__.__name__}).", status=502) from exc


async def _relayed(
    services: Services, response: httpx.Response, connection: Connection, integration: Integration, deadline: float
) -> Relayed:
    cap = services.settings.passthrough_max_response_bytes
    length = response.headers.get("content-length", "")
    declared = int(length) if length.isdigit() else None
    if declared is not None and declared > cap:
        raise ProviderError(f"The provider's answer is larger than {cap} bytes.")
    listed = _connection_listed(response.headers.multi_items())
    headers = [
        (name, value)
        for name, value in response.headers.multi_items()
        if name.lower() not in _NOT_RETURNED
        and name.lower() not in listed
        and not name.lower().startswith("access-control-")
    ]
    headers += [("Latchkey-Connection-Id", connection.id), ("Latchkey-Integration", integration.slug)]
    body = _relay_body(response, deadline, cap)
    content = None
    if declared is not None and declared <= WHOLE_BYTES:
        # Most API answers: read before the answer starts, so a provider that breaks off is still a
        # clean 502/504 for the host, and the answer goes out in one piece.
        try:
            content = b"".join([chunk async for chunk in body])
        except Interrupted as exc:
            status = 504 if exc.deadline else 502
            raise ProviderUnavailable(f"The provider's answer did not arrive whole: {exc}.", status=status) from exc
    return Relayed(
        status=response.status_code,
        headers=headers,
        body=body,
        connection=connection,
        integration=integration.slug,
        _response=response,
        content=content,
    )


async def _relay_body(response: httpx.Response, deadline: float, cap: int) -> AsyncIterator[bytes]:
    """The provider's bytes as they come (still encoded), until the deadline or the cap."""
    chunks = response.aiter_raw()
    size = 0
    while True:
        try:
            async with asyncio.timeout_at(deadline):
                chunk = await anext(chunks, None)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise Interrupted("the deadline passed while the provider was still sending", deadline=True) from exc
        except httpx.HTTPError as exc:
            raise Interrupted(f"the provider broke off its answer ({exc.__class__.__name__})") from exc
        if chunk is None:
            return
        size += len(chunk)
        if size > cap:
            raise Interrupted(f"the answer grew past {cap} bytes")
        yield chunk
