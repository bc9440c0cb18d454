from __future__ import annotations

import os

import pytest

from tests.harness import make_settings, new_workspace, running_app
from tests.support.fixtures_oauth import oauth_server  # noqa: F401


def pytest_report_header(config):
    url = os.environ.get("LATCHKEY_TEST_DATABASE_URL")
    return f"latchkey storage: {'Postgres ' + url if url else 'SQLite (temp file per test)'}"


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path)


@pytest.fixture
async def lk(settings):
    async with running_app(settings) as running:
        yield running


@pytest.fixture
async def workspace(lk):
    return await new_workspace(lk.services, activate=("sandbox", "stripe", "shopify"))
