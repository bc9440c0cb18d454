"""A real, standards-compliant OAuth 2.0 authorization server for tests.

Built from Authlib's server components (Flask integration) and served over
real HTTP on 127.0.0.1 (random free port) from a background thread, so the
Latchkey OAuth client can be exercised end to end without mocked HTTP.

* ``GET  /authorize``  - authorization endpoint (code flow, PKCE S256 required,
  RFC 9207 ``iss`` in responses).  No UI: it auto-decides per ``decision``.
* ``POST /token``      - token endpoint (``authorization_code`` and
  ``refresh_token`` grants, ``client_secret_basic`` / ``client_secret_post``).
  ``token_mode`` injects misbehaviour.
* ``POST /revoke``     - RFC 7009 revocation (Authlib's RevocationEndpoint); each request is
  recorded in ``revocation_requests`` and the token marked revoked.
* ``GET  /userinfo``   - Bearer-protected, returns ``{"sub", "email"}``.
* ``GET  /.well-known/oauth-authorization-server`` - RFC 8414 metadata.

Storage is in memory (plain objects guarded by a lock).  Test-only code.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
import traceback
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import urlencode

# Authlib refuses plain-http OAuth unless this is set; we only ever listen on
# loopback, and this module is test-only.
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

from authlib.integrations.flask_oauth2 import (
    AuthorizationServer,
    ResourceProtector,
)
from authlib.oauth2 import OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidRequestError,
    TokenMixin,
    grants,
)
from authlib.oauth2.rfc6749.util import (
    extract_basic_authorization,
    scope_to_list,
)
from authlib.oauth2.rfc6750 import (
    BearerTokenGenerator,
    BearerTokenValidator,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import (
    Flask,
    Response,
    jsonify,
    request,
)
from werkzeug.serving import (
    BaseWSGIServer,
    ThreadedWSGIServer,
    WSGIRequestHandler,
    make_server,
)

__all__ = ["OAuthServer"]

DEFAULT_SCOPE = "contacts.read contacts.write deals.read openid profile email offline"
DECISIONS = ("approve", "deny")
TOKEN_MODES = (
    "normal",
    "status_500",
    "html",
    "no_access_token",
    "hang",
    "invalid_grant",
    "form_encoded",
    "negative_expires_in",
    "mac_token_type",
    "not_utf8",
)
# Form fields never copied into ``token_requests[...]["form"]``.
_SECRET_FORM_FIELDS = frozenset({"client_secret", "code_verifier"})


# --------------------------------------------------------------------------
# In-memory models (Authlib mixins)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    sub: str
    email: str


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    token_endpoint_auth_method: str
    scope: str

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:  # type: ignore[override]  # Authlib takes None as "no default"; the stub says str
        # Only unambiguous when exactly one redirect URI is registered.
        if len(self.redirect_uris) == 1:
            return self.redirect_uris[0]
        return None

    def get_allowed_scope(self, scope: Collection[str] | str) -> str | None:  # type: ignore[override]  # None -> invalid_scope; the stub says str
        allowed = scope_to_list(self.scope) or []
        if not scope:
            # RFC 6749 §3.3: omitted scope -> pre-defined default (all).
            return " ".join(allowed)
        requested = scope_to_list(scope)
        if not set(requested).issubset(allowed):
            return None  # -> invalid_scope
        return " ".join(requested)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris  # exact string match

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(self.client_secret.encode(), str(client_secret).encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint == "token":
            return method == self.token_endpoint_auth_method
        return True

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token", "client_credentials")


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: User
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: float = field(default_factory=time.time)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_auth_time(self) -> int:
        return int(self.auth_time)

    def get_nonce(self) -> None:
        return None


@dataclass
class Token(TokenMixin):
    client_id: str
    access_token: str
    refresh_token: str | None
    scope: str
    user: User | None  # None for the client credentials grant
    expires_in: int
    issued_at: float = field(default_factory=time.time)
    access_token_revoked: bool = False
    refresh_token_revoked: bool = False
    from_code: str | None = None

    def check_client(self, client: ClientMixin) -> bool:
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return self.issued_at + self.expires_in <= time.time()

    def is_revoked(self) -> bool:
        return self.access_token_revoked

    def get_user(self) -> User | None:
        return self.user

    def get_client(self) -> None:  # type: ignore[override]  # no client object is kept with a token; the stub says ClientMixin
        return None


class _Store:
    """Thread-safe in-memory storage."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.used_codes: set[str] = set()
        self.tokens: list[Token] = []


