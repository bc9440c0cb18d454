"""The Integrations pages: the catalog with search and filters, one-click sandbox activation,
production activation with developer credentials (masked once saved), deactivation."""

from __future__ import annotations

import re

import sqlalchemy as sa

from server.db import activations as activation_store
from server.db.tables import activations
from tests.dashboard.support import Member, post, sign_in
from tests.harness import Running, Workspace


def shown(html: str) -> list[str]:
    return re.findall(r'<li class="dk-card dk-int"[^>]*data-integration="([a-z0-9-]+)"', html)


async def test_the_catalog_lists_every_integration_with_its_status(
    lk: Running, workspace: Workspace, member: Member
) -> None:
    await sign_in(lk.client, member)
    page = await lk.client.get("/dashboard/sandbox/integrations")
    slugs = shown(page.text)
    assert len(slugs) == len(lk.services.catalog) and "hubspot" in slugs and "sandbox" in slugs
    assert f"3 of {len(lk.services.catalog)} active in Sandbox" in page.text
    # Sandbox CRM exists only in the sandbox.
    production = await lk.client.get("/dashboard/production/integrations")
    assert "sandbox" not in shown(production.text) and "0 of" in production.text


async def test_search_category_and_status_filter_the_catalog(lk: Running, workspace: Workspace, member: Member) -> None:
    await sign_in(lk.client, member)
    assert shown((await lk.client.get("/dashboard/sandbox/integrations?q=hubsp")).text) == ["hubspot"]
    assert shown((await lk.client.get("/dashboard/sandbox/integrations?q=recruit")).text) == [
        i.slug for i in lk.services.catalog if "ats" in i.categories
    ]
    crm = shown((await lk.client.get("/dashboard/sandbox/integrations?category=crm")).text)
    assert crm and all((found := lk.services.catalog.get(s)) is not None and "crm" in found.categories for s in crm)
    assert sorted(shown((await lk.client.get("/dashboard/sandbox/integrations?status=active")).text)) == [
        "sandbox",
        "shopify",
        "stripe",
    ]
    empty = await lk.client.get("/dashboard/sandbox/integrations?q=zzzz")
    assert shown(empty.text) == [] and "No integrations match" in empty.text


async def test_one_click_activation_in_the_sandbox(lk: Running, workspace: Workspace, member: Member) -> None:
    csrf = await sign_in(lk.client, member)
    response = await post(
        lk.client,
        "/dashboard/sandbox/integrations/hubspot/activate",
        csrf,
        {"return_to": "/dashboard/sandbox/integrations?category=crm"},
    )
    assert (
        response.status_code == 303 and response.headers["location"] == "/dashboard/sandbox/integrations?category=crm"
    )
    activation = await activation_store.get_activation(lk.db, workspace.id, "sandbox", "hubspot")
    assert activation is not None and activation.client_id is None and activation.scopes == ()
    page = await lk.client.get(response.headers["location"])
    assert "HubSpot is active in Sandbox." in page.text
    # The API sees it too: the picker offers it.
    listed = (await lk.client.get("/api/v1/integrations", headers=workspace.auth())).json()["data"]
    assert next(i for i in listed if i["slug"] == "hubspot")["active"] is True


async def test_return_to_never_leaves_the_page(lk: Running, workspace: Workspace, member: Member) -> None:
    csrf = await sign_in(lk.client, member)
    response = await post(
        lk.client, "/dashboard/sandbox/integrations/slack/activate", csrf, {"return_to": "https://evil.example/"}
    )
    assert response.headers["location"] == "/dashboard/sandbox/integrations"


