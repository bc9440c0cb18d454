"""The activity page: each dashboard change appears once, by the member who made it, readable; the
page keeps to the member's workspace and environment; paging; never a secret; refusals record nothing."""

from __future__ import annotations

import html
import re

import sqlalchemy as sa

from server.audit_actions import Actor
from server.db import audit as audit_store
from server.db import members as member_store
from server.db import workspaces as workspace_store
from server.db.tables import audit_events
from tests.dashboard.support import Member, add_member, post, sign_in
from tests.harness import HOST_ORIGIN, Running, Workspace, new_workspace

CLIENT_SECRET = "canary-dashboard-client-secret-91c2"
WEBHOOK_TOKEN = "canary-dashboard-hook-token-3d7e"
HOOK = "https://hooks.example.com/dash"
ROW = re.compile(r'<tr data-audit-event="(aud_[\w-]+)" data-action="([a-z_.]+)">(.*?)</tr>', re.S)


def rows(page: str) -> list[tuple[str, str, str]]:
    """(id, action, the row's text as it reads on screen) for each row of the activity table."""
    return [(i, a, _visible(body)) for i, a, body in ROW.findall(page)]


def _visible(fragment: str) -> str:
    fragment = re.sub(r'<span class="lk-sr">[^<]*</span>', " ", fragment)  # for screen readers only
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


async def audit_count(lk: Running) -> int:
    count: int = await lk.db.fetch_val(sa.select(sa.func.count()).select_from(audit_events))
    return count


async def test_the_page_needs_a_signed_in_member(lk: Running, workspace: Workspace) -> None:
    response = await lk.client.get("/dashboard/sandbox/activity")
    assert response.status_code == 303 and response.headers["location"].startswith("/dashboard/sign-in")


async def test_every_page_links_to_the_activity_log(lk: Running, workspace: Workspace, member: Member) -> None:
    await sign_in(lk.client, member)
    for path in ("/dashboard/sandbox/integrations", "/dashboard/production/webhooks"):
        assert f'href="{path.rsplit("/", 1)[0]}/activity"' in (await lk.client.get(path)).text
    page = await lk.client.get("/dashboard/production/activity")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert '<a href="/dashboard/production/activity" aria-current="page">' in page.text
    assert 'data-state="empty"' in page.text and "No activity yet." in page.text
    assert 'href="/dashboard/sandbox/activity"' in page.text  # the environment switcher stays on the page


async def test_each_dashboard_change_is_recorded_once_by_the_member(
    lk: Running, workspace: Workspace, member: Member
) -> None:
    csrf = await sign_in(lk.client, member)
    base = "/dashboard/sandbox"
    assert (await post(lk.client, f"{base}/integrations/hubspot/activate", csrf)).status_code == 303
    saved = await post(lk.client, f"{base}/integrations/hubspot", csrf, {"scopes": ["crm_contact_read"]})
    assert saved.status_code == 303
    assert (await post(lk.client, f"{base}/integrations/stripe/deactivate", csrf)).status_code == 303
    embed = {
        "allowed_origins": f"{HOST_ORIGIN}\nhttps://app.example.com",
        "allowed_redirect_urls": "http://host.test/connected\nhttp://host.test/failed",
        "public_mode": "on",
        "mode": "inline",
        "theme": "dark",
        "lang": "en",
    }
    assert (await post(lk.client, f"{base}/embed", csrf, embed)).status_code == 303
    assert (await post(lk.client, f"{base}/embed", csrf, embed)).status_code == 303  # the same again: no event
    assert (await post(lk.client, f"{base}/api-keys/rotate", csrf)).status_code == 200
    created = await post(lk.client, f"{base}/webhooks", csrf, {"url": HOOK, "events": ["auth.failed"]})
    assert created.status_code == 200
    endpoint_id = re.search(r"whep_[\w-]+", created.text)
    assert endpoint_id is not None
    assert (await post(lk.client, f"{base}/webhooks/{endpoint_id.group(0)}/delete", csrf)).status_code == 303
    made = await post(lk.client, f"{base}/connections", csrf, {"integration": "sandbox", "external_xref": "dash-u"})
    conn_id = made.headers["location"].rsplit("/", 1)[1]
    assert (await post(lk.client, f"{base}/connections/{conn_id}/delete", csrf)).status_code == 303

    log = await audit_store.list_audit_events(lk.db, workspace.id, "sandbox", limit=100)
    assert [e.action for e in log] == [
        "connection.deleted",
        "webhook.deleted",
        "webhook.created",
        "api_key.rotated",
        "embed.updated",
        "environment.updated",
        "integration.deactivated",
        "integration.updated",
        "integration.activated",
    ]
    assert {e.actor for e in log} == {Actor("member", member.email)}
    by_action = {e.action: e.changes for e in log}
    assert by_action["environment.updated"] == {
        "allowed_origins": {"before": [HOST_ORIGIN], "after": [HOST_ORIGIN, "https://app.example.com"]}
    }
    assert by_action["embed.updated"] == {
        "mode": {"before": "popup", "after": "inline"},
        "theme": {"before": "auto", "after": "dark"},
    }
    assert by_action["integration.activated"] == {"integration": "hubspot", "scopes": []}
    assert by_action["integration.updated"] == {
        "integration": "hubspot",
        "scopes": {"before": [], "after": ["crm_contact_read"]},
    }
    assert by_action["connection.deleted"]["connection_id"] == conn_id

    page = await lk.client.get(f"{base}/activity")
    shown = rows(page.text)
    assert [a for _, a, _ in shown] == [e.action for e in log]
    text = {a: t for _, a, t in shown}
    assert member.email in text["environment.updated"]
    assert "Allowed origins: added https://app.example.com" in text["environment.updated"]
    assert "Mode: popup → inline" in text["embed.updated"] and "Theme: auto → dark" in text["embed.updated"]
    assert "Integration activated" in text["integration.activated"] and "HubSpot" in text["integration.activated"]
    assert "Scopes: every scope it offers" in text["integration.activated"]
    assert "Scopes: added crm_contact_read" in text["integration.updated"]
    assert "Integration deactivated" in text["integration.deactivated"] and "Stripe" in text["integration.deactivated"]
    assert f"URL: {HOOK}" in text["webhook.created"] and "Events: auth.failed" in text["webhook.created"]
    assert re.search(r"Secret key: lk_sbx_\S{5}… → lk_sbx_\S{5}…", text["api_key.rotated"])
    assert (
        "User ID: dash-u" in text["connection.deleted"]
        and "Tokens at the provider: revoked" in text["connection.deleted"]
    )


