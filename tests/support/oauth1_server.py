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

Every request is appended to ``records`` (endpoint, method, status, OAuth protocol parameters
without the signature).  Test-only code.
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass

from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth1 import AuthorizationServer
from authlib.integrations.flask_oauth1 import register_nonce_hooks
from authlib.integrations.flask_oauth1 import register_temporary_credential_hooks
from authlib.oauth1 import ClientMixin
from authlib.oauth1 import OAuth1Request
from authlib.oauth1 import TokenCredentialMixin
from authlib.oauth1.rfc5849.errors import InvalidRequestError
from authlib.oauth1.rfc5849.errors import OAuth1Error
from flask import Flask
from flask import Response
from flask import request
from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server

__all__ = ["OAuth1Server"]

DECISIONS = ("approve", "deny", "deny_silent")
INITIATE_MODES = ("normal", "status_500", "unconfirmed", "json")
TOKEN_MODES = ("normal", "status_500", "status_401", "no_secret")
_FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class User:
    user_id: str

    def get_user_id(self):
        return self.user_id


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    callback_uri_prefix: str

    def get_default_redirect_uri(self):
        return None  # "oob" is not offered: the callback is always the one Latchkey sent

    def get_client_secret(self):
        return self.client_secret

    def get_rsa_public_key(self):
        return None


class TokenCredential(dict, TokenCredentialMixin):
    def get_oauth_token(self):
        return self["oauth_token"]

    def get_oauth_token_secret(self):
        return self["oauth_token_secret"]


class _MemoryCache:
    """The get/set/delete/has interface Authlib's cache hooks expect (timeouts honoured)."""

    def __init__(self):
        self._lock = threading.RLock()
        self._data: dict[str, tuple[float, object]] = {}

    def get(self, key):
        with self._lock:
            item = self._data.get(key)
            if item is None or item[0] < time.time():
                self._data.pop(key, None)
                return None
            return item[1]

    def set(self, key, value, timeout=None):
        with self._lock:
            self._data[key] = (time.time() + (timeout or 86400), value)

    def delete(self, key):
        with self._lock:
            self._data.pop(key, None)

    def has(self, key):
        return self.get(key) is not None


class _QuietHandler(WSGIRequestHandler):
    def log(self, type, message, *args):  # noqa: A002 - werkzeug signature
        pass


class _Server(AuthorizationServer):
    """Authlib's server plus the callback-prefix check of a registered client."""

    def validate_temporary_credentials_request(self, req):
        super().validate_temporary_credentials_request(req)
        if not str(req.redirect_uri).startswith(req.client.callback_uri_prefix):
            raise InvalidRequestError('"oauth_callback" is not registered for this client')
        return req


class OAuth1Server:
    def __init__(self):
        self.user_id = "trello-user-1"
        self.records: list[dict] = []
        self._decision = "approve"
        self._initiate_mode = "normal"
        self._token_mode = "normal"
        self._lock = threading.RLock()
        self._clients: dict[str, Client] = {}
        self._issued: list[dict] = []
        self._cache = _MemoryCache()
        self._httpd = None
        self._thread: threading.Thread | None = None
        self.base_url: str | None = None
        self._app = self._build_app()

    # ---- behaviour switches (validated) ----------------------------------

    def _switch(name, allowed):  # noqa: N805 - property factory
        def getter(self):
            return getattr(self, "_" + name)

        def setter(self, value):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
            setattr(self, "_" + name, value)

        return property(getter, setter)

    decision = _switch("decision", DECISIONS)
    initiate_mode = _switch("initiate_mode", INITIATE_MODES)
    token_mode = _switch("token_mode", TOKEN_MODES)
    del _switch

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
        self._httpd = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_QuietHandler)
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"oauth1-test-server-{self._httpd.server_port}", daemon=True,
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

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- test API ---------------------------------------------------------

    def register_client(self, key: str, secret: str, callback_uri_prefix: str) -> None:
        with self._lock:
            self._clients[key] = Client(key, secret, callback_uri_prefix)

    def requests_to(self, endpoint: str) -> list[dict]:
        with self._lock:
            return [r for r in self.records if r["endpoint"] == endpoint]

    def issued_tokens(self) -> list[dict]:
        """Token credentials issued so far: ``{"oauth_token", "oauth_token_secret", "client_id", "user_id"}``."""
        with self._lock:
            return [dict(t) for t in self._issued]

    # ---- app --------------------------------------------------------------

    def _record(self, endpoint: str) -> dict:
        try:
            params = dict(OAuth1Request(request.method, request.url, request.form.to_dict(), request.headers).oauth_params)
        except OAuth1Error:
            params = {}
        params.pop("oauth_signature", None)
        record = {"endpoint": endpoint, "method": request.method, "args": request.args.to_dict(), "oauth": params, "status": None}
        with self._lock:
            self.records.append(record)
        return record

    def _build_app(self) -> Flask:
        owner = self
        app = Flask(f"oauth1-test-server-{id(self)}")
        server = _Server(app, query_client=lambda key: owner._clients.get(key))
        register_temporary_credential_hooks(server, self._cache)
        register_nonce_hooks(server, self._cache)

        def create_token_credential(token, temporary_credential):
            credential = TokenCredential(
                oauth_token=token["oauth_token"], oauth_token_secret=token["oauth_token_secret"],
                client_id=temporary_credential.get_client_id(), user_id=temporary_credential.get_user_id(),
            )
            with owner._lock:
                owner._issued.append(credential)
            return credential

        server.register_hook("create_token_credential", create_token_credential)

        def guarded(endpoint, handler):
            record = owner._record(endpoint)
            try:
                response = handler()
            except Exception:
                traceback.print_exc()
                response = Response("Internal Server Error", 500, content_type="text/plain")
            record["status"] = response.status_code
            return response

        @app.post("/initiate")
        def initiate():
            def handle():
                mode = owner.initiate_mode
                if mode == "status_500":
                    return Response("Internal Server Error", 500, content_type="text/plain")
                if mode == "json":
                    return Response('{"oauth_token": "x", "oauth_token_secret": "y"}', 200, content_type="application/json")
                response = server.create_temporary_credentials_response()
                if mode == "unconfirmed" and response.status_code == 200:
                    body = "&".join(p for p in response.get_data(as_text=True).split("&") if not p.startswith("oauth_callback_confirmed="))
                    response = Response(body, 200, content_type=_FORM)
                return response

            return guarded("initiate", handle)

        @app.get("/authorize")
        def authorize():
            def handle():
                try:
                    req = server.check_authorization_request()
                except OAuth1Error as error:
                    # An unknown request token: never redirect.
                    return Response(f"Authorization error: {error.error}", 400, content_type="text/plain")
                if owner.decision == "approve":
                    return server.create_authorization_response(grant_user=User(owner.user_id))
                if owner.decision == "deny":
                    return server.create_authorization_response(grant_user=None)
                location = add_params_to_uri(req.credential.get_redirect_uri(), [("oauth_token", req.token)])
                return Response("", 302, headers={"Location": location})

            return guarded("authorize", handle)

        @app.post("/token")
        def token():
            def handle():
                mode = owner.token_mode
                if mode == "status_500":
                    return Response("Internal Server Error", 500, content_type="text/plain")
                if mode == "status_401":
                    return Response("error=invalid_token&error_description=revoked", 401, content_type=_FORM)
                response = server.create_token_response()
                if mode == "no_secret" and response.status_code == 200:
                    body = "&".join(p for p in response.get_data(as_text=True).split("&") if not p.startswith("oauth_token_secret="))
                    response = Response(body, 200, content_type=_FORM)
                return response

            return guarded("token", handle)

        return app
