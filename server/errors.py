"""The named errors of Latchkey, each with a stable snake_case code.

No Starlette import here: the protocol code in `flow/` raises these, and `error_responses`
is the one place that turns them into a page, a failure redirect or a JSON body.
"""

from __future__ import annotations


class LatchkeyError(Exception):
    """Base class. `code` is stable and documented; `message` is for humans."""

    code = "server_error"
    status = 500

    def __init__(self, message: str = "", *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class InvalidRequest(LatchkeyError):
    """The request is malformed or missing a parameter."""

    code = "invalid_request"
    status = 400


class Unauthorized(LatchkeyError):
    """A valid secret API key is required."""

    code = "unauthorized"
    status = 401


class Forbidden(LatchkeyError):
    """Not allowed for this workspace or environment."""

    code = "forbidden"
    status = 403


class NotFound(LatchkeyError):
    """No such resource."""

    code = "not_found"
    status = 404


class Conflict(LatchkeyError):
    """The resource is in a state that does not allow this."""

    code = "conflict"
    status = 409


class FlowError(LatchkeyError):
    """An authorization flow failed in a way the host may be told about.

    The flow's own failure URL / host window is trusted (the state verified), so the failure
    is delivered there with `code`.
    """

    code = "server_error"
    status = 400


class UntrustedFlowError(LatchkeyError):
    """The callback's state could not be trusted: an error page, no redirect, no message."""

    code = "invalid_state"
    status = 400


class ProviderError(FlowError):
    """The provider answered with an error or an unreadable response."""

    code = "provider_error"
    status = 502


class ProviderUnavailable(FlowError):
    """The provider could not be reached in time."""

    code = "provider_unavailable"
    status = 504


class ConfigurationError(Exception):
    """The service cannot start: the message names the file, the field and why."""