async def test_canary_secrets_never_reach_the_page_or_the_table(
    lk: Running, workspace: Workspace, member: Member
) -> None:
    csrf = await sign_in(lk.client, member)
    saved = await post(
        lk.client,
        "/dashboard/production/integrations/hubspot",
        csrf,
        {"client_id": "dash-client-id-5678", "client_secret": CLIENT_SECRET, "scopes": ["crm_contact_read"]},
    )
    assert saved.status_code == 303
    again = await post(lk.client, "/dashboard/production/integrations/hubspot", csrf, {"scopes": ["crm_deal_read"]})
    assert again.status_code == 303  # the secret left blank keeps the stored one: not "changed"
    rotated = await post(lk.client, "/dashboard/production/api-keys/rotate", csrf)
    new_key = re.search(r"lk_live_[A-Za-z0-9_-]{43}", rotated.text)
    assert new_key is not None
    created = await post(
        lk.client,
        "/dashboard/production/webhooks",
        csrf,
        {"url": f"{HOOK}?token={WEBHOOK_TOKEN}", "events": ["auth.failed"]},
    )
    signing_secret = re.search(r'id="new-secret">(whsec_[A-Za-z0-9+/=]+)<', created.text)
    assert signing_secret is not None

    page = await lk.client.get("/dashboard/production/activity")
    text = {a: t for _, a, t in rows(page.text)}
    assert "Client secret: set" in text["integration.activated"]
    assert "Client ID: dash••••••••5678" in text["integration.activated"]
    assert "Client secret" not in text["integration.updated"]
    assert f"URL: {HOOK}?…" in text["webhook.created"]
    stored = repr([dict(r._mapping) for r in await lk.db.fetch_all(sa.select(audit_events))])
    canaries = [CLIENT_SECRET, WEBHOOK_TOKEN, new_key.group(0), signing_secret.group(1), workspace.production_key]
    canaries += ["dash-client-id-5678", member.password]
    for where in (page.text, stored):
        assert [c for c in canaries if c in where] == []


