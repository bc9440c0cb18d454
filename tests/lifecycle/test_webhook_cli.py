"""`latchkey webhook add|list|remove` against the test database."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.cli import main
from tests import harness


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LATCHKEY_DATABASE_URL", harness.test_database_url(tmp_path))
    monkeypatch.setenv("LATCHKEY_SECRET_KEY", harness.SECRET)
    monkeypatch.setenv("LATCHKEY_WEBHOOK_ALLOW_LOOPBACK", "off")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_webhook_add_list_remove(cli_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "workspace", "create", "--name", "Acme")
    workspace = out.split()[1]
    code, out, _ = run(
        capsys,
        "webhook",
        "add",
        "--workspace",
        workspace,
        "--env",
        "production",
        "--url",
        "https://hooks.example.com/latchkey",
        "--event",
        "connection.unhealthy",
        "--event",
        "auth.failed",
    )
    assert code == 0
    endpoint_id = out.split()[1]
    assert endpoint_id.startswith("whep_") and "whsec_" in out and "connection.unhealthy, auth.failed" in out

    code, out, _ = run(capsys, "webhook", "list", "--workspace", workspace, "--env", "production")
    assert out.strip() == f"{endpoint_id}\thttps://hooks.example.com/latchkey\tconnection.unhealthy,auth.failed"
    assert "whsec_" not in out
    assert run(capsys, "webhook", "list", "--workspace", workspace, "--env", "sandbox")[1] == ""

    code, out, _ = run(capsys, "webhook", "remove", "--workspace", workspace, "--env", "production", endpoint_id)
    assert code == 0 and endpoint_id in out
    assert run(capsys, "webhook", "list", "--workspace", workspace, "--env", "production")[1] == ""


def test_webhook_add_refuses_unsafe_urls_and_unknown_workspaces(
    cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run(capsys, "workspace", "create", "--name", "Acme")
    workspace = out.split()[1]
    code, _, err = run(
        capsys, "webhook", "add", "--workspace", workspace, "--env", "sandbox", "--url", "http://127.0.0.1:8001/x"
    )
    assert code == 2 and "loopback" in err
    code, _, err = run(
        capsys, "webhook", "add", "--workspace", "ws_nope", "--env", "sandbox", "--url", "https://hooks.example.com/x"
    )
    assert code == 2 and "No such workspace" in err
    code, _, err = run(capsys, "webhook", "remove", "--workspace", workspace, "--env", "sandbox", "whep_nope")
    assert code == 2