async def test_production_oauth_needs_client_credentials(lk: Running, workspace: Workspace, member: Member) -> None:
    csrf = await sign_in(lk.client, member)
    page = await lk.client.get("/dashboard/production/integrations/hubspot")
    assert "http://latchkey.test/auth/hubspot/callback" in page.text  # the redirect URI to register
    quick = await post(lk.client, "/dashboard/production/integrations/hubspot/activate", csrf)
    assert quick.status_code == 303 and quick.headers["location"] == "/dashboard/production/integrations/hubspot"
    refused = await post(
        lk.client, "/dashboard/production/integrations/hubspot", csrf, {"scopes": ["crm_contact_read"]}
    )
    assert refused.status_code == 400
    assert 'id="client_id-error"' in refused.text and 'id="client_secret-error"' in refused.text
    assert 'aria-invalid="true"' in refused.text
    assert await activation_store.get_activation(lk.db, workspace.id, "production", "hubspot") is None


async def test_saved_credentials_are_masked_and_the_secret_never_shown(
    lk: Running, workspace: Workspace, member: Member
) -> None:
    csrf = await sign_in(lk.client, member)
    client_id, secret = "hubspot-client-id-12345678", "hubspot-super-secret-value"
    saved = await post(
        lk.client,
        "/dashboard/production/integrations/hubspot",
        csrf,
        {"client_id": client_id, "client_secret": secret, "scopes": ["crm_contact_read", "crm_deal_read"]},
    )
    assert saved.status_code == 303
    activation = await activation_store.get_activation(lk.db, workspace.id, "production", "hubspot")
    assert activation is not None
    assert activation.client_id == client_id and activation.scopes == ("crm_contact_read", "crm_deal_read")
    assert activation_store.client_secret(lk.services.sealer, activation) == secret
    row = await lk.db.fetch_one(
        sa.select(activations.c.client_secret_enc).where(activations.c.environment == "production")
    )
    assert row is not None
    assert secret not in row["client_secret_enc"]  # sealed at rest

    page = await lk.client.get("/dashboard/production/integrations/hubspot")
    assert secret not in page.text and client_id not in page.text
    assert "hubs••••••••5678" in page.text and "HubSpot is active in Production." in page.text

    # Saving again with the secret left blank keeps it.
    again = await post(lk.client, "/dashboard/production/integrations/hubspot", csrf, {"scopes": ["crm_contact_read"]})
    assert again.status_code == 303
    assert "HubSpot: changes saved." in (await lk.client.get(again.headers["location"])).text
    activation = await activation_store.get_activation(lk.db, workspace.id, "production", "hubspot")
    assert activation is not None
    assert activation.client_id == client_id and activation.scopes == ("crm_contact_read",)
    assert activation_store.client_secret(lk.services.sealer, activation) == secret


async def test_api_key_integrations_activate_in_one_click_in_production(
    lk: Running, workspace: Workspace, member: Member
) -> None:
    csrf = await sign_in(lk.client, member)
    response = await post(lk.client, "/dashboard/production/integrations/stripe/activate", csrf)
    assert response.status_code == 303
    assert await activation_store.get_activation(lk.db, workspace.id, "production", "stripe") is not None


async def test_unknown_scopes_are_refused(lk: Running, workspace: Workspace, member: Member) -> None:
    csrf = await sign_in(lk.client, member)
    response = await post(
        lk.client, "/dashboard/sandbox/integrations/hubspot", csrf, {"scopes": ["commerce_order_read"]}
    )
    assert response.status_code == 400 and 'id="scopes-error"' in response.text
    assert await activation_store.get_activation(lk.db, workspace.id, "sandbox", "hubspot") is None


async def test_deactivate(lk: Running, workspace: Workspace, member: Member) -> None:
    csrf = await sign_in(lk.client, member)
    response = await post(lk.client, "/dashboard/sandbox/integrations/stripe/deactivate", csrf)
    assert response.status_code == 303
    assert await activation_store.get_activation(lk.db, workspace.id, "sandbox", "stripe") is None
    assert (await post(lk.client, "/dashboard/sandbox/integrations/stripe/deactivate", csrf)).status_code == 404
    assert (await lk.client.get("/dashboard/sandbox/integrations/no-such")).status_code == 404
    assert (await lk.client.get("/dashboard/production/integrations/sandbox")).status_code == 404
