"""Settings read from the environment: what refuses to start, and what is allowed for local use."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from server.settings import Settings
from tests.harness import SECRET


@pytest.fixture
def _database() -> Iterator[None]:
    """No database in this module: skip the fresh Postgres database conftest makes for each test."""
    yield


def env(tmp_path: Path, **values: str) -> dict[str, str]:
    return {"LATCHKEY_SECRET_KEY": SECRET, "LATCHKEY_VAR_DIR": str(tmp_path), **values}


@pytest.mark.parametrize(
    "base_url",
    [
        "https://auth.example.com",
        "http://127.0.0.1:8000",
        "http://127.8.9.10",
        "http://localhost:8000",
        "http://LOCALHOST",
        "http://[::1]:8000",
    ],
)
def test_an_https_or_loopback_base_url_starts(tmp_path: Path, base_url: str) -> None:
    assert Settings.from_env(env(tmp_path, LATCHKEY_BASE_URL=base_url)).base_url == base_url


@pytest.mark.parametrize(
    "base_url",
    ["http://auth.example.com", "http://10.0.0.5:8000", "http://localhost.example.com", "http://128.0.0.1"],
)
def test_a_plain_http_base_url_off_loopback_refuses_to_start(tmp_path: Path, base_url: str) -> None:
    with pytest.raises(ValueError, match="LATCHKEY_ALLOW_INSECURE_BASE_URL"):
        Settings.from_env(env(tmp_path, LATCHKEY_BASE_URL=base_url))


def test_a_plain_http_base_url_off_loopback_starts_when_allowed_explicitly(tmp_path: Path) -> None:
    settings = Settings.from_env(
        env(tmp_path, LATCHKEY_BASE_URL="http://auth.example.com", LATCHKEY_ALLOW_INSECURE_BASE_URL="on")
    )
    assert settings.allow_insecure_base_url and not settings.secure_cookies


@pytest.mark.parametrize("base_url", ["ftp://auth.example.com", "auth.example.com", "https://", "javascript:alert(1)"])
def test_a_base_url_that_is_not_http_or_https_with_a_host_refuses_to_start(tmp_path: Path, base_url: str) -> None:
    with pytest.raises(ValueError, match="LATCHKEY_BASE_URL"):
        Settings.from_env(env(tmp_path, LATCHKEY_BASE_URL=base_url, LATCHKEY_ALLOW_INSECURE_BASE_URL="on"))
