"""Access log without query strings or secrets; request size limit; default security headers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from server.db.tables import activations
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
