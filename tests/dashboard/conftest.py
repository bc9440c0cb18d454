from __future__ import annotations

import pytest

from server.dashboard import passwords
from tests.dashboard.support import add_member


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    """Scrypt at full cost takes ~0.3 s a hash; these tests check behaviour, not the cost (one test pins it)."""
    monkeypatch.setattr(passwords, "DEFAULT_COST", passwords.ScryptCost(log2_n=10, r=8, p=1))


@pytest.fixture
async def member(lk, workspace):
    return await add_member(lk, workspace.id)
