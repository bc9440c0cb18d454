"""Secrets at rest: after real flows, no token, refresh token, client secret or API key is stored
in clear text — not in any column, and (on SQLite) not anywhere in the database files."""

from __future__ import annotations

from html import unescape
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from server.crypto import hash_api_key
from server.db.tables import metadata
from server.settings import Settings
from tests.harness import FAILURE_URL, SUCCESS_URL, Running, Workspace, query_of

CLIENT_ID = "hubspot-client-id-in-clear-is-fine"
CLIENT_SECRET = "hubspot-client-secret-0123456789-never-in-clear"
API_KEY_FIELD = "sk_test_" + "StoredSealed0123456789ab"


async def sandbox_flow(lk: Running, workspace: Workspace) -> dict[str, Any]:
    """picker → start → consent → approve → callback; returns the stored credentials."""
    page = await lk.client.get(
        "/picker",
        params={
            "workspace": workspace.id,
            "env": "sandbox",
            "external_xref": "user-at-rest",
            "mode": "redirect",
            "success_url": SUCCESS_URL,
            "failure_url": FAILURE_URL,
            "integrations": "sandbox",
            "scopes": "crm_contact_read",
        },
    )
    marker = 'href="/auth/sandbox/start?ctx='
    assert marker in page.text, page.text
    link = "/auth/sandbox/start?ctx=" + unescape(page.text.split(marker, 1)[1].split('"', 1)[0])
    start = await lk.client.get(link)
    assert start.status_code == 302, start.text
    consent = await lk.client.get(start.headers["location"])
    request_token = consent.text.split('name="request" value="', 1)[1].split('"', 1)[0]
    decided = await lk.client.post("/sandbox/oauth/decide", data={"request": request_token, "decision": "approve"})
    done = await lk.client.get(decided.headers["location"])
    assert done.status_code == 302 and done.headers["location"].startswith(SUCCESS_URL), done.text
    connection_id = query_of(done.headers["location"])["connection_id"]
    got = await lk.client.get(f"/api/v1/connections/{connection_id}?include=credentials", headers=workspace.auth())
    credentials: dict[str, Any] = got.json()["data"]["credentials"]
    return credentials


async def api_key_form(lk: Running, workspace: Workspace) -> None:
    made = await lk.client.post(
        "/api/v1/auth-urls",
        headers=workspace.auth(),
        json={
            "integration": "stripe",
            "external_xref": "user-at-rest",
            "success_url": SUCCESS_URL,
            "failure_url": FAILURE_URL,
        },
    )
    form = await lk.client.get(made.json()["data"]["url"])
    token = unescape(form.text.split('name="form_token" value="', 1)[1].split('"', 1)[0])
    posted = await lk.client.post(
        "/auth/stripe/credentials",
        headers={"Origin": lk.services.settings.origin},
        data={"form_token": token, "api_key": API_KEY_FIELD},
    )
    assert posted.status_code == 303, posted.text


@pytest.fixture
async def stored(lk: Running, workspace: Workspace) -> dict[str, Any]:
    """Run every path that stores a secret; return the secrets (that must be sealed) and clear values (that may not be)."""
    credentials = await sandbox_flow(lk, workspace)
    await api_key_form(lk, workspace)
    put = await lk.client.put(
        "/api/v1/integrations/hubspot",
        headers=workspace.auth("production"),
        json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )
    assert put.status_code == 200
    assert credentials["access_token"].startswith("sbx_at_") and credentials["refresh_token"].startswith("sbx_rt_")
    return {
        "secrets": {
            "access token": credentials["access_token"],
            "refresh token": credentials["refresh_token"],
            "client secret": CLIENT_SECRET,
            "API-key field": API_KEY_FIELD,
            "sandbox API key": workspace.sandbox_key,
            "production API key": workspace.production_key,
        },
        # Stored in clear on purpose: proves the scan reads the data it should.
        "clear": {
            "client id": CLIENT_ID,
            "external_xref": "user-at-rest",
            "API-key hash": hash_api_key(workspace.sandbox_key),
        },
    }


async def text_values(lk: Running) -> list[tuple[str, str, str]]:
    """Every value of every text column of every table: (table, column, value)."""
    found = []
    for table in metadata.sorted_tables:
        columns = [c for c in table.c if isinstance(c.type, (sa.String, sa.Text))]
        if not columns:
            continue
        for row in await lk.db.fetch_all(sa.select(*columns)):
            for column in columns:
                value = row[column.name]
                if value is not None:
                    found.append((table.name, column.name, str(value)))
    return found


async def test_no_secret_is_in_any_text_column(lk: Running, stored: dict[str, Any]) -> None:
    values = await text_values(lk)
    for what, secret in stored["secrets"].items():
        hits = [(t, c) for t, c, v in values if secret in v]
        assert hits == [], f"{what} stored in clear in {hits}"
    for what, clear in stored["clear"].items():
        assert any(clear in v for _, _, v in values), f"the scan did not see the {what}"


async def test_sealed_columns_hold_only_ciphertexts(lk: Running, stored: dict[str, Any]) -> None:
    for table, column, value in await text_values(lk):
        if column.endswith("_enc"):
            assert value.startswith("v1.") and value.count(".") == 2, (table, column)


async def test_api_keys_are_stored_only_hashed(lk: Running, workspace: Workspace, stored: dict[str, Any]) -> None:
    from server.db.tables import environments

    rows = await lk.db.fetch_all(
        sa.select(environments.c.name, environments.c.api_key_hash, environments.c.api_key_prefix)
    )
    by_env = {r["name"]: r for r in rows}
    for env, key in (("sandbox", workspace.sandbox_key), ("production", workspace.production_key)):
        assert by_env[env]["api_key_hash"] == hash_api_key(key)
        assert by_env[env]["api_key_prefix"] == key[:12] and len(key) > 40  # a prefix is not the key


async def test_no_secret_is_anywhere_in_the_sqlite_files(
    lk: Running, settings: Settings, stored: dict[str, Any]
) -> None:
    if not settings.is_sqlite:
        pytest.skip(
            "file check applies to SQLite only: Postgres keeps its data files on the server, outside the test's "
            "reach; the column scan (test_no_secret_is_in_any_text_column) covers Postgres"
        )
    path = Path(settings.database_url.split("///", 1)[1])
    files = [p for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")) if p.exists()]
    assert path in files
    content = b"".join(p.read_bytes() for p in files)
    for what, secret in stored["secrets"].items():
        assert secret.encode() not in content, f"{what} found in clear in {[p.name for p in files]}"
    for what, clear in stored["clear"].items():
        assert clear.encode() in content, f"the file scan did not see the {what}"
