"""Integrations through the REST API: the catalog with activation status, activate, deactivate."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from server.db.tables import activations
from tests.harness import BASE_URL, Running, Workspace

CLIENT_SECRET = "hubspot-client-secret-that-must-never-come-back"


async def listing(lk: Running, workspace: Workspace, env: str = "sandbox", **params: str) -> dict[str, dict[str, Any]]:
    answer = await lk.client.get("/api/v1/integrations", headers=workspace.auth(env), params=params)
    assert answer.status_code == 200, answer.text
    return {item["slug"]: item for item in answer.json()["data"]}


async def activation_rows(lk: Running) -> list[tuple[Any, ...]]:
    rows = await lk.db.fetch_all(
        sa.select(
            activations.c.environment,
            activations.c.integration,
            activations.c.scopes,
            activations.c.client_id,
            activations.c.client_secret_enc,
        )
    )
    return sorted(
        (r["environment"], r["integration"], r["scopes"], r["client_id"], r["client_secret_enc"]) for r in rows
    )


async def test_list_shows_the_catalog_with_activation_status(lk: Running, workspace: Workspace) -> None:
    items = await listing(lk, workspace)
    assert {"hubspot", "stripe", "shopify", "sandbox"} <= set(items)
    assert (
        items["stripe"]["active"] is True
        and items["stripe"]["available"] is True
        and items["stripe"]["unavailable_reason"] is None
    )
    assert items["stripe"]["activation"] == {
        "integration": "stripe",
        "environment": "sandbox",
        "client_id": None,
        "has_client_secret": False,
        "scopes": [],
    }
    assert items["hubspot"]["active"] is False and items["hubspot"]["activation"] is None
    assert items["hubspot"]["available"] is False and items["hubspot"]["unavailable_reason"] == "not activated"
    assert items["hubspot"]["auth_kind"] == "oauth2" and "crm_contact_read" in items["hubspot"]["unified_scopes"]


async def test_redirect_uri_is_given_for_oauth2_integrations_only(lk: Running, workspace: Workspace) -> None:
    items = await listing(lk, workspace)
    assert items["hubspot"]["redirect_uri"] == f"{BASE_URL}/auth/hubspot/callback"
    assert items["shopify"]["redirect_uri"] == f"{BASE_URL}/auth/shopify/callback"
    assert items["stripe"]["redirect_uri"] is None


async def test_production_does_not_list_sandbox_only_integrations(lk: Running, workspace: Workspace) -> None:
    assert "sandbox" in await listing(lk, workspace)
    production = await listing(lk, workspace, "production")
    assert "sandbox" not in production and production["stripe"]["active"] is False  # activations are per environment


async def test_scopes_filter_marks_integrations_that_cannot_grant_them(lk: Running, workspace: Workspace) -> None:
    items = await listing(lk, workspace, scopes="commerce_order_read")
    assert items["stripe"]["available"] is True and items["shopify"]["available"] is True
    assert items["sandbox"]["available"] is False
    assert items["sandbox"]["unavailable_reason"] == "cannot grant commerce_order_read"
    both = await listing(lk, workspace, scopes="commerce_order_read,crm_deal_read")
    assert both["stripe"]["unavailable_reason"] == "cannot grant crm_deal_read"
    assert both["sandbox"]["unavailable_reason"] == "cannot grant commerce_order_read"
    assert both["hubspot"]["available"] is False  # neither active nor able to grant commerce_order_read


async def test_unknown_scope_in_the_filter_is_400(lk: Running, workspace: Workspace) -> None:
    answer = await lk.client.get("/api/v1/integrations", headers=workspace.auth(), params={"scopes": "crm_everything"})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_request"


async def test_scopes_filter_respects_the_scopes_an_activation_enables(lk: Running, workspace: Workspace) -> None:
    put = await lk.client.put(
        "/api/v1/integrations/hubspot", headers=workspace.auth(), json={"scopes": ["crm_contact_read"]}
    )
    assert put.status_code == 200
    items = await listing(lk, workspace, scopes="crm_deal_read")
    assert items["hubspot"]["available"] is False


async def test_activate_in_the_sandbox_needs_no_client_credentials(lk: Running, workspace: Workspace) -> None:
    answer = await lk.client.put(
        "/api/v1/integrations/hubspot", headers=workspace.auth(), json={"scopes": ["crm_contact_read"]}
    )
    assert answer.status_code == 200
    assert answer.json()["data"] == {
        "integration": "hubspot",
        "environment": "sandbox",
        "client_id": None,
        "has_client_secret": False,
        "scopes": ["crm_contact_read"],
    }
    assert (await listing(lk, workspace))["hubspot"]["active"] is True


async def test_activate_in_production_without_client_credentials_is_400(lk: Running, workspace: Workspace) -> None:
    before = await activation_rows(lk)
    for body in ({}, {"client_id": "cid"}, {"client_secret": "secret"}, {"client_id": "", "client_secret": "secret"}):
        answer = await lk.client.put("/api/v1/integrations/hubspot", headers=workspace.auth("production"), json=body)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_request"
        assert "client_id and client_secret" in answer.json()["error"]["message"]
    assert await activation_rows(lk) == before


async def test_activate_in_production_with_client_credentials(lk: Running, workspace: Workspace) -> None:
    answer = await lk.client.put(
        "/api/v1/integrations/hubspot",
        headers=workspace.auth("production"),
        json={"client_id": "cid-1", "client_secret": CLIENT_SECRET, "scopes": ["crm_contact_read"]},
    )
    assert answer.status_code == 200
    assert answer.json()["data"] == {
        "integration": "hubspot",
        "environment": "production",
        "client_id": "cid-1",
        "has_client_secret": True,
        "scopes": ["crm_contact_read"],
    }
    assert (await listing(lk, workspace, "production"))["hubspot"]["active"] is True
    assert (await listing(lk, workspace))["hubspot"]["active"] is False


async def test_form_integrations_activate_in_production_without_client_credentials(
    lk: Running, workspace: Workspace
) -> None:
    answer = await lk.client.put("/api/v1/integrations/stripe", headers=workspace.auth("production"), json={})
    assert answer.status_code == 200 and answer.json()["data"]["environment"] == "production"


async def test_activate_with_a_scope_the_integration_cannot_grant_is_invalid_scope(
    lk: Running, workspace: Workspace
) -> None:
    before = await activation_rows(lk)
    answer = await lk.client.put(
        "/api/v1/integrations/stripe", headers=workspace.auth(), json={"scopes": ["crm_contact_read", "repo_read"]}
    )
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_scope"
    assert "repo_read" in answer.json()["error"]["message"]
    assert await activation_rows(lk) == before


async def test_activating_again_updates_in_place(lk: Running, workspace: Workspace) -> None:
    await lk.client.put("/api/v1/integrations/hubspot", headers=workspace.auth(), json={"scopes": ["crm_contact_read"]})
    again = await lk.client.put(
        "/api/v1/integrations/hubspot", headers=workspace.auth(), json={"scopes": ["crm_deal_read", "crm_deal_read"]}
    )
    assert again.status_code == 200 and again.json()["data"]["scopes"] == ["crm_deal_read"]
    assert [r for r in await activation_rows(lk) if r[1] == "hubspot"] == [
        ("sandbox", "hubspot", '["crm_deal_read"]', None, None)
    ]


async def test_deactivate(lk: Running, workspace: Workspace) -> None:
    before = await activation_rows(lk)
    answer = await lk.client.delete("/api/v1/integrations/stripe", headers=workspace.auth())
    assert answer.status_code == 204 and answer.content == b""
    assert (await listing(lk, workspace))["stripe"]["active"] is False
    assert await activation_rows(lk) == [r for r in before if r[1] != "stripe"]
    again = await lk.client.delete("/api/v1/integrations/stripe", headers=workspace.auth())
    assert again.status_code == 404 and again.json()["error"]["code"] == "integration_not_active"


async def test_deactivate_in_one_environment_leaves_the_other(lk: Running, workspace: Workspace) -> None:
    await lk.client.put("/api/v1/integrations/stripe", headers=workspace.auth("production"), json={})
    assert (
        await lk.client.delete("/api/v1/integrations/stripe", headers=workspace.auth("production"))
    ).status_code == 204
    assert (await listing(lk, workspace))["stripe"]["active"] is True


async def test_the_client_secret_is_never_returned(lk: Running, workspace: Workspace) -> None:
    put = await lk.client.put(
        "/api/v1/integrations/hubspot",
        headers=workspace.auth("production"),
        json={"client_id": "cid-1", "client_secret": CLIENT_SECRET},
    )
    sealed = await lk.db.fetch_val(
        sa.select(activations.c.client_secret_enc).where(activations.c.environment == "production")
    )
    answers = [put]
    for path in (
        "/api/v1/integrations",
        "/api/v1/integrations?scopes=crm_contact_read",
        "/api/v1/environment",
        "/api/v1/scopes",
        "/api/v1/connections",
    ):
        answers.append(await lk.client.get(path, headers=workspace.auth("production")))
    answers.append(
        await lk.client.put(
            "/api/v1/integrations/hubspot",
            headers=workspace.auth("production"),
            json={"client_id": "cid-1", "client_secret": CLIENT_SECRET, "scopes": ["repo_read"]},
        )
    )
    answers.append(await lk.client.delete("/api/v1/integrations/hubspot", headers=workspace.auth("production")))
    for answer in answers:
        assert CLIENT_SECRET not in answer.text, answer.request.url
        assert sealed.split(".")[2][:20] not in answer.text and "client_secret_enc" not in answer.text


async def test_the_client_secret_is_stored_sealed(lk: Running, workspace: Workspace) -> None:
    await lk.client.put(
        "/api/v1/integrations/hubspot",
        headers=workspace.auth("production"),
        json={"client_id": "cid-1", "client_secret": CLIENT_SECRET},
    )
    [row] = [r for r in await activation_rows(lk) if r[0] == "production"]
    assert row[4].startswith("v1.") and CLIENT_SECRET not in row[4]


async def test_scopes_endpoint_lists_the_unified_scopes(lk: Running, workspace: Workspace) -> None:
    answer = await lk.client.get("/api/v1/scopes", headers=workspace.auth())
    names = [s["name"] for s in answer.json()["data"]]
    assert (
        "crm_contact_read" in names and "user_profile" in names and all(s["description"] for s in answer.json()["data"])
    )