async def test_a_refused_dashboard_change_records_nothing(lk: Running, workspace: Workspace, member: Member) -> None:
    csrf = await sign_in(lk.client, member)
    refused = [
        await post(lk.client, "/dashboard/sandbox/embed", csrf, {"allowed_origins": "not an origin", "mode": "popup"}),
        await post(lk.client, "/dashboard/production/integrations/hubspot", csrf, {"scopes": ["crm_contact_read"]}),
        await post(lk.client, "/dashboard/sandbox/integrations/hubspot", csrf, {"scopes": ["commerce_order_read"]}),
        await post(
            lk.client, "/dashboard/sandbox/webhooks", csrf, {"url": "http://127.0.0.1/x", "events": ["auth.failed"]}
        ),
        await post(lk.client, "/dashboard/sandbox/webhooks/whep_nothing/delete", csrf),
        await post(lk.client, "/dashboard/sandbox/integrations/hubspot/deactivate", csrf),  # not active
        await post(lk.client, "/dashboard/sandbox/api-keys/rotate", None),  # no CSRF token
        await post(lk.client, "/dashboard/sandbox/embed", csrf[:-2] + "xx", {"mode": "inline"}),
    ]
    assert [r.status_code for r in refused] == [400, 400, 400, 400, 404, 404, 403, 403]
    assert await audit_count(lk) == 0
    assert 'data-state="empty"' in (await lk.client.get("/dashboard/sandbox/activity")).text


async def test_the_page_keeps_to_the_members_workspace_and_environment(
    lk: Running, workspace: Workspace, member: Member
) -> None:
    other = await new_workspace(lk.services)
    await workspace_store.rotate_key(lk.db, other.id, "sandbox", actor=Actor.cli())
    await workspace_store.update_environment(lk.db, workspace.id, "production", public_mode=True, actor=Actor.cli())
    await add_member(lk, workspace.id, email="second@example.com")
    theirs = await audit_store.list_audit_events(lk.db, other.id, "sandbox")
    assert len(theirs) == 1
    await sign_in(lk.client, member)

    sandbox = rows((await lk.client.get("/dashboard/sandbox/activity")).text)
    assert sandbox == []  # add_member records nothing (no actor); production's change stays in production
    production = rows((await lk.client.get("/dashboard/production/activity")).text)
    assert [a for _, a, _ in production] == ["environment.updated"]
    assert "Command line" in production[0][2] and "Public mode: off → on" in production[0][2]
    # Another workspace's event, as a cursor, is this dashboard's own 404.
    foreign = await lk.client.get("/dashboard/sandbox/activity", params={"after": theirs[0].id})
    assert foreign.status_code == 404 and theirs[0].id not in foreign.text
    own_other_env = await lk.client.get("/dashboard/sandbox/activity", params={"after": production[0][0]})
    assert own_other_env.status_code == 404


async def test_workspace_events_show_in_both_environments(lk: Running, workspace: Workspace, member: Member) -> None:
    await member_store.create_member(lk.db, workspace.id, "new@example.com", "scrypt$x", actor=Actor.cli())
    await sign_in(lk.client, member)
    for env in ("sandbox", "production"):
        [(_, action, text)] = rows((await lk.client.get(f"/dashboard/{env}/activity")).text)
        assert action == "member.added" and "Whole workspace" in text and "E-mail: new@example.com" in text


async def test_paging_and_the_filter_walk_every_event_exactly_once(
    lk: Running, workspace: Workspace, member: Member
) -> None:
    for i in range(30):
        await workspace_store.update_environment(
            lk.db, workspace.id, "sandbox", public_mode=i % 2 == 1, actor=Actor.member(member.email)
        )
    await workspace_store.rotate_key(lk.db, workspace.id, "sandbox", actor=Actor.member(member.email))
    await sign_in(lk.client, member)
    first = await lk.client.get("/dashboard/sandbox/activity")
    page_one = rows(first.text)
    assert len(page_one) == 25 and page_one[0][1] == "api_key.rotated"
    older = re.search(r'<a href="([^"]+)" class="lk-secondary lk-small">Older', first.text)
    assert older is not None
    second = await lk.client.get(html.unescape(older.group(1)))
    page_two = rows(second.text)
    assert len(page_two) == 6 and "Older" not in second.text and "Newest" in second.text
    ids = [i for i, _, _ in page_one + page_two]
    expected = [e.id for e in await audit_store.list_audit_events(lk.db, workspace.id, "sandbox", limit=100)]
    assert ids == expected and len(set(ids)) == 31

    filtered = await lk.client.get("/dashboard/sandbox/activity", params={"action": "api_key.rotated"})
    assert [a for _, a, _ in rows(filtered.text)] == ["api_key.rotated"]
    assert '<option value="api_key.rotated" selected>' in filtered.text
    nothing = await lk.client.get("/dashboard/sandbox/activity", params={"action": "webhook.created"})
    assert rows(nothing.text) == [] and 'data-state="empty-filtered"' in nothing.text
    unknown = await lk.client.get("/dashboard/sandbox/activity", params={"action": "nope"})
    assert len(rows(unknown.text)) == 25  # an unknown filter is no filter
