"""The app's startup heap is frozen out of the cyclic collector while it serves (server/app.py):
a full collection would otherwise walk every object startup built, with each request waiting."""

from __future__ import annotations

import gc

from server.settings import Settings
from tests.harness import running_app


async def test_what_startup_built_is_frozen_while_the_app_runs_and_handed_back_when_it_stops(
    settings: Settings,
) -> None:
    gc.unfreeze()  # whatever an earlier test left
    async with running_app(settings) as running:
        assert gc.get_freeze_count() > 10_000  # the catalog, the templates, the compiled statements…
        assert (await running.client.get("/healthz")).status_code == 200
    assert gc.get_freeze_count() == 0  # a stopped app's objects can be collected again
