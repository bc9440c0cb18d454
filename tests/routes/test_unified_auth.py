"""Unified.to's authorization URL (`/unified/integration/auth/{workspace_id}/{integration}`): the
same flow as the picker's public parameters, with Unified's names, ending on
`success_redirect?id=…&state=…` — and refused where public mode is, with every allowlist applied."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from server.db.tables import connections
from server.db.workspaces import update_environment
from tests.harness import FAILURE_URL, SUCCESS_URL, Running, Workspace, query_of


def unified_params(**extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "env": "Sandbox",
        "external_xref": "user-42",
        "success_redirect": SUCCESS_URL,
        "failure_redirect": FAILURE_URL,
        "state": "unified-state",
        "scopes": "crm_contact_read",
    }
    params.update(extra)
    return params


async def to_consent(lk: Running, start_url: str) -> str:
    start = await lk.client.get(start_url)
    assert start.status_code == 302, start.text
    consent = await lk.client.get(start.headers["location"])
    assert consent.status_code == 200, consent.text
    return consent.text.split('name="request" value="', 1)[1].split('"', 1)[0]


async def test_the_url_comes_back_as_text_and_the_flow_ends_on_success_redirect_with_id_and_state(
    lk: Running, workspace: Workspace
) -> None:
    answer = await lk.client.get(f"/unified/integration/auth/{workspace.id}/sandbox", params=unified_params())
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    assert answer.text.startswith(f"{lk.services.settings.base_url}/auth/sandbox/start?ctx=")
    request_token = await to_consent(lk, answer.text)
    decided = await lk.client.post("/sandbox/oauth/decide", data={"request": request_token, "decision": "approve"})
    back = await lk.client.get(decided.headers["location"])
    assert back.status_code == 302 and back.headers["location"].startswith(SUCCESS_URL + "?")
    result = query_of(back.headers["location"])
    assert result["state"] == "unified-state" and result["id"] == result["connection_id"]
    row = await lk.db.fetch_one(sa.select(connections).where(connections.c.id == result["id"]))
    assert row is not None and row["external_xref"] == "user-42" and row["environment"] == "sandbox"


async def test_redirect_true_sends_the_browser_to_the_flow_at_once(lk: Running, workspace: Workspace) -> None:
    answer = await lk.client.get(
        f"/unified/integration/auth/{workspace.id}/sandbox", params=unified_params(redirect="true")
    )
    assert answer.status_code == 302 and "/auth/sandbox/start?ctx=" in answer.headers["location"]


async def test_a_declined_authorization_ends_on_failure_redirect_with_the_error(
    lk: Running, workspace: Workspace
) -> None:
    answer = await lk.client.get(f"/unified/integration/auth/{workspace.id}/sandbox", params=unified_params())
    request_token = await to_consent(lk, answer.text)
    decided = await lk.client.post("/sandbox/oauth/decide", data={"request": request_token, "decision": "deny"})
    back = await lk.client.get(decided.headers["location"])
    assert back.headers["location"].startswith(FAILURE_URL + "?")
    assert query_of(back.headers["location"])["error"] == "access_denied"


async def test_production_without_public_mode_is_refused_as_unified_defaults_to_it(
    lk: Running, workspace: Workspace
) -> None:
    answer = await lk.client.get(f"/unified/integration/auth/{workspace.id}/sandbox", params=unified_params(env=None))
    assert answer.status_code == 403 and 'data-error-code="session_required"' in answer.text


async def test_production_with_public_mode_hands_out_the_url_and_the_start_applies_the_activation(
    lk: Running, workspace: Workspace
) -> None:
    await update_environment(lk.db, workspace.id, "production", public_mode=True)
    unknown = await lk.client.get(
        f"/unified/integration/auth/{workspace.id}/hubspot", params=unified_params(env="Production")
    )
    assert unknown.status_code == 200  # the URL is handed out; the start says the integration is not active
    started = await lk.client.get(unknown.text)
    assert started.status_code == 302 and started.headers["location"].startswith(FAILURE_URL + "?")
    failed = query_of(started.headers["location"])
    assert failed["error"] == "integration_not_active" and failed["state"] == "unified-state"


async def test_every_allowlist_still_applies(lk: Running, workspace: Workspace) -> None:
    off_list = await lk.client.get(
        f"/unified/integration/auth/{workspace.id}/sandbox",
        params=unified_params(success_redirect="https://evil.example/done"),
    )
    assert off_list.status_code == 400 and 'data-error-code="redirect_not_allowed"' in off_list.text
    no_user = await lk.client.get(
        f"/unified/integration/auth/{workspace.id}/sandbox", params=unified_params(external_xref=None)
    )
    assert no_user.status_code == 400 and 'data-error-code="invalid_request"' in no_user.text
    unknown = await lk.client.get(f"/unified/integration/auth/{workspace.id}/nope", params=unified_params())
    assert unknown.status_code == 404 and 'data-error-code="integration_not_found"' in unknown.text
    nobody = await lk.client.get("/unified/integration/auth/ws_nope/sandbox", params=unified_params())
    assert nobody.status_code == 404
