"""Tests for the loopback OAuth 2.0 test authorization server (real HTTP)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from .fixtures_oauth import oauth_server  # noqa: F401 - fixture
from .oauth_server import OAuthServer

CLIENT_ID = "latchkey-test"
CLIENT_SECRET = "s3cret-value"
REDIRECT_URI = "http://127.0.0.1:9/callback"

# One shared client (no TLS context per call) keeps this file fast.
HTTP = httpx.Client(follow_redirects=False)


def make_pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return verifier, challenge


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def authorize(
    server: OAuthServer,
    *,
    challenge: str | None,
    state: str = "st-123",
    client_id: str = CLIENT_ID,
    redirect_uri: str = REDIRECT_URI,
    scope: str = "contacts.read offline",
    method: str | None = "S256",
) -> httpx.Response:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
    }
    if challenge is not None:
        params["code_challenge"] = challenge
    if method is not None:
        params["code_challenge_method"] = method
    return HTTP.get(server.authorize_url, params=params, follow_redirects=False)


def get_code(server: OAuthServer, challenge: str, **kw: Any) -> str:
    resp = authorize(server, challenge=challenge, **kw)
    assert resp.status_code == 302, resp.text
    params = query(resp.headers["location"])
    assert "code" in params, params
    return params["code"]


def exchange(
    server: OAuthServer,
    code: str,
    verifier: str | None,
    *,
    auth: str = "basic",
    secret: str = CLIENT_SECRET,
    redirect_uri: str = REDIRECT_URI,
    timeout: float = 5.0,
) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier is not None:
        data["code_verifier"] = verifier
    return _post_token(server, data, auth=auth, secret=secret, timeout=timeout)


def refresh(server: OAuthServer, refresh_token: str, *, auth: str = "basic") -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return _post_token(server, data, auth=auth)


def _post_token(
    server: OAuthServer,
    data: dict[str, str],
    *,
    auth: str = "basic",
    secret: str = CLIENT_SECRET,
    timeout: float = 5.0,
    client_id: str = CLIENT_ID,
) -> httpx.Response:
    kwargs: dict[str, Any] = {}
    if auth == "basic":
        kwargs["auth"] = (client_id, secret)
    else:
        data = {**data, "client_id": client_id, "client_secret": secret}
    return HTTP.post(server.token_url, data=data, timeout=timeout, **kwargs)


def full_flow(server: OAuthServer, **kw: Any) -> dict[str, Any]:
    verifier, challenge = make_pkce()
    code = get_code(server, challenge)
    resp = exchange(server, code, verifier, **kw)
    assert resp.status_code == 200, resp.text
    tokens: dict[str, Any] = resp.json()
    return tokens


@pytest.fixture
def server(oauth_server: OAuthServer) -> OAuthServer:  # noqa: F811
    oauth_server.register_client(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI])
    return oauth_server


# --------------------------------------------------------------------------


def test_urls_and_metadata(server: OAuthServer) -> None:
    assert server.base_url is not None
    assert server.base_url.startswith("http://127.0.0.1:")
    assert server.issuer == server.base_url
    assert server.authorize_url == server.base_url + "/authorize"
    assert server.token_url == server.base_url + "/token"
    assert server.userinfo_url == server.base_url + "/userinfo"
    meta = HTTP.get(server.metadata_url).json()
    assert meta["issuer"] == server.issuer
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["authorization_response_iss_parameter_supported"] is True


def test_approve_flow_with_pkce_gives_token(server: OAuthServer) -> None:
    verifier, challenge = make_pkce()
    resp = authorize(server, challenge=challenge, state="abc")
    assert resp.status_code == 302
    location = resp.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    params = query(location)
    assert params["state"] == "abc"
    assert params["iss"] == server.issuer
    assert server.authorize_requests[-1]["code_challenge"] == challenge

    tok = exchange(server, params["code"], verifier)
    assert tok.status_code == 200, tok.text
    assert tok.headers["content-type"].startswith("application/json")
    body = tok.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["access_token"] and body["refresh_token"]
    assert body["scope"] == "contacts.read offline"
    assert server.issued_access_tokens() == [body["access_token"]]

    rec = server.token_requests[-1]
    assert rec["grant_type"] == "authorization_code"
    assert rec["client_id"] == CLIENT_ID
    assert rec["code_verifier_present"] is True
    assert rec["auth_method"] == "client_secret_basic"
    assert rec["status"] == 200
    assert "client_secret" not in rec["form"] and "code_verifier" not in rec["form"]
    assert rec["form"]["code"] == params["code"]

    info = HTTP.get(server.userinfo_url, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 200
    assert info.json() == {"sub": "user-1", "email": "user@example.test"}
    assert HTTP.get(server.userinfo_url, headers={"Authorization": "Bearer nope"}).status_code == 401


def test_no_iss_when_disabled() -> None:
    with OAuthServer(issuer_in_response=False, access_token_ttl=120) as srv:
        srv.register_client(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI])
        verifier, challenge = make_pkce()
        resp = authorize(srv, challenge=challenge)
        assert "iss" not in query(resp.headers["location"])
        body = exchange(srv, query(resp.headers["location"])["code"], verifier).json()
        assert body["expires_in"] == 120


def test_wrong_verifier_rejected(server: OAuthServer) -> None:
    _, challenge = make_pkce()
    code = get_code(server, challenge)
    other_verifier, _ = make_pkce()
    resp = exchange(server, code, other_verifier)
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_grant"
    # missing verifier is rejected too
    resp = exchange(server, code, None)
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_request"
    assert server.token_requests[-1]["code_verifier_present"] is False


def test_missing_code_challenge_rejected(server: OAuthServer) -> None:
    resp = authorize(server, challenge=None, method=None, state="s1")
    assert resp.status_code == 302
    params = query(resp.headers["location"])
    assert params["error"] == "invalid_request"
    assert params["state"] == "s1"
    assert params["iss"] == server.issuer
    assert "code" not in params


def test_plain_code_challenge_rejected(server: OAuthServer) -> None:
    verifier, _ = make_pkce()
    for method in ("plain", None):
        resp = authorize(server, challenge=verifier, method=method)
        assert resp.status_code == 302
        assert query(resp.headers["location"])["error"] == "invalid_request"


@pytest.mark.parametrize(
    "client_id, redirect_uri",
    [("unknown-client", REDIRECT_URI), (CLIENT_ID, "http://127.0.0.1:9/other"), (CLIENT_ID, REDIRECT_URI + "/")],
)
def test_bad_client_or_redirect_uri_gives_400_page(server: OAuthServer, client_id: str, redirect_uri: str) -> None:
    _, challenge = make_pkce()
    resp = authorize(server, challenge=challenge, client_id=client_id, redirect_uri=redirect_uri)
    assert resp.status_code == 400
    assert "location" not in resp.headers
    assert resp.headers["content-type"].startswith("text/html")


def test_invalid_scope_redirects_with_error(server: OAuthServer) -> None:
    _, challenge = make_pkce()
    resp = authorize(server, challenge=challenge, scope="contacts.read admin")
    assert resp.status_code == 302
    assert query(resp.headers["location"])["error"] == "invalid_scope"


def test_deny_gives_access_denied(server: OAuthServer) -> None:
    server.decision = "deny"
    _, challenge = make_pkce()
    resp = authorize(server, challenge=challenge, state="xyz")
    assert resp.status_code == 302
    location = resp.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    params = query(location)
    assert params["error"] == "access_denied"
    assert params["state"] == "xyz"
    assert params["iss"] == server.issuer
    assert "code" not in params
    with pytest.raises(ValueError):
        server.decision = "maybe"


def test_code_reuse_rejected_and_revokes_tokens(server: OAuthServer) -> None:
    verifier, challenge = make_pkce()
    code = get_code(server, challenge)
    first = exchange(server, code, verifier)
    assert first.status_code == 200
    second = exchange(server, code, verifier)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    info = HTTP.get(server.userinfo_url, headers={"Authorization": f"Bearer {first.json()['access_token']}"})
    assert info.status_code == 401


def test_code_redirect_uri_must_match(server: OAuthServer) -> None:
    verifier, challenge = make_pkce()
    code = get_code(server, challenge)
    resp = exchange(server, code, verifier, redirect_uri="http://127.0.0.1:9/other")
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_grant"


def test_expired_code_rejected(server: OAuthServer) -> None:
    server.code_ttl = -1
    verifier, challenge = make_pkce()
    code = get_code(server, challenge)
    assert exchange(server, code, verifier).json()["error"] == "invalid_grant"


def test_refresh_without_rotation_keeps_refresh_token(server: OAuthServer) -> None:
    body = full_flow(server)
    r1 = refresh(server, body["refresh_token"])
    assert r1.status_code == 200, r1.text
    assert "refresh_token" not in r1.json()
    assert r1.json()["access_token"] != body["access_token"]
    assert r1.json()["scope"] == body["scope"]
    assert refresh(server, body["refresh_token"]).status_code == 200
    assert server.token_requests[-1]["grant_type"] == "refresh_token"
    assert len(server.issued_access_tokens()) == 3


def test_refresh_with_rotation_invalidates_old() -> None:
    with OAuthServer(rotate_refresh_tokens=True) as srv:
        srv.register_client(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI])
        body = full_flow(srv)
        r1 = refresh(srv, body["refresh_token"])
        assert r1.status_code == 200, r1.text
        new_rt = r1.json()["refresh_token"]
        assert new_rt and new_rt != body["refresh_token"]
        old = refresh(srv, body["refresh_token"])
        assert old.status_code == 400
        assert old.json()["error"] == "invalid_grant"
        assert refresh(srv, new_rt).status_code == 200


def test_revoke_refresh_tokens(server: OAuthServer) -> None:
    body = full_flow(server)
    server.revoke_refresh_tokens()
    resp = refresh(server, body["refresh_token"])
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_grant"
    # a token issued afterwards is unaffected
    body2 = full_flow(server)
    assert refresh(server, body2["refresh_token"]).status_code == 200


def test_expire_access_tokens(server: OAuthServer) -> None:
    body = full_flow(server)
    server.expire_access_tokens()
    info = HTTP.get(server.userinfo_url, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 401


def test_basic_and_post_client_auth(server: OAuthServer) -> None:
    server.register_client(
        "post-client", "post-secret", [REDIRECT_URI], token_endpoint_auth_method="client_secret_post"
    )
    verifier, challenge = make_pkce()
    code = get_code(server, challenge, client_id="post-client")
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    resp = _post_token(server, data, auth="post", client_id="post-client", secret="post-secret")
    assert resp.status_code == 200, resp.text
    rec = server.token_requests[-1]
    assert rec["auth_method"] == "client_secret_post"
    assert rec["client_id"] == "post-client"
    assert "client_secret" not in rec["form"]

    body = full_flow(server)  # basic client
    assert body["access_token"]
    assert server.token_requests[-1]["auth_method"] == "client_secret_basic"

    # a basic-registered client may not use client_secret_post, and vice versa
    verifier, challenge = make_pkce()
    code = get_code(server, challenge)
    resp = exchange(server, code, verifier, auth="post")
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
    resp = exchange(server, code, verifier, secret="wrong")
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
    assert server.token_requests[-1]["status"] == 401


def test_token_mode_status_500(server: OAuthServer) -> None:
    verifier, challenge = make_pkce()
    code = get_code(server, challenge)
    server.token_mode = "status_500"
    assert exchange(server, code, verifier).status_code == 500
    assert server.token_requests[-1]["status"] == 500
    server.token_mode = "normal"  # the code was not consumed
    assert exchange(server, code, verifier).status_code == 200


def test_token_mode_html(server: OAuthServer) -> None:
    server.token_mode = "html"
    resp = exchange(server, "whatever", "v" * 43)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert server.token_requests[-1]["status"] == 200


def test_token_mode_no_access_token(server: OAuthServer) -> None:
    server.token_mode = "no_access_token"
    resp = exchange(server, "whatever", "v" * 43)
    assert resp.status_code == 200
    assert "access_token" not in resp.json()
    assert resp.json()["token_type"] == "Bearer"


def test_token_mode_invalid_grant(server: OAuthServer) -> None:
    verifier, challenge = make_pkce()
    code = get_code(server, challenge)
    server.token_mode = "invalid_grant"
    resp = exchange(server, code, verifier)
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_grant"
    assert server.token_requests[-1]["status"] == 400


def test_token_mode_form_encoded(server: OAuthServer) -> None:
    server.token_mode = "form_encoded"
    verifier, challenge = make_pkce()
    code = get_code(server, challenge)
    resp = exchange(server, code, verifier)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/x-www-form-urlencoded")
    body = {k: v[0] for k, v in parse_qs(resp.text).items()}
    assert body["access_token"] in server.issued_access_tokens()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == "3600"
    assert body["refresh_token"]


def test_token_mode_hang(server: OAuthServer) -> None:
    server.token_mode = "hang"
    server.hang_seconds = 0.5
    verifier, challenge = make_pkce()
    code = get_code(server, challenge)
    with pytest.raises(httpx.TimeoutException):
        exchange(server, code, verifier, timeout=0.1)
    assert server.token_requests[-1]["grant_type"] == "authorization_code"
    # a patient client gets a normal answer after hang_seconds
    started = time.monotonic()
    resp = exchange(server, code, verifier, timeout=5)
    assert time.monotonic() - started >= 0.45
    assert resp.status_code in (200, 400)  # first (timed-out) request may have used the code
    assert len(server.token_requests) == 2


def test_hang_does_not_block_stop() -> None:
    srv = OAuthServer().start()
    srv.register_client(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI])
    srv.token_mode = "hang"
    srv.hang_seconds = 30
    results: list[int | httpx.HTTPError] = []

    def call() -> None:
        try:
            results.append(exchange(srv, "c", "v" * 43, timeout=10).status_code)
        except httpx.HTTPError as exc:  # pragma: no cover - either outcome is fine
            results.append(exc)

    t = threading.Thread(target=call, daemon=True)
    t.start()
    deadline = time.monotonic() + 2
    while not srv.token_requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert srv.token_requests
    started = time.monotonic()
    srv.stop()
    assert time.monotonic() - started < 2
    t.join(timeout=2)
    assert results == [503]


def test_invalid_token_mode_rejected(server: OAuthServer) -> None:
    with pytest.raises(ValueError):
        server.token_mode = "bogus"
