"""What the REST API's tests share: the OpenAPI document as the running app serves it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import Running


@pytest.fixture
async def spec(lk: Running) -> dict[str, Any]:
    answer = await lk.client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    served: dict[str, Any] = answer.json()
    return served
