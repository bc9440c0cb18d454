"""The activity log through the REST API: each change recorded once, by the key that made it, in the
transaction that makes it; tenancy; paging; never a secret; a refused change records nothing."""

from __future__ import annotations

import ast
import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from server.audit_actions import Actor
from server.cli import main
from server.db import activations as activation_store
from server.db import audit as audit_store
from server.db import embed_settings as embed_store
from server.db import members as member_store
from server.db import migrations
from server.db import webhooks as webhook_store
from server.db import workspaces as workspace_store
from server.db.database import close_database, open_database
from server.db.embed_settings import EmbedSettings
from server.db.tables import audit_events
from server.settings import PROJECT_ROOT
from tests import harness
from tests.harness import SECRET, Running, Workspace, new_workspace

CLIENT_SECRET = "canary-client-secret-7f3a91d2"
CLIENT_SECRET_2 = "canary-client-secret-second-0b44"
WEBHOOK_TOKEN = "canary-webhook-query-token-55e1"
HOOK = "https://hooks.example.com/latchkey"


async def events(lk: Running, ws: Workspace, env: str = "sandbox", **params: Any) -> list[dict[str, Any]]:
    answer = await lk.client.get("/api/v1/audit-events", headers=ws.auth(env), params=params)
    assert answer.status_code == 200, answer.text
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


async def table_text(lk: Running) -> str:
    return repr([dict(r._mapping) for r in await lk.db.fetch_all(sa.select(audit_events))])


async def test_the_log_starts_empty_for_a_workspace_set_up_without_an_actor(lk: Running, workspace: Workspace) -> None:
    answer = await lk.client.get("/api/v1/audit-events", headers=workspace.auth())
    assert answer.status_code == 200 and answer.json() == {"data": [], "next_after": None}
    assert answer.headers["cache-control"] == "no-store"


async def test_the_log_needs_a_valid_key(lk: Running, workspace: Workspace) -> None:
    assert (await lk.client.get("/api/v1/audit-events")).status_code == 401
    bad = {"Authorization": "Bearer lk_sbx_" + "x" * 43}
    assert (await lk.client.get("/api/v1/audit-events", headers=bad)).status_code == 401


async def test_each_api_change_is_recorded_once_with_the_key_as_actor(lk: Running, workspace: Workspace) -> None:
    auth = workspace.auth()
    patched = await lk.client.patch(
        "/api/v1/environment", headers=auth, json={"allowed_origins": ["https://app.example.com"], "public_mode": False}
    )
    assert patched.status_code == 200
    put = await lk.client.put("/api/v1/integrations/hubspot", headers=auth, json={"scopes": ["crm_contact_read"]})
    assert put.status_code == 200
    changed = await lk.client.put(
        "/api/v1/integrations/hubspot", headers=auth, json={"scopes": ["crm_contact_read", "crm_deal_read"]}
    )
    assert changed.status_code == 200
    assert (await lk.client.delete("/api/v1/integrations/hubspot", headers=auth)).status_code == 204
    made = await lk.client.post("/api/v1/webhooks", headers=auth, json={"url": HOOK, "events": ["auth.failed"]})
    endpoint_id = made.json()["data"]["id"]
    assert (await lk.client.delete(f"/api/v1/webhooks/{endpoint_id}", headers=auth)).status_code == 204
    conn = await lk.client.post(
        "/api/v1/connections", headers=auth, json={"integration": "sandbox", "external_xref": "user-9"}
    )
    conn_id = conn.json()["data"]["id"]
    assert (await lk.client.delete(f"/api/v1/connections/{conn_id}", headers=auth)).status_code == 204

    log = await events(lk, workspace)
    assert [e["action"] for e in log] == [
        "connection.deleted",
        "webhook.deleted",
        "webhook.created",
        "integration.deactivated",
        "integration.updated",
        "integration.activated",
        "environment.updated",
    ]
    actor = {"kind": "api_key", "name": workspace.sandbox_key[:12] + "…"}
    assert all(e["actor"] == actor and e["environment"] == "sandbox" for e in log)
    by_action = {e["action"]: e["changes"] for e in log}
    assert by_action["environment.updated"] == {
        "allowed_origins": {"before": ["http://host.test"], "after": ["https://app.example.com"]},
        "public_mode": {"before": True, "after": False},
    }
    assert by_action["integration.activated"] == {"integration": "hubspot", "scopes": ["crm_contact_read"]}
    assert by_action["integration.updated"] == {
        "integration": "hubspot",
        "scopes": {"before": ["crm_contact_read"], "after": ["crm_contact_read", "crm_deal_read"]},
    }
    assert by_action["integration.deactivated"] == {
        "integration": "hubspot",
        "scopes": ["crm_contact_read", "crm_deal_read"],
    }
    assert by_action["webhook.created"] == {
        "endpoint_id": endpoint_id,
        "url": HOOK,
        "events": ["auth.failed"],
        "description": None,
    }
    assert by_action["webhook.deleted"] == {"endpoint_id": endpoint_id, "url": HOOK, "events": ["auth.failed"]}
    assert by_action["connection.deleted"] == {
        "connection_id": conn_id,
        "integration": "sandbox",
        "external_xref": "user-9",
        "revocation": "revoked",
    }
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", e["created_at"]) for e in log)
    assert len({e["id"] for e in log}) == len(log)


