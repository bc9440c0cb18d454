"""The one edge layer (server/middleware.py): access log without query strings or secrets; request
size limit; default security headers. The text rule it applies is pinned where each input enters
(tests/api/test_api_validation.py, tests/routes/test_credentials_form.py)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

import httpx
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from starlette.types import ASGIApp, Receive, Scope, Send

from server.db.tables import activations
from server.errors import InvalidRequest
from server.middleware import EdgeMiddleware, check_url_text
from server.text import check_pairs
from tests.harness import Running, Workspace
from tests.routes.test_sandbox_flow import run_to_consent


async def test_logs_never_carry_codes_states_or_tokens(
    lk: Running, workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _, request_token = await run_to_consent(lk, workspace)
    decided = await lk.client.post("/sandbox/oauth/decide", data={"request": request_token, "decision": "approve"})
    callback = decided.headers["location"]
    done = await lk.client.get(callback)
    connection_id = done.headers["location"].split("connection_id=")[1].split("&")[0]
    got = await lk.client.get(f"/api/v1/connections/{connection_id}?include=credentials", headers=workspace.auth())
    token = got.json()["data"]["credentials"]["access_token"]
    # httpx's own INFO lines here are the *test client's* requests, which naturally hold the URL.
    text = "\n".join(r.getMessage() for r in caplog.records if r.name != "httpx")
    assert "GET /auth/sandbox/callback 302" in text  # the access log did run
    code = callback.split("code=")[1].split("&")[0]
    for secret in (token, code, workspace.sandbox_key, "state=", "ctx="):
        assert secret not in text, secret


async def test_oversized_bodies_are_refused_before_reaching_a_route(lk: Running, workspace: Workspace) -> None:
    before = await lk.db.fetch_val(sa.select(sa.func.count()).select_from(activations))
    big = "x" * (lk.services.settings.max_body_bytes + 1)
    answer = await lk.client.put(
        "/api/v1/integrations/hubspot", headers=workspace.auth(), content=f'{{"client_id": "{big}"}}'
    )
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "payload_too_large"
    assert await lk.db.fetch_val(sa.select(sa.func.count()).select_from(activations)) == before


async def test_chunked_oversized_bodies_are_refused_too(lk: Running, workspace: Workspace) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"x" * 1024

    answer = await lk.client.post("/api/v1/connections", headers=workspace.auth(), content=chunks())
    assert answer.status_code == 413


async def test_html_pages_carry_a_strict_csp_and_no_referrer(lk: Running) -> None:
    answer = await lk.client.get("/")
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert answer.headers["referrer-policy"] == "no-referrer" and answer.headers["x-content-type-options"] == "nosniff"


async def test_refused_requests_are_logged_with_their_status(
    lk: Running, workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="latchkey.access")
    big = "x" * (lk.services.settings.max_body_bytes + 1)
    await lk.client.post("/api/v1/connections", headers=workspace.auth(), content=big)
    await lk.client.get("/api/v1/connections?external_xref=u%00", headers=workspace.auth())
    lines = [r.getMessage() for r in caplog.records if r.name == "latchkey.access"]
    assert [" ".join(line.split(" ")[:3]) for line in lines] == [
        "POST /api/v1/connections 413",
        "GET /api/v1/connections 400",
    ]
    assert all(line.endswith(" from 127.0.0.1 over http") for line in lines)  # the test client's peer


async def test_a_form_over_the_limit_is_refused_while_it_is_read_for_the_text_rule(lk: Running) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"field=" + b"x" * 1024 + b"&"

    answer = await lk.client.post(
        "/auth/bamboohr/credentials",
        headers={"content-type": "application/x-www-form-urlencoded"},
        content=chunks(),
    )
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "payload_too_large"


def answering(headers: list[tuple[bytes, bytes]]) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"<p>hello</p>"})

    return app


async def test_an_html_page_without_a_csp_of_its_own_gets_a_strict_one() -> None:
    app = EdgeMiddleware(answering([(b"content-type", b"text/html; charset=utf-8")]), max_body_bytes=1024)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://latchkey.test") as client:
        answer = await client.get("/")
    assert answer.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert answer.headers["x-content-type-options"] == "nosniff" and answer.headers["referrer-policy"] == "no-referrer"


async def test_a_response_keeps_its_own_security_headers_and_the_list_it_sends_again() -> None:
    own = [(b"content-type", b"image/svg+xml"), (b"referrer-policy", b"same-origin")]
    sent_before = list(own)
    app = EdgeMiddleware(answering(own), max_body_bytes=1024)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://latchkey.test") as client:
        answer = await client.get("/")
    assert answer.headers["referrer-policy"] == "same-origin" and answer.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in answer.headers  # not an HTML page
    assert own == sent_before  # a response built once (server/assets.py) sends the same list every time


def refused_by_parsing(query: bytes) -> bool:
    """The rule in full: every decoded name and value (what check_url_text skips when it may)."""
    try:
        check_pairs(parse_qsl(query.decode("utf-8"), keep_blank_values=True, errors="strict"), "query")
    except (UnicodeDecodeError, InvalidRequest):
        return True
    return False


@hypothesis_settings(max_examples=400)
@given(
    st.binary(max_size=40)
    | st.text(alphabet=st.sampled_from("ab=&+%0079fFCcD\x00\x1f~ é"), max_size=30).map(str.encode)
)
def test_a_query_is_refused_exactly_when_its_decoded_text_breaks_the_rule(query: bytes) -> None:
    scope: Scope = {"type": "http", "path": "/x", "query_string": query}
    try:
        check_url_text(scope)
        refused = False
    except InvalidRequest:
        refused = True
    assert refused == refused_by_parsing(query)
