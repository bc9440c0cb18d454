"""The API keys page: rotating with a grace period keeps the old key working and says until when;
"stop the previous key" ends the grace period at once."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from server.db import audit as audit_store
from server.db import workspaces as workspace_store
from server.db.clock import utcnow
from server.db.tables import environments
from tests.dashboard.support import Member, post, sign_in
from tests.dashboard.test_activity_page import rows
from tests.harness import Running, Workspace

NEW_KEY = re.compile(r'id="new-key">(lk_sbx_[A-Za-z0-9_-]{43})</code>')
PREVIOUS = re.compile(r'<dd data-previous-key><code>(lk_sbx_\S{5})…</code> valid until <time datetime="([^"]+)">')


async def status_with(lk: Running, key: str) -> int:
    return (await lk.client.get("/api/v1/environment", headers={"Authorization": f"Bearer {key}"})).status_code


async def test_the_rotate_form_offers_the_grace_choices(lk: Running, workspace: Workspace, member: Member) -> None:
    await sign_in(lk.client, member)
    page = await lk.client.get("/dashboard/sandbox/api-keys")
    options = re.findall(r'<option value="(\d+)">([^<]+)</option>', page.text)
    assert options == [
        ("0", "Immediately"),
        ("3600", "After 1 hour"),
        ("86400", "After 24 hours"),
        ("604800", "After 7 days"),
    ]
    assert "data-previous-key" not in page.text and "data-expire-previous" not in page.text


async def test_rotating_with_a_grace_keeps_the_old_key_and_shows_until_when(
    lk: Running, workspace: Workspace, member: Member
) -> None:
    csrf = await sign_in(lk.client, member)
    response = await post(lk.client, "/dashboard/sandbox/api-keys/rotate", csrf, {"grace": "86400"})
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    match = NEW_KEY.search(response.text)
    assert match is not None
    new_key = match.group(1)
    assert "The previous key keeps working until" in response.text
    assert await status_with(lk, workspace.sandbox_key) == 200 and await status_with(lk, new_key) == 200

    page = await lk.client.get("/dashboard/sandbox/api-keys")
    shown = PREVIOUS.search(page.text)
    assert shown is not None and shown.group(1) == workspace.sandbox_key[:12]
    env = await workspace_store.get_environment(lk.db, workspace.id, "sandbox")
    assert env.previous_key_expires_at is not None and shown.group(2) == env.previous_key_expires_at.isoformat()
    assert 'action="/dashboard/sandbox/api-keys/expire-previous"' in page.text and new_key not in page.text
    # Production shows no previous key: the grace belongs to the environment rotated.
    assert "data-previous-key" not in (await lk.client.get("/dashboard/production/api-keys")).text

    [event] = await audit_store.list_audit_events(lk.db, workspace.id, "sandbox")
    assert event.action == "api_key.rotated" and event.changes["grace_seconds"] == 86400
    [(_, action, text)] = rows((await lk.client.get("/dashboard/sandbox/activity")).text)
    assert action == "api_key.rotated" and "Old key kept working for: 1 day" in text


async def test_rotating_immediately_stops_the_old_key_as_before(
    lk: Running, workspace: Workspace, member: Member
) -> None:
    csrf = await sign_in(lk.client, member)
    await post(lk.client, "/dashboard/sandbox/api-keys/rotate", csrf, {"grace": "86400"})
    response = await post(lk.client, "/dashboard/sandbox/api-keys/rotate", csrf, {"grace": "0"})
    assert response.status_code == 200 and "The previous key has stopped working." in response.text
    assert "data-cut-off" in response.text  # the key in its grace period was cut off, and the page says so
    assert await status_with(lk, workspace.sandbox_key) == 401
    assert "data-previous-key" not in response.text


async def test_stopping_the_previous_key_from_the_page_refuses_it_at_once(
    lk: Running, workspace: Workspace, member: Member
) -> None:
    csrf = await sign_in(lk.client, member)
    rotated = await post(lk.client, "/dashboard/sandbox/api-keys/rotate", csrf, {"grace": "604800"})
    match = NEW_KEY.search(rotated.text)
    assert match is not None
    stopped = await post(lk.client, "/dashboard/sandbox/api-keys/expire-previous", csrf)
    assert stopped.status_code == 303 and stopped.headers["location"] == "/dashboard/sandbox/api-keys"
    page = await lk.client.get("/dashboard/sandbox/api-keys")
    assert f"The previous key {workspace.sandbox_key[:12]}… no longer works." in page.text
    assert "data-previous-key" not in page.text
    assert await status_with(lk, workspace.sandbox_key) == 401 and await status_with(lk, match.group(1)) == 200
    log = await audit_store.list_audit_events(lk.db, workspace.id, "sandbox")
    assert [e.action for e in log] == ["api_key.previous_expired", "api_key.rotated"]

    again = await post(lk.client, "/dashboard/sandbox/api-keys/expire-previous", csrf)
    assert again.status_code == 303
    assert "No previous key was still working" in (await lk.client.get("/dashboard/sandbox/api-keys")).text
    assert len(await audit_store.list_audit_events(lk.db, workspace.id, "sandbox")) == 2


@pytest.mark.parametrize("grace", ["60", "2592001", "forever"])
async def test_a_grace_that_is_not_one_of_the_choices_is_refused_and_rotates_nothing(
    lk: Running, workspace: Workspace, member: Member, grace: str
) -> None:
    csrf = await sign_in(lk.client, member)
    before = await lk.db.fetch_all(sa.select(environments))
    response = await post(lk.client, "/dashboard/sandbox/api-keys/rotate", csrf, {"grace": grace})
    assert response.status_code == 400 and 'id="grace-error"' in response.text
    assert NEW_KEY.search(response.text) is None
    assert await lk.db.fetch_all(sa.select(environments)) == before


async def test_the_previous_key_leaves_the_page_when_its_grace_ends(
    lk: Running, workspace: Workspace, member: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    csrf = await sign_in(lk.client, member)
    await post(lk.client, "/dashboard/sandbox/api-keys/rotate", csrf, {"grace": "3600"})
    later = utcnow() + timedelta(hours=1)
    monkeypatch.setattr(workspace_store, "utcnow", lambda: later)
    page = await lk.client.get("/dashboard/sandbox/api-keys")
    assert page.status_code == 200 and "data-previous-key" not in page.text
    assert await status_with(lk, workspace.sandbox_key) == 401
