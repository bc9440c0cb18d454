"""Members from the command line (`latchkey member add`, `workspace create --member-email`, the demo
seed) and schema version 3."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from server.cli import main
from server.dashboard import passwords
from server.db import members as member_store
from server.db import migrations
from server.db import workspaces as workspace_store
from server.db.clock import utcnow
from server.db.database import close_database, open_database
from server.db.tables import dashboard_sessions, embed_settings, members, schema_migrations
from server.errors import InvalidRequest
from tests import harness

SECRET = "cli-test-secret-key-0123456789abcdef-0123"


@pytest.fixture
def _database() -> Iterator[None]:
    """These tests make their own SQLite file under LATCHKEY_VAR_DIR."""
    yield


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("LATCHKEY_DATABASE_URL", "LATCHKEY_CATALOG_DIR", "LATCHKEY_OLD_SECRET_KEYS", "LATCHKEY_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LATCHKEY_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LATCHKEY_SECRET_KEY", SECRET)
    return tmp_path / "var"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def password_hash_of(var_dir: Path, email: str) -> str | None:
    async def work() -> str | None:
        db = open_database(f"sqlite:///{var_dir / 'latchkey.db'}")
        await db.connect()
        try:
            record = await member_store.find_by_email(db, email)
            return record.password_hash if record else None
        finally:
            await close_database(db)

    return asyncio.run(work())


def stored_password_hash(var_dir: Path, email: str) -> str:
    stored = password_hash_of(var_dir, email)
    assert stored is not None, f"no member {email}"
    return stored


def test_member_add_prints_a_generated_password_once(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "workspace", "create", "--name", "Acme")
    match = re.search(r"workspace (ws_\w+)", out)
    assert match is not None
    workspace_id = match.group(1)
    code, out, err = run(capsys, "member", "add", "--workspace", workspace_id, "--email", "Ada@Example.com")
    assert code == 0, err
    match = re.search(r"password: (\S+)   \(shown once\)", out)
    assert match is not None
    password = match.group(1)
    assert "ada@example.com" in out and "http://127.0.0.1:8000/dashboard" in out
    stored = password_hash_of(cli_env, "ada@example.com")
    assert stored and password not in stored and passwords.verify_password(password, stored)

    again, _, err = run(capsys, "member", "add", "--workspace", workspace_id, "--email", "ada@example.com")
    assert again == 2 and "already a member" in err
    missing, _, err = run(capsys, "member", "add", "--workspace", "ws_nope", "--email", "bob@example.com")
    assert missing == 2 and "No workspace" in err


def test_member_add_reads_a_password_from_stdin(
    cli_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    run(capsys, "workspace", "create", "--name", "Acme")
    code, out, _ = run(capsys, "workspace", "list")
    workspace_id = out.split()[0]
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    weak, _, err = run(
        capsys, "member", "add", "--workspace", workspace_id, "--email", "a@example.com", "--password-stdin"
    )
    assert weak == 2 and "at least 12" in err and password_hash_of(cli_env, "a@example.com") is None
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough passphrase\n"))
    code, out, _ = run(
        capsys, "member", "add", "--workspace", workspace_id, "--email", "a@example.com", "--password-stdin"
    )
    assert code == 0 and "password:" not in out
    assert passwords.verify_password("a long enough passphrase", stored_password_hash(cli_env, "a@example.com"))


def test_workspace_create_can_add_the_first_member(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "workspace", "create", "--name", "Acme", "--member-email", "first@example.com")
    assert code == 0, err
    match = re.search(r"password: (\S+)   \(shown once\)", out)
    assert match is not None
    password = match.group(1)
    assert passwords.verify_password(password, stored_password_hash(cli_env, "first@example.com"))
    bad, _, err = run(capsys, "workspace", "create", "--name", "Other", "--member-email", "not-an-email")
    assert bad == 2 and "email" in err
    _, listing, _ = run(capsys, "workspace", "list")
    assert "Other" not in listing  # nothing was created


def test_the_demo_seed_prints_working_credentials_and_keeps_them(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, first, err = run(capsys, "seed-demo")
    assert code == 0, err
    match = re.search(r"email:\s+(\S+)", first)
    assert match is not None
    email = match.group(1)
    match = re.search(r"password:\s+(\S+)", first)
    assert match is not None
    password = match.group(1)
    assert email == "demo@latchkey.localhost" and "/dashboard" in first
    assert passwords.verify_password(password, stored_password_hash(cli_env, email))
    keys = json.loads((cli_env / "demo-keys.json").read_text())
    assert keys["dashboard_password"] == password and keys["sandbox"].startswith("lk_sbx_")

    code, second, _ = run(capsys, "seed-demo")
    match = re.search(r"password:\s+(\S+)", second)
    assert match is not None
    assert match.group(1) == password  # idempotent
    # A lost password file gets a fresh password that works.
    (cli_env / "demo-keys.json").unlink()
    _, third, _ = run(capsys, "seed-demo")
    match = re.search(r"password:\s+(\S+)", third)
    assert match is not None
    new_password = match.group(1)
    assert new_password != password and passwords.verify_password(new_password, stored_password_hash(cli_env, email))


async def test_version_3_adds_the_dashboard_tables_to_a_version_2_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = open_database(harness.test_database_url(tmp_path))
    await db.connect()
    try:
        monkeypatch.setattr(migrations, "MIGRATIONS", [m for m in migrations.MIGRATIONS if m[0] <= 2])
        assert await migrations.migrate(db) == [1, 2]
        monkeypatch.undo()
        later = [v for v, _ in migrations.MIGRATIONS if v >= 3]  # 3 and whatever came after it
        assert await migrations.migrate(db) == later
        assert await migrations.migrate(db) == []
        for table in (members, dashboard_sessions, embed_settings):
            assert await db.fetch_val(sa.select(sa.func.count()).select_from(table)) == 0
        versions = [
            r["version"]
            for r in await db.fetch_all(sa.select(schema_migrations.c.version).order_by(schema_migrations.c.version))
        ]
        assert versions == [1, 2, *later]
    finally:
        await close_database(db)


async def test_migrate_tolerates_a_gap_in_the_versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Version 3 needs nothing from version 2: a build without 2 applies 1 and 3, and 2 later."""
    db = open_database(harness.test_database_url(tmp_path))
    await db.connect()
    try:
        monkeypatch.setattr(migrations, "MIGRATIONS", [m for m in migrations.MIGRATIONS if m[0] != 2])
        assert await migrations.migrate(db) == [1, *(v for v, _ in migrations.MIGRATIONS if v >= 3)]
        monkeypatch.undo()
        assert await migrations.migrate(db) == [2]
        assert await db.fetch_val(sa.select(sa.func.count()).select_from(members)) == 0
    finally:
        await close_database(db)