async def test_a_change_that_changes_nothing_records_nothing(lk: Running, workspace: Workspace) -> None:
    auth = workspace.auth()
    same = await lk.client.patch("/api/v1/environment", headers=auth, json={"public_mode": True})  # already on
    assert same.status_code == 200
    await lk.client.put("/api/v1/integrations/hubspot", headers=auth, json={"scopes": ["crm_contact_read"]})
    await lk.client.put("/api/v1/integrations/hubspot", headers=auth, json={"scopes": ["crm_contact_read"]})
    assert [e["action"] for e in await events(lk, workspace)] == ["integration.activated"]


async def test_a_refused_change_records_nothing(lk: Running, workspace: Workspace) -> None:
    auth, prod = workspace.auth(), workspace.auth("production")
    refused = [
        await lk.client.patch("/api/v1/environment", headers=auth, json={"allowed_origins": ["not an origin"]}),
        await lk.client.patch("/api/v1/environment", headers=auth, json={"public_mode": "yes"}),
        await lk.client.put("/api/v1/integrations/hubspot", headers=auth, json={"scopes": ["commerce_order_read"]}),
        await lk.client.put("/api/v1/integrations/hubspot", headers=prod, json={"client_id": "only-an-id"}),
        await lk.client.put("/api/v1/integrations/nope", headers=auth, json={}),
        await lk.client.delete("/api/v1/integrations/hubspot", headers=auth),  # not active
        await lk.client.post("/api/v1/webhooks", headers=auth, json={"url": "http://127.0.0.1/hook"}),
        await lk.client.post("/api/v1/webhooks", headers=auth, json={"url": HOOK, "events": ["nope"]}),
        await lk.client.delete("/api/v1/webhooks/whep_nothing", headers=auth),
        await lk.client.delete("/api/v1/connections/conn_nothing", headers=auth),
    ]
    assert [r.status_code // 100 for r in refused] == [4] * len(refused)
    assert await events(lk, workspace) == [] and await events(lk, workspace, "production") == []
    assert await lk.db.fetch_val(sa.select(sa.func.count()).select_from(audit_events)) == 0


async def test_the_twenty_first_endpoint_is_refused_and_records_nothing(lk: Running, workspace: Workspace) -> None:
    for i in range(webhook_store.MAX_ENDPOINTS_PER_ENVIRONMENT):
        await webhook_store.create_endpoint(
            lk.db, lk.services.sealer, workspace.id, "sandbox", url=f"{HOOK}/{i}", events=("auth.failed",)
        )
    refused = await lk.client.post("/api/v1/webhooks", headers=workspace.auth(), json={"url": HOOK})
    assert refused.status_code == 400
    assert await events(lk, workspace) == []


async def test_canary_secrets_never_reach_the_table_or_the_answer(lk: Running, workspace: Workspace) -> None:
    prod = workspace.auth("production")
    first = await lk.client.put(
        "/api/v1/integrations/hubspot",
        headers=prod,
        json={"client_id": "hubspot-client-id-1234", "client_secret": CLIENT_SECRET, "scopes": ["crm_contact_read"]},
    )
    assert first.status_code == 200
    second = await lk.client.put(
        "/api/v1/integrations/hubspot",
        headers=prod,
        json={"client_id": "hubspot-client-id-1234", "client_secret": CLIENT_SECRET_2, "scopes": ["crm_contact_read"]},
    )
    assert second.status_code == 200
    made = await lk.client.post(
        "/api/v1/webhooks",
        headers=prod,
        json={"url": f"{HOOK}?token={WEBHOOK_TOKEN}", "description": f"sync, secret {SECRET_SHAPED}"},
    )
    signing_secret = made.json()["data"]["secret"]
    log = await events(lk, workspace, "production")
    assert [e["action"] for e in log] == ["webhook.created", "integration.updated", "integration.activated"]
    assert log[2]["changes"] == {
        "integration": "hubspot",
        "scopes": ["crm_contact_read"],
        "client_id": "hubs••••••••1234",
        "client_secret": "set",
    }
    assert log[1]["changes"] == {"integration": "hubspot", "client_secret": "changed"}
    assert log[0]["changes"]["url"] == f"{HOOK}?…"
    assert log[0]["changes"]["description"] == f"sync, secret {audit_store.REDACTED}"

    answer = (await lk.client.get("/api/v1/audit-events", headers=prod)).text
    stored = await table_text(lk)
    canaries = [CLIENT_SECRET, CLIENT_SECRET_2, WEBHOOK_TOKEN, signing_secret, SECRET_SHAPED]
    canaries += [workspace.sandbox_key, workspace.production_key, "hubspot-client-id-1234"]
    for text in (answer, stored):
        assert [c for c in canaries if c in text] == []


SECRET_SHAPED = "whsec_" + "A" * 40  # a signing secret pasted into a description


async def test_another_workspaces_and_the_other_environments_events_are_never_listed(
    lk: Running, workspace: Workspace
) -> None:
    other = await new_workspace(lk.services)
    await lk.client.patch("/api/v1/environment", headers=other.auth(), json={"public_mode": False})
    await lk.client.patch("/api/v1/environment", headers=workspace.auth("production"), json={"public_mode": True})
    await member_store.create_member(lk.db, workspace.id, "ops@example.com", "scrypt$x", actor=Actor.cli())
    await member_store.create_member(lk.db, other.id, "theirs@example.com", "scrypt$x", actor=Actor.cli())

    sandbox = await events(lk, workspace)
    production = await events(lk, workspace, "production")
    assert [e["action"] for e in sandbox] == ["member.added"]  # the workspace's own events show in both
    assert [e["action"] for e in production] == ["member.added", "environment.updated"]
    assert sandbox[0]["environment"] is None and sandbox[0]["changes"] == {"email": "ops@example.com"}
    theirs = await events(lk, other)
    assert [e["changes"] for e in theirs] == [
        {"email": "theirs@example.com"},
        {"public_mode": {"before": True, "after": False}},
    ]
    # Another workspace's or environment's event is no cursor here.
    for cursor in (theirs[0]["id"], theirs[1]["id"], production[1]["id"]):
        answer = await lk.client.get("/api/v1/audit-events", headers=workspace.auth(), params={"after": cursor})
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_request"


async def test_paging_walks_every_event_exactly_once_newest_first(lk: Running, workspace: Workspace) -> None:
    for i in range(7):
        await lk.client.patch("/api/v1/environment", headers=workspace.auth(), json={"public_mode": i % 2 == 1})
    await lk.client.put("/api/v1/integrations/hubspot", headers=workspace.auth(), json={})
    everything = await events(lk, workspace)
    assert len(everything) == 8
    seen: list[str] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"after": after} if after else {})}
        answer = (await lk.client.get("/api/v1/audit-events", headers=workspace.auth(), params=params)).json()
        seen += [e["id"] for e in answer["data"]]
        after = answer["next_after"]
        if after is None:
            break
    assert seen == [e["id"] for e in everything]
    filtered = await events(lk, workspace, action="environment.updated", limit=200)
    assert len(filtered) == 7 and {e["action"] for e in filtered} == {"environment.updated"}
    both = await events(lk, workspace, action="environment.updated,integration.activated")
    assert both == everything


