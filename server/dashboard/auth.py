"""Dashboard sign-in: password check with lockout, the session cookie, CSRF tokens, flash messages.

- The session cookie carries a random session ID, signed (itsdangerous, its own salt); the
  database keeps only the ID's SHA-256, with the member and the session's CSRF token. Signing out
  deletes the row, so a copied cookie stops working at once. HttpOnly, SameSite=Lax, Path=/, and
  `__Host-` prefixed (so Secure) when the service runs on https.
- Every form carries the session's CSRF token (synchronizer pattern); the sign-in form, before
  any session exists, a double-submit token (a cookie and a signed copy in the form).
- Five wrong passwords in a row from one client address lock that address out of that account for
  15 minutes (LATCHKEY_SIGN_IN_MAX_FAILURES, LATCHKEY_SIGN_IN_LOCKOUT; kept in the database): a
  stranger elsewhere cannot lock a member out.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from server.crypto import sha256_hex
from server.dashboard import passwords
from server.db import members as member_store
from server.db.clock import utcnow
from server.db.members import Member
from server.errors import Forbidden
from server.services import Services
from server.settings import Settings

SESSION_SALT = "latchkey.dashboard-session.v1"
SIGN_IN_SALT = "latchkey.dashboard-sign-in.v1"
FLASH_SALT = "latchkey.dashboard-flash.v1"
SESSION_MAX_AGE = timedelta(hours=12)
SIGN_IN_FORM_MAX_AGE = 3600
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class DashboardSession:
    member: Member
    csrf_token: str
    id_hash: str


@dataclass(frozen=True)
class SignInResult:
    member: Member | None = None
    locked_until: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.member is not None


def _cookie(settings: Settings, name: str) -> str:
    return f"__Host-latchkey_{name}" if settings.secure_cookies else f"latchkey_{name}"


def session_cookie_name(settings: Settings) -> str:
    return _cookie(settings, "dashboard")


def _serializer(settings: Settings, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer([*reversed(settings.old_secret_keys), settings.secret_key], salt=salt)


def _set_cookie(response: Response, settings: Settings, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=settings.secure_cookies, httponly=True, samesite="lax"
    )


def _delete_cookie(response: Response, settings: Settings, name: str) -> None:
    response.delete_cookie(name, path="/", secure=settings.secure_cookies, httponly=True, samesite="lax")


# ---- Signing in -----------------------------------------------------------------------------------


async def check_password(services: Services, email: str, password: str, client_address: str) -> SignInResult:
    """The member, or why not: a wrong email or password (one answer for both), or this address's lockout."""
    now = utcnow()
    record = await member_store.find_by_email(services.db, email)
    if record is None:
        await run_in_threadpool(passwords.burn_time, password)
        return SignInResult()
    member_id = record.member.id
    locked_until = await member_store.locked_until(services.db, member_id, client_address, now=now)
    if locked_until is not None:
        return SignInResult(locked_until=locked_until)  # the password is not even checked
    if not await run_in_threadpool(passwords.verify_password, password, record.password_hash):
        settings = services.settings
        locked = await member_store.record_failed_sign_in(
            services.db,
            member_id,
            client_address,
            now=now,
            max_failures=settings.sign_in_max_failures,
            lock_until=now + timedelta(seconds=settings.sign_in_lockout),
        )
        return SignInResult(locked_until=locked)
    rehashed = None
    if passwords.needs_rehash(record.password_hash):
        rehashed = await run_in_threadpool(passwords.hash_password, password)
    await member_store.record_sign_in(services.db, member_id, client_address, now=now, password_hash=rehashed)
    return SignInResult(member=record.member)


async def start_session(services: Services, response: Response, member: Member) -> None:
    session_id = secrets.token_urlsafe(32)
    await member_store.create_session(
        services.db,
        member.id,
        id_hash=sha256_hex(session_id),
        csrf_token=secrets.token_urlsafe(32),
        expires_at=utcnow() + SESSION_MAX_AGE,
    )
    value = _serializer(services.settings, SESSION_SALT).dumps(session_id)
    _set_cookie(
        response, services.settings, session_cookie_name(services.settings), value, int(SESSION_MAX_AGE.total_seconds())
    )
    _delete_cookie(response, services.settings, _cookie(services.settings, "dashboard_sign_in"))