async def test_version_5_adds_the_sign_in_lockout_table_and_keeps_the_members(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = open_database(harness.test_database_url(tmp_path))
    await db.connect()
    try:
        monkeypatch.setattr(migrations, "MIGRATIONS", [m for m in migrations.MIGRATIONS if m[0] < 5])
        await migrations.migrate(db)
        ws = await workspace_store.create_workspace(db, "Old")
        member = await member_store.create_member(db, ws.id, "ada@example.com", "scrypt$hash")
        monkeypatch.undo()
        assert await migrations.migrate(db) == [v for v, _ in migrations.MIGRATIONS if v >= 5]  # 5 and later
        assert await member_store.get_member(db, member.id) == member
        now = utcnow()
        for _ in range(2):
            await member_store.record_failed_sign_in(
                db, member.id, "203.0.113.5", now=now, max_failures=2, lock_until=now + timedelta(minutes=1)
            )
        assert await member_store.locked_until(db, member.id, "203.0.113.5", now=now) == now + timedelta(minutes=1)
        assert await member_store.locked_until(db, member.id, "198.51.100.1", now=now) is None
    finally:
        await close_database(db)


def test_email_addresses_are_checked_and_folded() -> None:
    assert member_store.normalise_email("  Ada@Example.COM ") == "ada@example.com"
    for bad in ("", "ada", "ada@localhost", "a b@example.com", "@example.com"):
        with pytest.raises(InvalidRequest):
            member_store.normalise_email(bad)