@pytest.mark.parametrize(
    "params",
    [{"limit": "0"}, {"limit": "201"}, {"limit": "ten"}, {"action": "nope"}, {"after": "aud_nothing"}],
    ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()),
)
async def test_bad_parameters_are_a_clear_400(lk: Running, workspace: Workspace, params: dict[str, str]) -> None:
    answer = await lk.client.get("/api/v1/audit-events", headers=workspace.auth(), params=params)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_request"


# --- the change and its event commit together ------------------------------------------------------


def _failing_record(*args: Any, **kwargs: Any) -> Awaitable[None]:
    raise RuntimeError("the audit insert failed")


Change = Callable[[Running, Workspace], Awaitable[Any]]


async def _snapshot(lk: Running) -> str:
    tables = ("environments", "activations", "webhook_endpoints", "members", "embed_settings", "audit_events")
    rows = {t: [dict(r._mapping) for r in await lk.db.fetch_all(sa.text(f"SELECT * FROM {t}"))] for t in tables}
    return repr(rows)


CLI = Actor.cli()
CHANGES: dict[str, tuple[str, Change]] = {
    "update_environment": (
        "server.db.workspaces",
        lambda lk, ws: workspace_store.update_environment(lk.db, ws.id, "sandbox", public_mode=False, actor=CLI),
    ),
    "rotate_key": (
        "server.db.workspaces",
        lambda lk, ws: workspace_store.rotate_key(lk.db, ws.id, "sandbox", actor=CLI),
    ),
    "activate": (
        "server.db.activations",
        lambda lk, ws: activation_store.activate(
            lk.db,
            lk.services.sealer,
            ws.id,
            "sandbox",
            "hubspot",
            client_id=None,
            client_secret=None,
            scopes=[],
            actor=CLI,
        ),
    ),
    "deactivate": (
        "server.db.activations",
        lambda lk, ws: activation_store.deactivate(lk.db, ws.id, "sandbox", "stripe", actor=CLI),
    ),
    "create_endpoint": (
        "server.db.webhooks",
        lambda lk, ws: webhook_store.create_endpoint(
            lk.db, lk.services.sealer, ws.id, "sandbox", url=HOOK, events=("auth.failed",), actor=CLI
        ),
    ),
    "create_member": (
        "server.db.members",
        lambda lk, ws: member_store.create_member(lk.db, ws.id, "new@example.com", "scrypt$x", actor=CLI),
    ),
    "save_embed_settings": (
        "server.db.embed_settings",
        lambda lk, ws: embed_store.save_embed_settings(lk.db, EmbedSettings(ws.id, "sandbox", theme="dark"), actor=CLI),
    ),
}