async def end_session(services: Services, response: Response, session: DashboardSession) -> None:
    await member_store.delete_session(services.db, session.id_hash)
    _delete_cookie(response, services.settings, session_cookie_name(services.settings))


async def current_session(request: Request, services: Services) -> DashboardSession | None:
    if hasattr(request.state, "dashboard_session"):
        cached: DashboardSession | None = request.state.dashboard_session
        return cached
    session = None
    raw = request.cookies.get(session_cookie_name(services.settings))
    if raw and len(raw) < 512:
        try:
            session_id = _serializer(services.settings, SESSION_SALT).loads(
                raw, max_age=int(SESSION_MAX_AGE.total_seconds())
            )
        except BadSignature:
            session_id = None
        if isinstance(session_id, str):
            id_hash = sha256_hex(session_id)
            record = await member_store.session_member(services.db, id_hash, now=utcnow())
            if record is not None:
                session = DashboardSession(member=record.member, csrf_token=record.csrf_token, id_hash=id_hash)
    request.state.dashboard_session = session
    return session


# ---- CSRF -----------------------------------------------------------------------------------------


def _same_origin(request: Request, settings: Settings) -> bool:
    """A browser's Origin header, when it sends one, must be ours (defence in depth behind the token)."""
    origin = request.headers.get("origin")
    return origin is None or origin == settings.origin


def check_csrf(request: Request, settings: Settings, session: DashboardSession, submitted: object) -> None:
    if not (isinstance(submitted, str) and hmac.compare_digest(submitted.encode(), session.csrf_token.encode())):
        raise Forbidden(
            "This form has expired or did not come from the dashboard. Reload the page and try again.",
            code="csrf_failed",
        )
    if not _same_origin(request, settings):
        raise Forbidden("This form was sent from another site.", code="csrf_failed")


def sign_in_form_token(request: Request, response_cookies: dict[str, str], settings: Settings) -> str:
    """The sign-in form's token: a random value in a cookie, and its signed copy in the form."""
    name = _cookie(settings, "dashboard_sign_in")
    value = request.cookies.get(name)
    if not value or len(value) > 128:
        value = secrets.token_urlsafe(24)
        response_cookies[name] = value
    return _serializer(settings, SIGN_IN_SALT).dumps(value)


def set_sign_in_cookies(response: Response, settings: Settings, cookies: dict[str, str]) -> None:
    for name, value in cookies.items():
        _set_cookie(response, settings, name, value, SIGN_IN_FORM_MAX_AGE)


def check_sign_in_form(request: Request, settings: Settings, submitted: object) -> None:
    cookie = request.cookies.get(_cookie(settings, "dashboard_sign_in"))
    try:
        value = (
            _serializer(settings, SIGN_IN_SALT).loads(submitted, max_age=SIGN_IN_FORM_MAX_AGE)
            if isinstance(submitted, str)
            else None
        )
    except BadSignature:
        value = None
    if not (
        cookie and isinstance(value, str) and hmac.compare_digest(value.encode(), cookie.encode())
    ) or not _same_origin(request, settings):
        raise Forbidden("The sign-in form expired. Reload the page and sign in again.", code="csrf_failed")


# ---- Flash messages (after a 303) --------------------------------------------------------------


def set_flash(response: Response, settings: Settings, text: str, kind: str = "success") -> None:
    value = _serializer(settings, FLASH_SALT).dumps({"kind": kind, "text": text})
    _set_cookie(response, settings, _cookie(settings, "dashboard_flash"), value, 120)


def pop_flash(request: Request, settings: Settings) -> tuple[dict[str, str] | None, bool]:
    """The pending flash message, and whether a cookie needs clearing."""
    raw = request.cookies.get(_cookie(settings, "dashboard_flash"))
    if not raw:
        return None, False
    try:
        data = _serializer(settings, FLASH_SALT).loads(raw, max_age=120)
    except BadSignature:
        return None, True
    if (
        isinstance(data, dict)
        and isinstance(data.get("text"), str)
        and data.get("kind") in ("success", "error", "info")
    ):
        return {"kind": data["kind"], "text": data["text"]}, True
    return None, True


def clear_flash(response: Response, settings: Settings) -> None:
    _delete_cookie(response, settings, _cookie(settings, "dashboard_flash"))
