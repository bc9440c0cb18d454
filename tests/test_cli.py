"""The `latchkey` command line, run in-process against a temporary SQLite database."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from server.cli import main
from server.crypto import hash_api_key
from server.db import workspaces as workspace_store
from server.db.clock import utcnow
from server.db.database import close_database, open_database
from server.db.workspaces import Environment, environment_for_key


@pytest.fixture
def _database() -> Iterator[None]:
    """No database in this module: skip the fresh Postgres database conftest makes for each test."""
    yield


SECRET = "cli-test-secret-key-0123456789abcdef-0123"
KEY = re.compile(r"(sandbox|production)\s+secret key: (lk_(?:sbx|live)_[A-Za-z0-9_-]{43})")

GOOD: dict[str, Any] = {
    "slug": "acme",
    "name": "Acme CRM",
    "categories": ["crm"],
    "docs": "https://acme.example/docs",
    "auth": {
        "kind": "oauth2",
        "authorize_url": "https://acme.example/oauth/authorize",
        "token_url": "https://acme.example/oauth/token",
        "pkce": True,
    },
    "scopes": {"crm_contact_read": ["contacts.read"]},
}


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("LATCHKEY_DATABASE_URL", "LATCHKEY_CATALOG_DIR", "LATCHKEY_OLD_SECRET_KEYS", "LATCHKEY_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LATCHKEY_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LATCHKEY_SECRET_KEY", SECRET)
    return tmp_path / "var" / "latchkey.db"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def resolve(db_path: Path, key: str) -> Environment | None:
    async def work() -> Environment | None:
        db = open_database(f"sqlite:///{db_path}")
        await db.connect()
        try:
            return await environment_for_key(db, key)
        finally:
            await close_database(db)

    return asyncio.run(work())


def create(capsys: pytest.CaptureFixture[str], name: str = "Acme") -> tuple[str, dict[str, str]]:
    code, out, _ = run(
        capsys,
        "workspace",
        "create",
        "--name",
        name,
        "--origin",
        "https://app.acme.example",
        "--redirect-url",
        "https://app.acme.example/connected",
    )
    assert code == 0, out
    match = re.search(r"workspace (ws_\w+) \(" + re.escape(name) + r"\)", out)
    assert match is not None
    workspace_id = match.group(1)
    return workspace_id, dict(KEY.findall(out))


def test_workspace_create_prints_both_keys_once(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workspace_id, keys = create(capsys)
    assert set(keys) == {"sandbox", "production"}
    assert keys["sandbox"].startswith("lk_sbx_") and keys["production"].startswith("lk_live_")
    sandbox = resolve(cli_env, keys["sandbox"])
    assert sandbox is not None
    assert sandbox.workspace_id == workspace_id and sandbox.name == "sandbox" and sandbox.public_mode is True
    production = resolve(cli_env, keys["production"])
    assert production is not None
    assert production.name == "production" and production.public_mode is False
    assert production.allowed_origins == ("https://app.acme.example",)
    assert production.allowed_redirect_urls == ("https://app.acme.example/connected",)
    content = cli_env.read_bytes() + (
        cli_env.with_name("latchkey.db-wal").read_bytes() if cli_env.with_name("latchkey.db-wal").exists() else b""
    )
    for key in keys.values():
        assert key.encode() not in content and hash_api_key(key).encode() in content


def test_workspace_list_shows_ids_and_names_but_no_keys(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, _ = create(capsys, "First")
    second, _ = create(capsys, "Second")
    code, out, _ = run(capsys, "workspace", "list")
    assert code == 0
    assert out.splitlines() == [f"{first}\tFirst", f"{second}\tSecond"]
    assert "lk_" not in out


def test_key_rotate_replaces_one_environments_key(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workspace_id, keys = create(capsys)
    code, out, _ = run(capsys, "key", "rotate", "--workspace", workspace_id, "--env", "production")
    assert code == 0
    match = re.search(r"(lk_live_[A-Za-z0-9_-]{43})", out)
    assert match is not None
    new_key = match.group(1)
    assert new_key != keys["production"] and "old key no longer works" in out
    assert resolve(cli_env, keys["production"]) is None
    rotated = resolve(cli_env, new_key)
    assert rotated is not None and rotated.workspace_id == workspace_id
    kept = resolve(cli_env, keys["sandbox"])
    assert kept is not None and kept.workspace_id == workspace_id  # the other environment keeps its key


def test_key_rotate_for_an_unknown_workspace_fails_cleanly(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    create(capsys)
    code, out, err = run(capsys, "key", "rotate", "--workspace", "ws_nope", "--env", "sandbox")
    assert code == 2 and "No such workspace" in err and "lk_" not in out


def test_key_rotate_with_a_grace_keeps_the_old_key_until_it_ends(
    cli_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace_id, keys = create(capsys)
    code, out, _ = run(capsys, "key", "rotate", "--workspace", workspace_id, "--env", "sandbox", "--grace", "24h")
    assert code == 0
    assert re.search(r"the old key keeps working for 1 day, until \d{4}-\d\d-\d\d \d\d:\d\d UTC", out)
    match = re.search(r"(lk_sbx_[A-Za-z0-9_-]{43})", out)
    assert match is not None
    old, new = resolve(cli_env, keys["sandbox"]), resolve(cli_env, match.group(1))
    assert old is not None and new is not None and old.workspace_id == new.workspace_id == workspace_id

    later = utcnow() + timedelta(hours=24, seconds=1)
    monkeypatch.setattr(workspace_store, "utcnow", lambda: later)
    assert resolve(cli_env, keys["sandbox"]) is None and resolve(cli_env, match.group(1)) is not None


def test_key_rotate_twice_says_the_older_key_stopped_and_expire_previous_ends_the_grace(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace_id, keys = create(capsys)
    rotate = ("key", "rotate", "--workspace", workspace_id, "--env", "production")
    code, first, _ = run(capsys, *rotate, "--grace", "7d")
    assert code == 0 and "stopped working now" not in first
    first_key = re.search(r"(lk_live_[A-Za-z0-9_-]{43})", first)
    assert first_key is not None
    code, second, _ = run(capsys, *rotate, "--grace", "30m")
    assert code == 0 and f"the key before it ({keys['production'][:12]}…), still in its grace period" in second
    assert resolve(cli_env, keys["production"]) is None and resolve(cli_env, first_key.group(1)) is not None

    expire = ("key", "expire-previous", "--workspace", workspace_id, "--env", "production")
    code, out, _ = run(capsys, *expire)
    assert code == 0 and f"({first_key.group(1)[:12]}…) no longer works" in out
    assert resolve(cli_env, first_key.group(1)) is None
    code, out, _ = run(capsys, *expire)
    assert code == 0 and "nothing to expire" in out


@pytest.mark.parametrize(
    "grace,message",
    [("31d", "at most 30 days"), ("1w", "like 30m, 24h or 7d"), ("24", "like 30m, 24h or 7d"), ("-5m", "like 30m")],
)
def test_key_rotate_refuses_a_bad_grace_and_changes_nothing(
    cli_env: Path, capsys: pytest.CaptureFixture[str], grace: str, message: str
) -> None:
    workspace_id, keys = create(capsys)
    code, out, err = run(capsys, "key", "rotate", "--workspace", workspace_id, "--env", "sandbox", f"--grace={grace}")
    assert code == 2 and message in err and "lk_" not in out
    assert resolve(cli_env, keys["sandbox"]) is not None


def test_key_expire_previous_for_an_unknown_workspace_fails_cleanly(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    create(capsys)
    code, _, err = run(capsys, "key", "expire-previous", "--workspace", "ws_nope", "--env", "sandbox")
    assert code == 2 and "No such workspace" in err


def test_catalog_validate_names_the_bad_file_the_field_and_why(
    cli_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "acme.json").write_text(json.dumps(GOOD))
    broken = {**GOOD, "slug": "broken", "scopes": {"crm_everything": ["all"]}}
    (folder / "broken.json").write_text(json.dumps(broken))
    code, out, err = run(capsys, "catalog", "validate", str(folder))
    assert code == 1
    [line] = err.strip().splitlines()
    assert str(folder / "broken.json") in line and "scopes.crm_everything" in line and "is not a unified scope" in line
    assert "acme.json" not in err and "every catalog file is valid" not in out


def test_catalog_validate_reports_schema_errors_with_the_field(
    cli_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "nodocs.yaml").write_text(
        "slug: nodocs\nname: No docs\ncategories: [crm]\nauth: {kind: api_key}\nscopes: {}\n"
    )
    (folder / "noname.json").write_text(json.dumps({**GOOD, "slug": "noname", "name": 7}))
    code, _, err = run(capsys, "catalog", "validate", str(folder))
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 2
    assert "nodocs.yaml: (top level):" in lines[0] and "'docs' is a required property" in lines[0]
    assert "noname.json: name:" in lines[1] and "not of type 'string'" in lines[1]


def test_catalog_validate_names_the_field_inside_auth(
    cli_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "acme.json").write_text(json.dumps({**GOOD, "auth": {**GOOD["auth"], "pkce": "yes"}}))
    code, _, err = run(capsys, "catalog", "validate", str(folder))
    assert code == 1 and "acme.json: auth.pkce:" in err and "boolean" in err


def test_catalog_validate_accepts_a_good_folder(
    cli_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "acme.json").write_text(json.dumps(GOOD))
    code, out, err = run(capsys, "catalog", "validate", str(folder))
    assert code == 0 and "every catalog file is valid" in out and err == ""


def test_catalog_validate_on_a_missing_folder_fails_cleanly(
    cli_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "catalog", "validate", str(tmp_path / "nope"))
    assert code == 2 and "nope" in err


def test_catalog_list_json_includes_hubspot(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "catalog", "list", "--json")
    assert code == 0
    rows = {row["slug"]: row for row in json.loads(out)}
    assert rows["hubspot"]["name"] == "HubSpot" and rows["hubspot"]["auth_kind"] == "oauth2"
    assert "crm_contact_read" in rows["hubspot"]["unified_scopes"] and rows["hubspot"]["custom"] is False
    assert len(rows) > 40


def test_catalog_list_includes_a_custom_folder(
    cli_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "acme.json").write_text(json.dumps(GOOD))
    monkeypatch.setenv("LATCHKEY_CATALOG_DIR", str(folder))
    code, out, _ = run(capsys, "catalog", "list", "--json")
    rows = {row["slug"]: row for row in json.loads(out)}
    assert code == 0 and rows["acme"]["custom"] is True and "hubspot" in rows


def test_a_short_secret_key_is_refused(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LATCHKEY_SECRET_KEY", "too-short")
    code, _, err = run(capsys, "workspace", "list")
    assert code == 2 and "at least 32 characters" in err and not cli_env.exists()


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--origin", "https://app.acme.example/path"),
        ("--origin", "https://a.example; script-src *"),
        ("--redirect-url", "https://app.acme.example/cb#x"),
    ],
)
def test_workspace_create_refuses_allowlist_entries_the_api_would_refuse(
    cli_env: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str
) -> None:
    code, out, _ = run(capsys, "workspace", "create", "--name", "Acme", flag, value)
    assert code == 2 and "lk_" not in out


@pytest.fixture
def root_level() -> Iterator[None]:
    """The root logger's level as it was before the test."""
    level = logging.getLogger().level
    yield
    logging.getLogger().setLevel(level)


@pytest.mark.usefixtures("root_level")
def test_latchkey_log_level_sets_the_level_the_access_log_is_written_at(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LATCHKEY_LOG_LEVEL", "WARNING")
    assert run(capsys, "workspace", "list")[0] == 0
    assert not logging.getLogger("latchkey.access").isEnabledFor(logging.INFO)
    monkeypatch.setenv("LATCHKEY_LOG_LEVEL", "INFO")
    assert run(capsys, "workspace", "list")[0] == 0
    assert logging.getLogger("latchkey.access").isEnabledFor(logging.INFO)
