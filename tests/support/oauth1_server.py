"""A real OAuth 1.0a provider (RFC 5849, HMAC-SHA1) for tests.

Built from Authlib's Flask OAuth 1.0a server components (AuthorizationServer with the temporary
credential and nonce hooks over an in-memory cache) and served over real HTTP on 127.0.0.1
(random free port) from a background thread.

* ``POST /initiate``  - temporary credentials; the signature, timestamp, nonce and consumer key
  are checked, and ``oauth_callback`` must start with the client's registered callback prefix.
  (Authlib answers ``oauth_callback_confirmed=True``, capitalised, where RFC 5849 says ``true``.)
  ``initiate_mode`` injects misbehaviour.
* ``GET  /authorize`` - no UI: decides at once per ``decision`` and redirects to the callback
  with ``oauth_token`` & ``oauth_verifier`` (``approve``), Authlib's ``error=access_denied``
  (``deny``), or only ``oauth_token`` and no verifier, as Trello does (``deny_silent``).
* ``POST /token``     - token credentials for an authorized request token + verifier.
  ``token_mode`` injects misbehaviour.
* ``GET|POST /1/members/me`` - a protected resource (Authlib's ResourceProtector): the request must
  be signed with the consumer and issued token credentials (query and form parameters included);
  answers the user id and the parameters it saw, or 401.

Every request is appended to ``records`` (endpoint, method, status, OAuth protocol parameters
without the signature).  Test-only code.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth1 import (
    AuthorizationServer,
    ResourceProtector,
    register_nonce_hooks,
    register_temporary_credential_hooks,
)
from authlib.integrations.flask_oauth1.cache import create_exists_nonce_func
from authlib.oauth1 import ClientMixin, OAuth1Request, TokenCredentialMixin
from authlib.oauth1.rfc5849.errors import InvalidRequestError, OAuth1Error
from flask import Flask, Response, request
from werkzeug.serving import BaseWSGIServer, ThreadedWSGIServer, WSGIRequestHandler, make_server

__all__ = ["OAuth1Server"]

DECISIONS = ("approve", "deny", "deny_silent")
INITIATE_MODES = ("normal", "status_500", "unconfirmed", "json")
TOKEN_MODES = ("normal", "status_500", "status_401", "no_secret")
_FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class User:
    user_id: str

    def get_user_id(self) -> str:
        return self.user_id


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    callback_uri_prefix: str

    def get_default_redirect_uri(self) -> None:
        return None  # "oob" is not offered: the callback is always the one Latchkey sent

    def get_client_secret(self) -> str:
        return self.client_secret

    def get_rsa_public_key(self) -> None:
        return None


class TokenCredential(dict[str, str], TokenCredentialMixin):
    def get_oauth_token(self) -> str:
        return self["oauth_token"]

    def get_oauth_token_secret(self) -> str:
        return self["oauth_token_secret"]


class _Credential(Protocol):
    """What the token-credential hook reads from Authlib's temporary credential."""

    def get_client_id(self) -> str: ...

    def get_user_id(self) -> str: ...


class _MemoryCache:
    """The get/set/delete/has interface Authlib's cache hooks expect (timeouts honoured)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._data: dict[str, tuple[float, object]] = {}

    def get(self, key: str) -> object | None:
        with self._lock:
            item = self._data.get(key)
            if item is None or item[0] < time.time():
                self._data.pop(key, None)
                return None
            return item[1]

    def set(self, key: str, value: object, timeout: float | None = None) -> None:
        with self._lock:
            self._data[key] = (time.time() + (timeout or 86400), value)

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def has(self, key: str) -> bool:
        return self.get(key) is not None


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        pass


class _Server(AuthorizationServer):
    """Authlib's server plus the callback-prefix check of a registered client."""

    def validate_temporary_credentials_request(self, req: OAuth1Request) -> OAuth1Request:
        super().validate_temporary_credentials_request(req)  # type: ignore[no-untyped-call]  # unannotated in types-Authlib
        assert isinstance(req.client, Client)
        if not str(req.redirect_uri).startswith(req.client.callback_uri_prefix):
            raise InvalidRequestError('"oauth_callback" is not registered for this client')
        return req