@pytest.mark.parametrize("name", list(CHANGES))
async def test_a_change_whose_event_cannot_be_written_is_rolled_back(
    lk: Running, workspace: Workspace, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    module, change = CHANGES[name]
    before = await _snapshot(lk)
    monkeypatch.setattr(f"{module}.record_audit", _failing_record)
    with pytest.raises(RuntimeError, match="the audit insert failed"):
        await change(lk, workspace)
    assert await _snapshot(lk) == before
    monkeypatch.undo()
    await change(lk, workspace)  # and without the fault it commits, with one event
    assert await lk.db.fetch_val(sa.select(sa.func.count()).select_from(audit_events)) == 1


async def test_deleting_an_endpoint_whose_event_cannot_be_written_keeps_it(
    lk: Running, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = await webhook_store.create_endpoint(
        lk.db, lk.services.sealer, workspace.id, "sandbox", url=HOOK, events=("auth.failed",)
    )
    monkeypatch.setattr("server.db.webhooks.record_audit", _failing_record)
    with pytest.raises(RuntimeError):
        await webhook_store.delete_endpoint(lk.db, workspace.id, "sandbox", created.endpoint.id, actor=CLI)
    assert [e.id for e in await webhook_store.list_endpoints(lk.db, workspace.id, "sandbox")] == [created.endpoint.id]


# --- every change in server/ names who made it -----------------------------------------------------

# The store functions that change an environment's configuration (or the workspace's members).
AUDITED = {
    "create_workspace",
    "update_environment",
    "rotate_key",
    "expire_previous_key",
    "activate",
    "deactivate",
    "create_endpoint",
    "delete_endpoint",
    "create_member",
    "save_embed_settings",
    "delete_connection",
}
# The connection row's own delete (lifecycle/deletion.py calls it inside the audited one).
NOT_AUDITED = {("store", "delete_connection"), ("connection_store", "delete_connection")}


def _calls_without_actor(sources: dict[str, str]) -> list[str]:
    missing = []
    for place, source in sources.items():
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            owner = getattr(func.value, "id", "") if isinstance(func, ast.Attribute) else ""
            audited = name in AUDITED and (owner, name) not in NOT_AUDITED
            if audited and not any(k.arg == "actor" for k in node.keywords):
                missing.append(f"{place}:{node.lineno} {name}")
    return missing


def test_every_configuration_change_in_the_server_names_its_actor() -> None:
    server = PROJECT_ROOT / "server"
    sources = {str(p.relative_to(PROJECT_ROOT)): p.read_text(encoding="utf-8") for p in sorted(server.rglob("*.py"))}
    assert "server/cli.py" in sources and _calls_without_actor(sources) == []


def test_the_actor_scan_sees_a_call_without_one() -> None:
    sources = {
        "a.py": "async def f():\n    await workspace_store.rotate_key(db, ws, env)\n",
        "b.py": "async def f():\n    await update_environment(db, ws, env, public_mode=True)\n",
        "c.py": "async def f():\n    await store.delete_connection(db, ws, env, cid)\n",  # the row's own delete
        "d.py": "async def f():\n    await deletion.delete_connection(s, ws, env, cid, actor=a)\n",
    }
    assert _calls_without_actor(sources) == ["a.py:2 rotate_key", "b.py:2 update_environment"]


# --- the command line ----------------------------------------------------------------------------------

KEY = re.compile(r"(sandbox|production)\s+secret key: (lk_(?:sbx|live)_[A-Za-z0-9_-]{43})")


async def test_each_command_line_change_is_recorded_once_as_the_command_line(
    lk: Running, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LATCHKEY_DATABASE_URL", lk.services.settings.database_url)
    monkeypatch.setenv("LATCHKEY_SECRET_KEY", SECRET)
    monkeypatch.delenv("LATCHKEY_WEBHOOK_ALLOW_LOOPBACK", raising=False)

    async def cli(*argv: str) -> str:
        code = await asyncio.to_thread(main, list(argv))
        out, err = capsys.readouterr()
        assert code == 0, err
        return out

    out = await cli("workspace", "create", "--name", "Acme", "--origin", "https://app.acme.example")
    workspace_id = out.split()[1]
    keys = dict(KEY.findall(out))
    member = await cli("member", "add", "--workspace", workspace_id, "--email", "Ops@Acme.example")
    password = re.search(r"password: (\S+)", member)
    assert password is not None
    rotated = await cli("key", "rotate", "--workspace", workspace_id, "--env", "sandbox")
    new_key = re.search(r"(lk_sbx_[A-Za-z0-9_-]{43})", rotated)
    assert new_key is not None
    added = await cli("webhook", "add", "--workspace", workspace_id, "--env", "sandbox", "--url", f"{HOOK}?k=1")
    endpoint_id = added.split()[1]
    signing_secret = re.search(r"(whsec_\S+)", added)
    assert signing_secret is not None
    await cli("webhook", "remove", "--workspace", workspace_id, "--env", "sandbox", endpoint_id)

    ws = Workspace(workspace_id, new_key.group(1), keys["production"])
    log = await events(lk, ws)
    assert [e["action"] for e in log] == [
        "webhook.deleted",
        "webhook.created",
        "api_key.rotated",
        "member.added",
        "workspace.created",
    ]
    assert all(e["actor"] == {"kind": "cli", "name": "command line"} for e in log)
    changes = {e["action"]: e["changes"] for e in log}
    assert changes["workspace.created"] == {
        "name": "Acme",
        "allowed_origins": ["https://app.acme.example"],
        "allowed_redirect_urls": [],
    }
    assert changes["member.added"] == {"email": "ops@acme.example"}
    assert changes["api_key.rotated"] == {
        "api_key_prefix": {"before": keys["sandbox"][:12], "after": new_key.group(1)[:12]},
        "grace_seconds": 0,
    }
    assert changes["webhook.created"]["url"] == f"{HOOK}?…"
    # Production sees the workspace's own events, not sandbox's.
    assert [e["action"] for e in await events(lk, ws, "production")] == ["member.added", "workspace.created"]
    stored = await table_text(lk)
    for secret in (keys["sandbox"], keys["production"], new_key.group(1), signing_secret.group(1), password.group(1)):
        assert secret not in stored


async def test_a_refused_command_records_nothing(
    lk: Running, workspace: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LATCHKEY_DATABASE_URL", lk.services.settings.database_url)
    monkeypatch.setenv("LATCHKEY_SECRET_KEY", SECRET)
    for argv in (
        ["key", "rotate", "--workspace", "ws_nothing", "--env", "sandbox"],
        ["webhook", "add", "--workspace", workspace.id, "--env", "sandbox", "--url", "http://10.0.0.1/x"],
        ["webhook", "remove", "--workspace", workspace.id, "--env", "sandbox", "whep_nothing"],
        ["member", "add", "--workspace", "ws_nothing", "--email", "a@example.com"],
        ["member", "add", "--workspace", workspace.id, "--email", "not-an-email"],
    ):
        assert await asyncio.to_thread(main, argv) == 2, argv
    capsys.readouterr()
    assert await lk.db.fetch_val(sa.select(sa.func.count()).select_from(audit_events)) == 0


# --- the helpers that keep secrets out ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url,shown",
    [
        ("https://hooks.example.com/a/b", "https://hooks.example.com/a/b"),
        ("https://hooks.example.com:8443/a?token=x&b=2", "https://hooks.example.com:8443/a?…"),
        ("https://user:pass@hooks.example.com/a#frag", "https://hooks.example.com/a"),
        ("http://[::1]:9000/hook?k=v", "http://[::1]:9000/hook?…"),
    ],
)
def test_a_url_is_shown_without_its_query_string_or_user_info(url: str, shown: str) -> None:
    assert audit_store.url_without_query(url) == shown


async def test_an_api_key_or_signing_secret_typed_anywhere_is_blanked_out(lk: Running, workspace: Workspace) -> None:
    signing = "whsec_" + "Zm9v" * 11
    await audit_store.record_audit(
        lk.db,
        workspace_id=workspace.id,
        environment="sandbox",
        action="webhook.created",
        actor=CLI,
        changes={"description": f"key {workspace.sandbox_key} and {signing}", "events": ["auth.failed"]},
    )
    [event] = await audit_store.list_audit_events(lk.db, workspace.id, "sandbox")
    assert event.changes == {"description": "key [redacted] and [redacted]", "events": ["auth.failed"]}
    assert workspace.sandbox_key not in await table_text(lk)


async def test_an_unknown_action_or_a_missing_environment_is_a_bug_not_an_event(
    lk: Running, workspace: Workspace
) -> None:
    for action, environment in (("nope.done", "sandbox"), ("api_key.rotated", None)):
        with pytest.raises(ValueError):
            await audit_store.record_audit(
                lk.db, workspace_id=workspace.id, environment=environment, action=action, actor=CLI, changes={}
            )
    assert await lk.db.fetch_val(sa.select(sa.func.count()).select_from(audit_events)) == 0


# --- the migration ------------------------------------------------------------------------------------------


async def test_version_6_adds_the_activity_log_to_a_version_5_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = open_database(harness.test_database_url(tmp_path))
    await db.connect()
    try:
        monkeypatch.setattr(migrations, "MIGRATIONS", [m for m in migrations.MIGRATIONS if m[0] < 6])
        await migrations.migrate(db)
        old = await workspace_store.create_workspace(db, "Old")  # no actor: a version-5 schema has no log
        monkeypatch.undo()
        assert await migrations.migrate(db) == [v for v, _ in migrations.MIGRATIONS if v >= 6]
        assert await migrations.pending(db) == []
        await workspace_store.rotate_key(db, old.id, "sandbox", actor=CLI)
        [event] = await audit_store.list_audit_events(db, old.id, "sandbox")
        assert event.action == "api_key.rotated" and event.actor == CLI
    finally:
        await close_database(db)
