"""The error codes of Latchkey, and the named errors that carry them.

`ERROR_CODES` is the one registry: each stable snake_case code, the HTTP status it is answered
with unless a raise says otherwise, where it can be seen, and what it means. The OpenAPI
document, the table in docs/protocol.md and the widget's `LatchkeyErrorCode` are generated from
it (server/generated.py) and a test fails when one of them drifts.

No Starlette import here: the protocol code in `flow/` raises these, and `error_responses`
is the one place that turns them into a page, a failure redirect or a JSON body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

ErrorCodeName = Literal[
    "server_error",
    "invalid_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "conflict",
    "payload_too_large",
    "rate_limited",
    "access_denied",
    "invalid_state",
    "expired_state",
    "state_reused",
    "wrong_browser",
    "invalid_scope",
    "integration_not_active",
    "integration_not_found",
    "origin_not_allowed",
    "redirect_not_allowed",
    "session_required",
    "session_used",
    "expired_session",
    "issuer_mismatch",
    "invalid_credentials",
    "provider_error",
    "provider_unavailable",
    "sandbox_only",
    "connection_unhealthy",
    "service_unavailable",
    "csrf_failed",
    "missing_credentials",
    "account_locked",
    "invalid_email",
    "member_exists",
    "popup_blocked",
    "load_failed",
    "closed",
]

# Where a code can be seen:
#   browser   — the end-user's browser: a connection.failed message, a failure redirect's `error`,
#               or an error page's data-error-code (the widget's LatchkeyErrorCode lists these);
#   api       — a REST API answer {"error": {"code", "message"}};
#   dashboard — a dashboard page or the command line, for workspace members;
#   embed     — raised by the embed script itself, never by the service.
Surface = Literal["browser", "api", "dashboard", "embed"]


@dataclass(frozen=True)
class ErrorCode:
    code: ErrorCodeName
    status: int | None  # None: never an HTTP answer (the embed script's own codes)
    seen: frozenset[Surface]
    description: str


def _code(code: ErrorCodeName, status: int | None, seen: str, description: str) -> ErrorCode:
    surfaces = frozenset(seen.split())
    unknown = surfaces - set(get_args(Surface))
    if unknown:
        raise ValueError(f"{code}: unknown surface {sorted(unknown)}")
    return ErrorCode(code, status, surfaces, description)  # type: ignore[arg-type]  # checked just above


ERROR_CODES: dict[str, ErrorCode] = {
    e.code: e
    for e in (
        _code("server_error", 500, "browser api dashboard", "Something failed on Latchkey's side; nothing was saved."),
        _code("invalid_request", 400, "browser api dashboard", "A parameter or field is missing or malformed."),
        _code("unauthorized", 401, "api", "No valid secret API key was sent."),
        _code("forbidden", 403, "api", "Not allowed for this workspace or environment."),
        _code("not_found", 404, "browser api dashboard", "No such resource (or it belongs to another environment)."),
        _code("method_not_allowed", 405, "browser api", "The route exists, but not with this HTTP method."),
        _code("conflict", 409, "api", "The resource is in a state that does not allow this."),
        _code("payload_too_large", 413, "browser api", "The request body is larger than the service accepts."),
        _code(
            "rate_limited", 429, "browser api dashboard", "Too many requests; retry after the time Retry-After gives."
        ),
        _code("access_denied", 400, "browser", "The end-user declined the authorization at the provider."),
        _code(
            "invalid_state",
            400,
            "browser",
            "The callback's or link's state is missing, forged or for another integration.",
        ),
        _code("expired_state", 400, "browser", "The authorization or link outlived its lifetime; start again."),
        _code(
            "state_reused",
            400,
            "browser",
            "The authorization was already completed or abandoned (a replayed callback).",
        ),
        _code(
            "wrong_browser",
            400,
            "browser",
            "The callback arrived in another browser than the one that started the flow.",
        ),
        _code(
            "invalid_scope",
            400,
            "browser api",
            "A unified scope is unknown, not offered by the integration or not enabled.",
        ),
        _code(
            "integration_not_active", 400, "browser api", "The integration is not activated (or has no client ID) here."
        ),
        _code("integration_not_found", 404, "browser api", "No such integration in this environment."),
        _code(
            "origin_not_allowed",
            400,
            "browser api",
            "The host page's origin is not on the environment's allowed origins.",
        ),
        _code(
            "redirect_not_allowed", 400, "browser api", "A success or failure URL is not on the allowed redirect URLs."
        ),
        _code("session_required", 403, "browser", "This environment opens the widget only with a connect session."),
        _code("session_used", 403, "browser", "The connect session or link was used by another browser, or used up."),
        _code("expired_session", 400, "browser", "The connect session or link expired or was revoked; open it anew."),
        _code("issuer_mismatch", 400, "browser", "The authorization response came from another issuer (RFC 9207)."),
        _code(
            "invalid_credentials",
            400,
            "browser dashboard",
            "The provider (or the dashboard) rejected the credentials entered.",
        ),
        _code("provider_error", 502, "browser api", "The provider answered with an error or an unreadable response."),
        _code("provider_unavailable", 504, "browser api", "The provider could not be reached in time."),
        _code("sandbox_only", 403, "api", "Only the sandbox environment can do this (test connections)."),
        _code(
            "connection_unhealthy", 409, "api", "The connection's tokens can no longer be refreshed: re-authorize it."
        ),
        _code(
            "service_unavailable",
            503,
            "browser api dashboard",
            "Latchkey's database is unavailable for a moment; retry after the time Retry-After gives.",
        ),
        _code("csrf_failed", 403, "dashboard", "A dashboard form expired or came from another site."),
        _code("missing_credentials", 400, "dashboard", "Sign-in without an email address or password."),
        _code(
            "account_locked",
            429,
            "dashboard",
            "Too many wrong passwords from this address: its sign-in is locked a while.",
        ),
        _code("invalid_email", 400, "dashboard", "Not an email address."),
        _code("member_exists", 409, "dashboard", "That email address is already a member."),
        _code(
            "popup_blocked",
            None,
            "embed",
            "The browser blocked the popup (with fallbackToRedirect, redirect mode instead).",
        ),
        _code(
            "load_failed",
            None,
            "embed",
            "embed.js did not load, open() was called before it did, or an inline picker's frame never said it was ready.",
        ),
        _code("closed", None, "embed", "The end-user closed the picker or the popup."),
    )
}


def codes_seen(surface: Surface) -> tuple[str, ...]:
    return tuple(code for code, entry in ERROR_CODES.items() if surface in entry.seen)


def status_of(code: str) -> int:
    status = ERROR_CODES[code].status
    if status is None:
        raise ValueError(f"{code} is the embed script's own code, never an HTTP answer")
    return status


class LatchkeyError(Exception):
    """Base class. `code` is stable and documented; `message` is for humans.

    The status is the registry's for the code unless the raise names another.
    """

    code: ErrorCodeName = "server_error"

    def __init__(self, message: str = "", *, code: ErrorCodeName | None = None, status: int | None = None) -> None:
        default = (self.__class__.__doc__ or "").strip().splitlines()[0] if self.__class__.__doc__ else ""
        super().__init__(message or default or self.code)
        self.message = message or default or self.code
        if code is not None:
            self.code = code
        self.status = status if status is not None else status_of(self.code)


class InvalidRequest(LatchkeyError):
    """The request is malformed or missing a parameter."""

    code: ErrorCodeName = "invalid_request"


class Unauthorized(LatchkeyError):
    """A valid secret API key is required."""

    code: ErrorCodeName = "unauthorized"

    def __init__(self, message: str = "", *, invalid_token: bool = False) -> None:
        super().__init__(message)
        # RFC 6750 §3: the challenge of the 401; error="invalid_token" only when a key was sent.
        self.challenge = 'Bearer realm="latchkey"' + (', error="invalid_token"' if invalid_token else "")


class Forbidden(LatchkeyError):
    """Not allowed for this workspace or environment."""

    code: ErrorCodeName = "forbidden"


class NotFound(LatchkeyError):
    """No such resource."""

    code: ErrorCodeName = "not_found"


class Conflict(LatchkeyError):
    """The resource is in a state that does not allow this."""

    code: ErrorCodeName = "conflict"


class FlowError(LatchkeyError):
    """An authorization flow failed in a way the host may be told about.

    The flow's own failure URL / host window is trusted (the state verified), so the failure
    is delivered there with `code`.
    """

    code: ErrorCodeName = "server_error"


class VariableInvalid(FlowError):
    """A template variable (a shop name, a data centre) is missing or not allowed.

    `variable` names the one at fault, when it is a value the end-user typed, and `problem` what is
    wrong with it (one of server/flow/credentials.FieldProblem), so its form can say so in its language.
    """

    code: ErrorCodeName = "invalid_request"

    def __init__(self, message: str = "", *, variable: str | None = None, problem: str = "format") -> None:
        super().__init__(message)
        self.variable = variable
        self.problem = problem


class UntrustedFlowError(LatchkeyError):
    """The callback's state could not be trusted: an error page, no redirect, no message."""

    code: ErrorCodeName = "invalid_state"


class ProviderError(FlowError):
    """The provider answered with an error or an unreadable response."""

    code: ErrorCodeName = "provider_error"

    def __init__(self, message: str = "", *, provider_code: str | None = None, status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.provider_code = provider_code  # the provider's own `error`, e.g. invalid_grant


class ProviderUnavailable(FlowError):
    """The provider could not be reached in time."""

    code: ErrorCodeName = "provider_unavailable"


class ConnectionUnhealthy(LatchkeyError):
    """The connection's tokens can no longer be refreshed: the end-user must re-authorize."""

    code: ErrorCodeName = "connection_unhealthy"


class ServiceUnavailable(LatchkeyError):
    """The database is unavailable for a moment: retry shortly."""

    code: ErrorCodeName = "service_unavailable"


class RateLimited(LatchkeyError):
    """Too many requests: retry after `retry_after` seconds (sent as Retry-After)."""

    code: ErrorCodeName = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many requests. Try again in {retry_after} seconds.")
        self.retry_after = retry_after


class ConfigurationError(Exception):
    """The service cannot start: the message names the file, the field and why."""
