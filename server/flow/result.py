"""The outcome of a flow and how it reaches the host: message envelope and redirect URLs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from server.errors import LatchkeyError
from server.flow.context import FlowContext


@dataclass(frozen=True)
class FlowResult:
    integration: str
    connection_id: str | None = None
    error: str | None = None
    error_description: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def failed(cls, integration: str, error: LatchkeyError) -> FlowResult:
        return cls(integration=integration, error=error.code, error_description=error.message[:300])


def message(ctx: FlowContext, result: FlowResult) -> dict[str, Any]:
    """The postMessage envelope of docs/protocol.md."""
    return _envelope(
        ctx.nonce,
        "connection.created" if result.ok else "connection.failed",
        connection_id=result.connection_id,
        integration=result.integration,
        external_xref=ctx.external_xref,
        state=ctx.host_state,
        error=result.error,
        error_description=result.error_description,
    )


def opening_failed(nonce: str | None, state: str | None, code: str, description: str) -> dict[str, Any]:
    """The envelope of a picker that could not open: no integration or end-user is known yet."""
    return _envelope(nonce, "connection.failed", state=state, error=code, error_description=description[:300])


def _envelope(
    nonce: str | None,
    kind: str,
    *,
    connection_id: str | None = None,
    integration: str | None = None,
    external_xref: str | None = None,
    state: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
) -> dict[str, Any]:
    return {
        "source": "latchkey",
        "version": 1,
        "nonce": nonce,
        "type": kind,
        "connectionId": connection_id,
        "integration": integration,
        "externalXref": external_xref,
        "state": state,
        "error": error,
        "errorDescription": error_description,
    }


def _with_query(url: str, params: dict[str, str | None]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def redirect_url(ctx: FlowContext, result: FlowResult) -> str | None:
    """Where redirect mode ends, or None when the flow has no URL for this outcome."""
    if result.ok and ctx.success_url:
        params: dict[str, str | None] = {"id": result.connection_id or ""} if ctx.unified else {}
        params.update(connection_id=result.connection_id or "", integration=result.integration, state=ctx.host_state)
        return _with_query(ctx.success_url, params)
    if not result.ok and ctx.failure_url:
        return _with_query(
            ctx.failure_url,
            {
                "error": result.error or "server_error",
                "error_description": result.error_description,
                "integration": result.integration,
                "state": ctx.host_state,
            },
        )
    return None


def app_url(ctx: FlowContext, result: FlowResult) -> str | None:
    """Where a flow that ends on our own page (redirect mode without this outcome's URL) offers
    "Back to app": the home of an origin the host named (its other URL, or its page's origin), all
    of them checked against the environment's allowlists."""
    for url in (ctx.success_url, ctx.failure_url, ctx.origin):
        if url:
            parts = urlsplit(url)
            return urlunsplit((parts.scheme, parts.netloc, "/", "", ""))
    return None
