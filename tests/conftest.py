from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from server.settings import Settings
from tests.harness import (
    POSTGRES_URL,
    Running,
    Workspace,
    fresh_postgres_database,
    make_settings,
    new_workspace,
    running_app,
)
from tests.support.fixtures_oauth import oauth_server  # noqa: F401


def pytest_report_header(config: pytest.Config) -> str:
    return f"latchkey storage: {'Postgres at ' + POSTGRES_URL if POSTGRES_URL else 'SQLite (a temp file per test)'}"


@pytest.fixture(autouse=True)
def _database(tmp_path: Path) -> Iterator[None]:
    """On the Postgres run every test gets its own database; make_settings() picks it up."""
    if not POSTGRES_URL:
        yield
        return
    with fresh_postgres_database(POSTGRES_URL) as url:
        (tmp_path / ".database_url").write_text(url)
        yield


@pytest.fixture
def settings(tmp_path: Path, _database: None) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
async def lk(settings: Settings) -> AsyncIterator[Running]:
    async with running_app(settings) as running:
        yield running


@pytest.fixture
async def workspace(lk: Running) -> Workspace:
    return await new_workspace(lk.services, activate=("sandbox", "stripe", "shopify"))
