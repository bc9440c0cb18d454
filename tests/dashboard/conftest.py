from __future__ import annotations

import pytest

from server.dashboard import passwords
from tests.dashboard.support import Member, add_member
from tests.harness import Running, Workspace


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scrypt at full cost takes ~0.3 s a hash; these tests check behaviour, not the cost (one test pins it)."""
    monkeypatch.setattr(passwords, "DEFAULT_COST", passwords.ScryptCost(log2_n=10, r=8, p=1))


@pytest.fixture
async def member(lk: Running, workspace: Workspace) -> Member:
    return await add_member(lk, workspace.id)
