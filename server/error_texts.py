"""What the end-user reads for each error code their browser can see, ready to be translated.

`ERROR_CODES` (server/errors.py) describes each code for developers, and a raise carries a
precise English message for the host (the JSON body, `connection.failed`'s `errorDescription`).
Neither is written for an end-user, nor translated: pages show the text here instead, in the
page's language, with the code beside it. Each text is a gettext message id (marked with `N_` so
Babel extracts it, see server/locales/README.md); tests/test_i18n.py fails when a code an
end-user can see has no text here, or a text has no translation in some language.
"""

from __future__ import annotations

from server.errors import ERROR_CODES, ErrorCodeName


def N_(text: str) -> str:
    """Marks a message id for extraction; it is translated where it is shown."""
    return text


END_USER_TEXTS: dict[str, str] = {
    "server_error": N_("Something went wrong on our side. Nothing was saved; please try again."),
    "invalid_request": N_(
        "This link is incomplete or malformed. Open the connection window again from the application."
    ),
    "not_found": N_("This page does not exist. Open the connection window again from the application."),
    "method_not_allowed": N_(
        "This page cannot be opened this way. Open the connection window again from the application."
    ),
    "payload_too_large": N_("What was sent is too large. Shorten it and try again."),
    "rate_limited": N_("Too many attempts in a short time. Wait a minute, then try again."),
    "access_denied": N_("The authorization was declined, so nothing was connected."),
    "invalid_state": N_("This authorization could not be verified. Start again from the application."),
    "expired_state": N_("This authorization took too long and expired. Start again from the application."),
    "state_reused": N_("This authorization was already completed or abandoned. Start again from the application."),
    "wrong_browser": N_(
        "This authorization was started in another browser. Finish it in the browser where you started it."
    ),
    "invalid_scope": N_(
        "The application asked for access this integration does not offer. Tell the application's support."
    ),
    "integration_not_active": N_("This integration is not available here yet. Tell the application's support."),
    "integration_not_found": N_("This integration is not available here. Tell the application's support."),
    "origin_not_allowed": N_("This application is not set up to open the connection window yet. Tell its support."),
    "redirect_not_allowed": N_("This application is not set up to receive the result yet. Tell its support."),
    "session_required": N_("The connection window must be opened from the application. Go back to it and try again."),
    "session_used": N_("This connection link was already used. Open the connection window again from the application."),
    "expired_session": N_("This connection link has expired. Open the connection window again from the application."),
    "issuer_mismatch": N_("The answer did not come from the expected provider, so nothing was connected. Start again."),
    "invalid_credentials": N_("These details were not accepted. Check them and try again."),
    "provider_error": N_("The provider answered with an error, so nothing was connected. Try again in a moment."),
    "provider_unavailable": N_("The provider could not be reached. Try again in a moment."),
    "service_unavailable": N_("The service is busy for a moment. Nothing was saved; try again shortly."),
}

BROWSER_CODES: frozenset[ErrorCodeName] = frozenset(e.code for e in ERROR_CODES.values() if "browser" in e.seen)


def end_user_text(code: str) -> str | None:
    """The untranslated end-user text for `code`; None for a code only workspace members see (the
    dashboard's, which is English: its pages show the service's own message)."""
    return END_USER_TEXTS.get(code)