def _switch(name: str, allowed: tuple[str, ...]) -> property:
    """A str attribute stored as ``_<name>`` that only takes one of `allowed`."""

    def getter(self: OAuth1Server) -> str:
        value: str = getattr(self, "_" + name)
        return value

    def setter(self: OAuth1Server, value: str) -> None:
        if value not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        setattr(self, "_" + name, value)

    return property(getter, setter)


class OAuth1Server:
    def __init__(self) -> None:
        self.user_id = "trello-user-1"
        self.records: list[dict[str, Any]] = []
        self._decision = "approve"
        self._initiate_mode = "normal"
        self._token_mode = "normal"
        self._lock = threading.RLock()
        self._clients: dict[str, Client] = {}
        self._issued: list[TokenCredential] = []
        self._cache = _MemoryCache()
        self._httpd: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url: str | None = None
        self._app = self._build_app()

    # ---- behaviour switches (validated) ----------------------------------

    decision = _switch("decision", DECISIONS)
    initiate_mode = _switch("initiate_mode", INITIATE_MODES)
    token_mode = _switch("token_mode", TOKEN_MODES)

    # ---- URLs -------------------------------------------------------------

    def _require_started(self) -> str:
        if self.base_url is None:
            raise RuntimeError("OAuth1Server is not started")
        return self.base_url

    @property
    def request_token_url(self) -> str:
        return self._require_started() + "/initiate"

    @property
    def authorize_url(self) -> str:
        return self._require_started() + "/authorize"

    @property
    def access_token_url(self) -> str:
        return self._require_started() + "/token"

    # ---- lifecycle --------------------------------------------------------

    def start(self) -> OAuth1Server:
        if self._httpd is not None:
            return self
        httpd = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_QuietHandler)
        assert isinstance(httpd, ThreadedWSGIServer)
        httpd.daemon_threads = True
        self._httpd = httpd
        self.base_url = f"http://127.0.0.1:{self._httpd.server_port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"oauth1-test-server-{self._httpd.server_port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> OAuth1Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- test API ---------------------------------------------------------

    def register_client(self, key: str, secret: str, callback_uri_prefix: str) -> None:
        with self._lock:
            self._clients[key] = Client(key, secret, callback_uri_prefix)

    def requests_to(self, endpoint: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.records if r["endpoint"] == endpoint]

    def issued_tokens(self) -> list[dict[str, str]]:
        """Token credentials issued so far: ``{"oauth_token", "oauth_token_secret", "client_id", "user_id"}``."""
        with self._lock:
            return [dict(t) for t in self._issued]

    # ---- app --------------------------------------------------------------

    def _record(self, endpoint: str) -> dict[str, Any]:
        try:
            params = dict(
                OAuth1Request(request.method, request.url, request.form.to_dict(), request.headers).oauth_params
            )
        except OAuth1Error:
            params = {}
        params.pop("oauth_signature", None)
        record: dict[str, Any] = {
            "endpoint": endpoint,
            "method": request.method,
            "args": request.args.to_dict(),
            "oauth": params,
            "status": None,
        }
        with self._lock:
            self.records.append(record)
        return record

    def _build_app(self) -> Flask:
        owner = self
        app = Flask(f"oauth1-test-server-{id(self)}")
        server = _Server(app, query_client=lambda key: owner._clients.get(key))
        register_temporary_credential_hooks(server, self._cache)
        register_nonce_hooks(server, self._cache)

        def create_token_credential(token: dict[str, str], temporary_credential: _Credential) -> TokenCredential:
            credential = TokenCredential(
                oauth_token=token["oauth_token"],
                oauth_token_secret=token["oauth_token_secret"],
                client_id=temporary_credential.get_client_id(),
                user_id=temporary_credential.get_user_id(),
            )
            with owner._lock:
                owner._issued.append(credential)
            return credential

        server.register_hook("create_token_credential", create_token_credential)

        def query_token(client_id: str, oauth_token: str) -> TokenCredential | None:
            with owner._lock:
                issued = [t for t in owner._issued if t["client_id"] == client_id and t["oauth_token"] == oauth_token]
            return issued[-1] if issued else None

        protector = ResourceProtector(
            app,
            query_client=lambda key: owner._clients.get(key),
            query_token=query_token,
            exists_nonce=create_exists_nonce_func(self._cache),
        )

        def guarded(endpoint: str, handler: Callable[[], Response]) -> Response:
            record = owner._record(endpoint)
            try:
                response = handler()
            except Exception:  # noqa: BLE001 - any failure in the test provider is a 500 with its traceback
                traceback.print_exc()
                response = Response("Internal Server Error", 500, content_type="text/plain")
            record["status"] = response.status_code
            return response

        @app.post("/initiate")
        def initiate() -> Response:
            def handle() -> Response:
                mode = owner.initiate_mode
                if mode == "status_500":
                    return Response("Internal Server Error", 500, content_type="text/plain")
                if mode == "json":
                    return Response(
                        '{"oauth_token": "x", "oauth_token_secret": "y"}', 200, content_type="application/json"
                    )
                response: Response = server.create_temporary_credentials_response()  # type: ignore[no-untyped-call]  # unannotated in types-Authlib
                if mode == "unconfirmed" and response.status_code == 200:
                    body = "&".join(
                        p
                        for p in response.get_data(as_text=True).split("&")
                        if not p.startswith("oauth_callback_confirmed=")
                    )
                    response = Response(body, 200, content_type=_FORM)
                return response

            return guarded("initiate", handle)

        @app.get("/authorize")
        def authorize() -> Response:
            def handle() -> Response:
                try:
                    req = server.check_authorization_request()
                except OAuth1Error as error:
                    # An unknown request token: never redirect.
                    return Response(f"Authorization error: {error.error}", 400, content_type="text/plain")
                if owner.decision == "approve":
                    approved: Response = server.create_authorization_response(grant_user=User(owner.user_id))  # type: ignore[no-untyped-call]  # unannotated in types-Authlib
                    return approved
                if owner.decision == "deny":
                    denied: Response = server.create_authorization_response(grant_user=None)  # type: ignore[no-untyped-call]  # unannotated in types-Authlib
                    return denied
                assert req.credential is not None
                location = add_params_to_uri(req.credential.get_redirect_uri(), [("oauth_token", req.token)])
                return Response("", 302, headers={"Location": location})

            return guarded("authorize", handle)

        @app.route("/1/members/me", methods=["GET", "POST"])
        def member() -> Response:
            def handle() -> Response:
                try:
                    credential = protector.acquire_credential()  # type: ignore[no-untyped-call]  # unannotated in types-Authlib
                except OAuth1Error as error:
                    return Response(
                        json.dumps(dict(error.get_body())), error.status_code, content_type="application/json"
                    )
                seen = {"id": credential["user_id"], "args": request.args.to_dict(), "form": request.form.to_dict()}
                return Response(json.dumps(seen), 200, content_type="application/json")

            return guarded("resource", handle)

        @app.post("/token")
        def token() -> Response:
            def handle() -> Response:
                mode = owner.token_mode
                if mode == "status_500":
                    return Response("Internal Server Error", 500, content_type="text/plain")
                if mode == "status_401":
                    return Response("error=invalid_token&error_description=revoked", 401, content_type=_FORM)
                response: Response = server.create_token_response()  # type: ignore[no-untyped-call]  # unannotated in types-Authlib
                if mode == "no_secret" and response.status_code == 200:
                    body = "&".join(
                        p for p in response.get_data(as_text=True).split("&") if not p.startswith("oauth_token_secret=")
                    )
                    response = Response(body, 200, content_type=_FORM)
                return response

            return guarded("token", handle)

        return app