# --------------------------------------------------------------------------
# Grants / extensions
# --------------------------------------------------------------------------


class StrictS256CodeChallenge(CodeChallenge):
    """PKCE that is mandatory for every client and only allows S256.

    Authlib's ``CodeChallenge(required=True)`` only forces PKCE on public
    clients at the token endpoint; we also require a ``code_challenge`` at
    the authorization endpoint (RFC 7636 §4.4.1 -> ``invalid_request``) and
    reject ``plain``.
    """

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 - Authlib's stubs declare it an instance attribute
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: grants.AuthorizationCodeGrant, redirect_uri: str) -> None:
        assert grant.request.payload is not None
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge'")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Unsupported 'code_challenge_method': only S256 is allowed")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: grants.AuthorizationCodeGrant, result: Any) -> None:
        # Codes always carry a challenge, so a verifier is always required.
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'")
        super().validate_code_verifier(grant, result)


class _LiveIssuerParameter(IssuerParameter):
    """RFC 9207 ``iss`` parameter, switchable at runtime."""

    def __init__(self, owner: OAuthServer) -> None:
        self._owner = owner

    def get_issuer(self) -> str | None:
        if self._owner.issuer_in_response:
            return self._owner.issuer
        return None


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        pass


class OAuthServer:
    def __init__(
        self,
        *,
        issuer_in_response: bool = True,
        access_token_ttl: int = 3600,
        rotate_refresh_tokens: bool = False,
    ) -> None:
        self.issuer_in_response = issuer_in_response
        self.access_token_ttl = access_token_ttl  # read at issue time
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.code_ttl = 300  # seconds an authorization code stays valid
        self.hang_seconds = 30.0
        self.user_sub = "user-1"
        self.user_email = "user@example.test"
        self.token_requests: list[dict[str, Any]] = []
        self.revocation_requests: list[dict[str, Any]] = []
        # Called (in the server's thread) when a token request arrives, before it is answered.
        self.before_token_response: Callable[[], None] | None = None
        self.authorize_requests: list[dict[str, str]] = []

        self._decision = "approve"
        self._token_mode = "normal"
        self._store = _Store()
        self._stop_event = threading.Event()
        self._httpd: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url: str | None = None

        self._app = self._build_app()

    # ---- behaviour switches (validated) ----------------------------------

    @property
    def decision(self) -> str:
        return self._decision

    @decision.setter
    def decision(self, value: str) -> None:
        if value not in DECISIONS:
            raise ValueError(f"decision must be one of {DECISIONS}, got {value!r}")
        self._decision = value

    @property
    def token_mode(self) -> str:
        return self._token_mode

    @token_mode.setter
    def token_mode(self, value: str) -> None:
        if value not in TOKEN_MODES:
            raise ValueError(f"token_mode must be one of {TOKEN_MODES}, got {value!r}")
        self._token_mode = value

    # ---- URLs -------------------------------------------------------------

    def _require_started(self) -> str:
        if self.base_url is None:
            raise RuntimeError("OAuthServer is not started")
        return self.base_url

    @property
    def issuer(self) -> str:
        return self._require_started()

    @property
    def authorize_url(self) -> str:
        return self._require_started() + "/authorize"

    @property
    def token_url(self) -> str:
        return self._require_started() + "/token"

    @property
    def revocation_url(self) -> str:
        return self._require_started() + "/revoke"

    @property
    def userinfo_url(self) -> str:
        return self._require_started() + "/userinfo"

    @property
    def metadata_url(self) -> str:
        return self._require_started() + "/.well-known/oauth-authorization-server"

    # ---- lifecycle --------------------------------------------------------

    def start(self) -> OAuthServer:
        if self._httpd is not None:
            return self
        self._stop_event.clear()
        httpd = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_QuietHandler)
        assert isinstance(httpd, ThreadedWSGIServer)
        httpd.daemon_threads = True
        self._httpd = httpd
        self.base_url = f"http://127.0.0.1:{self._httpd.server_port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"oauth-test-server-{self._httpd.server_port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop_event.set()  # wakes any in-progress "hang"
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> OAuthServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- test API ---------------------------------------------------------

    def register_client(
        self,
        client_id: str,
        client_secret: str,
        redirect_uris: list[str],
        token_endpoint_auth_method: str = "client_secret_basic",
        scope: str = DEFAULT_SCOPE,
    ) -> None:
        if token_endpoint_auth_method not in ("client_secret_basic", "client_secret_post"):
            raise ValueError(f"unsupported token_endpoint_auth_method {token_endpoint_auth_method!r}")
        with self._store.lock:
            self._store.clients[client_id] = Client(
                client_id=client_id,
                client_secret=client_secret,
                redirect_uris=list(redirect_uris),
                token_endpoint_auth_method=token_endpoint_auth_method,
                scope=scope,
            )

    def revoke_refresh_tokens(self) -> None:
        with self._store.lock:
            for tok in self._store.tokens:
                tok.refresh_token_revoked = True

    def expire_access_tokens(self) -> None:
        """Make every access token issued so far expired (userinfo -> 401)."""
        with self._store.lock:
            for tok in self._store.tokens:
                tok.issued_at = time.time() - tok.expires_in - 1

    def issued_access_tokens(self) -> list[str]:
        with self._store.lock:
            return [t.access_token for t in self._store.tokens]

    def issued_refresh_tokens(self) -> list[str]:
        with self._store.lock:
            return [t.refresh_token for t in self._store.tokens if t.refresh_token]

    def revoked_tokens(self) -> set[str]:
        """Every access and refresh token a revocation request ended."""
        with self._store.lock:
            revoked = {t.access_token for t in self._store.tokens if t.access_token_revoked}
            return revoked | {
                t.refresh_token for t in self._store.tokens if t.refresh_token and t.refresh_token_revoked
            }

    # ---- storage callbacks ------------------------------------------------

    def _query_client(self, client_id: str) -> Client | None:
        with self._store.lock:
            return self._store.clients.get(client_id)

    def _save_token(self, token: dict[str, Any], req: OAuth2Request) -> None:
        code = getattr(req, "authorization_code", None)
        assert req.client is not None
        tok = Token(
            client_id=req.client.get_client_id(),
            access_token=token["access_token"],
            refresh_token=token.get("refresh_token"),
            scope=token.get("scope", ""),
            user=req.user,
            expires_in=int(token.get("expires_in") or 0),
            from_code=code.code if code is not None else None,
        )
        with self._store.lock:
            self._store.tokens.append(tok)

    def _current_user(self) -> User:
        return User(sub=self.user_sub, email=self.user_email)

    # ---- app --------------------------------------------------------------

    def _build_app(self) -> Flask:
        owner = self
        store = self._store

        app = Flask(f"oauth-test-server-{id(self)}")
        app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True

        server = AuthorizationServer(app, query_client=self._query_client, save_token=self._save_token)
        # expires_in is read from owner.access_token_ttl at issue time.
        server.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda **kw: secrets.token_urlsafe(32),
                refresh_token_generator=lambda **kw: secrets.token_urlsafe(36),
                expires_generator=lambda client, grant_type: owner.access_token_ttl,
            ),
        )

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")

            def save_authorization_code(self, code: str, req: OAuth2Request) -> None:
                assert req.payload is not None and req.client is not None and isinstance(req.user, User)
                payload = req.payload.data
                item = AuthorizationCode(
                    code=code,
                    client_id=req.client.get_client_id(),
                    redirect_uri=req.payload.redirect_uri or "",
                    scope=req.scope,
                    user=req.user,
                    code_challenge=payload.get("code_challenge"),
                    code_challenge_method=payload.get("code_challenge_method"),
                )
                with store.lock:
                    store.codes[code] = item

            def query_authorization_code(self, code: str, client: ClientMixin) -> AuthorizationCode | None:
                with store.lock:
                    if code in store.used_codes:
                        # RFC 6749 §4.1.2: reuse -> deny, and revoke the
                        # tokens previously issued from this code.
                        for tok in store.tokens:
                            if tok.from_code == code:
                                tok.access_token_revoked = True
                                tok.refresh_token_revoked = True
                        return None
                    item = store.codes.get(code)
                    if item is None or item.client_id != client.get_client_id():
                        return None
                    if item.auth_time + owner.code_ttl < time.time():
                        del store.codes[code]
                        return None
                    return item

            def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
                with store.lock:
                    store.codes.pop(authorization_code.code, None)
                    store.used_codes.add(authorization_code.code)

            def authenticate_user(self, authorization_code: AuthorizationCode) -> User:
                return authorization_code.user

        class RefreshGrant(grants.RefreshTokenGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")

            def __init__(self, req: OAuth2Request, server: AuthorizationServer) -> None:
                super().__init__(req, server)
                # A grant lives for one request: whether to rotate is read when the request comes in.
                self.INCLUDE_NEW_REFRESH_TOKEN = owner.rotate_refresh_tokens

            def authenticate_refresh_token(self, refresh_token: str) -> Token | None:  # type: ignore[override]  # None -> invalid_grant; the stub says TokenMixin
                with store.lock:
                    for tok in store.tokens:
                        if tok.refresh_token == refresh_token:
                            return None if tok.refresh_token_revoked else tok
                return None

            def authenticate_user(self, refresh_token: Token) -> User | None:
                return refresh_token.user

            def revoke_old_credential(self, refresh_token: TokenMixin) -> None:
                assert isinstance(refresh_token, Token)  # the one authenticate_refresh_token found
                if owner.rotate_refresh_tokens:
                    with store.lock:
                        refresh_token.refresh_token_revoked = True

        server.register_grant(CodeGrant, [StrictS256CodeChallenge(required=True)])
        server.register_grant(RefreshGrant)

        class ClientCredentials(grants.ClientCredentialsGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")

        server.register_grant(ClientCredentials)
        issuer_ext = _LiveIssuerParameter(self)
        server.register_extension(issuer_ext)

        class Revocation(RevocationEndpoint):
            CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012 - Authlib's stubs declare it an instance attribute

            def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
                with store.lock:
                    for tok in store.tokens:
                        if token_type_hint != "refresh_token" and tok.access_token == token_string:
                            return tok
                        if token_type_hint != "access_token" and tok.refresh_token == token_string:
                            return tok
                return None

            def revoke_token(self, token: Token, request: OAuth2Request) -> None:
                with store.lock:
                    # RFC 7009 §2.1: revoking a refresh token ends the grant's access token too.
                    token.access_token_revoked = True
                    if request.form.get("token_type_hint") != "access_token" or token.refresh_token is None:
                        token.refresh_token_revoked = True

        server.register_endpoint(Revocation)

        class Validator(BearerTokenValidator):
            def authenticate_token(self, token_string: str) -> Token | None:
                with store.lock:
                    for tok in store.tokens:
                        if tok.access_token == token_string:
                            return tok
                return None

        require_oauth = ResourceProtector()
        require_oauth.register_token_validator(Validator())

        def error_page(error: OAuth2Error) -> Response:
            body = (
                "<!doctype html><html><head><title>Authorization error</title></head>"
                f"<body><h1>Authorization error</h1><p id=error>{escape(error.error or '')}</p>"
                f"<p id=error_description>{escape(error.description or '')}</p></body></html>"
            )
            return Response(body, status=400, content_type="text/html; charset=utf-8")

        @app.get("/authorize")
        def authorize() -> Response:
            with store.lock:
                owner.authorize_requests.append(request.args.to_dict())
            user = owner._current_user()
            try:
                grant = server.get_consent_grant(end_user=user)  # type: ignore[no-untyped-call]  # unannotated in types-Authlib
            except OAuth2Error as error:
                if not error.redirect_uri:
                    # RFC 6749 §4.1.2.1: bad client / redirect_uri -> never redirect.
                    return error_page(error)
                response = _flask_response(server.handle_error_response(server.create_oauth2_request(request), error))
                issuer_ext.add_issuer_parameter(server, response)
                return response
            grant_user = user if owner.decision == "approve" else None
            return _flask_response(server.create_authorization_response(grant=grant, grant_user=grant_user))

        @app.post("/token")
        def token() -> Response:
            record = owner._record_token_request()
            if owner.before_token_response is not None:
                owner.before_token_response()
            try:
                response = owner._token_response(server)
            except Exception:  # noqa: BLE001 - any failure in the test server is a 500 with its traceback
                traceback.print_exc()
                response = Response("Internal Server Error", 500, content_type="text/plain")
            record["status"] = response.status_code
            return response

        @app.post("/revoke")
        def revoke() -> Response:
            basic_id, _ = extract_basic_authorization({"Authorization": request.headers.get("Authorization", "")})
            record: dict[str, Any] = {
                "token": request.form.get("token"),
                "token_type_hint": request.form.get("token_type_hint"),
                "auth_method": "client_secret_basic" if basic_id else "client_secret_post",
                "client_id": basic_id or request.form.get("client_id"),
            }
            answer = server.create_endpoint_response(Revocation.ENDPOINT_NAME)  # type: ignore[no-untyped-call]  # unannotated in types-Authlib
            response = _flask_response(answer)
            record["status"] = response.status_code
            with store.lock:
                owner.revocation_requests.append(record)
            return response

        @app.get("/userinfo")
        def userinfo() -> Response:
            with require_oauth.acquire() as bearer:
                user = bearer.user
                return jsonify(sub=user.sub, email=user.email)

        @app.get("/.well-known/oauth-authorization-server")
        def metadata() -> Response:
            return jsonify(
                issuer=owner.issuer,
                authorization_endpoint=owner.authorize_url,
                token_endpoint=owner.token_url,
                revocation_endpoint=owner.revocation_url,
                userinfo_endpoint=owner.userinfo_url,
                response_types_supported=["code"],
                grant_types_supported=["authorization_code", "refresh_token"],
                token_endpoint_auth_methods_supported=[
                    "client_secret_basic",
                    "client_secret_post",
                ],
                code_challenge_methods_supported=["S256"],
                authorization_response_iss_parameter_supported=owner.issuer_in_response,
            )

        return app

    # ---- token endpoint helpers ------------------------------------------

    def _record_token_request(self) -> dict[str, Any]:
        form = request.form
        basic_id, _ = extract_basic_authorization({"Authorization": request.headers.get("Authorization", "")})
        client_id: str | None
        if basic_id is not None:
            auth_method = "client_secret_basic"
            client_id = basic_id
        elif form.get("client_secret") is not None:
            auth_method = "client_secret_post"
            client_id = form.get("client_id")
        else:
            auth_method = "none"
            client_id = form.get("client_id")
        record: dict[str, Any] = {
            "grant_type": form.get("grant_type"),
            "client_id": client_id,
            "code_verifier_present": bool(form.get("code_verifier")),
            "auth_method": auth_method,
            "status": None,  # filled in once the response is ready
            "form": {k: v for k, v in form.items() if k not in _SECRET_FORM_FIELDS},
            "token_mode": self.token_mode,
        }
        with self._store.lock:
            self.token_requests.append(record)
        return record

    def _token_response(self, server: AuthorizationServer) -> Response:
        mode = self.token_mode
        if mode == "status_500":
            return Response("Internal Server Error", 500, content_type="text/plain")
        if mode == "html":
            return Response(
                "<!doctype html><html><body><h1>Please sign in</h1></body></html>",
                200,
                content_type="text/html; charset=utf-8",
            )
        if mode == "no_access_token":
            return _json_response(200, {"token_type": "Bearer", "expires_in": self.access_token_ttl})
        if mode == "invalid_grant":
            return _json_response(
                400,
                {
                    "error": "invalid_grant",
                    "error_description": "The grant is invalid (forced by test server).",
                },
            )
        if mode == "hang":
            if self._stop_event.wait(self.hang_seconds):
                return Response("Service Unavailable", 503, content_type="text/plain")
            return _flask_response(server.create_token_response())

        response = _flask_response(server.create_token_response())
        if mode == "form_encoded":
            payload = json.loads(response.get_data(as_text=True) or "{}")
            response.set_data(urlencode({k: str(v) for k, v in payload.items()}))
            response.content_type = "application/x-www-form-urlencoded"
        elif mode in ("negative_expires_in", "mac_token_type", "not_utf8"):
            # A real token issued, then its answer spoilt: what a client must refuse to store.
            payload = json.loads(response.get_data(as_text=True) or "{}")
            if mode == "negative_expires_in":
                payload["expires_in"] = -1
            elif mode == "mac_token_type":
                payload["token_type"] = "mac"
            data = json.dumps(payload).encode()
            response.set_data(
                data.replace(b'"access_token": "', b'"access_token": "\xff') if mode == "not_utf8" else data
            )
        return response


def _flask_response(answer: object) -> Response:
    """What Authlib's Flask integration answers with (its stubs type the framework-neutral base class)."""
    assert isinstance(answer, Response), answer
    return answer


def _json_response(status: int, payload: dict[str, Any]) -> Response:
    return Response(
        json.dumps(payload),
        status,
        content_type="application/json",
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )
