"""Deleting what has outlived its use: finished or abandoned flows, result-channel rows, sandbox codes,
expired connect sessions and authorization links."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from server.db import connect_sessions as session_store
from server.db import flows as flow_store
from server.db import results as result_store
from server.db import sandbox_codes
from server.services import Services

logger = logging.getLogger("latchkey.lifecycle")
INTERVAL = 3600.0


async def purge_once(services: Services) -> None:
    await flow_store.purge_expired(services.db)
    await result_store.purge_results(services.db)
    await sandbox_codes.purge_codes(services.db)
    await session_store.purge_expired(services.db)


async def run(services: Services, stop: asyncio.Event, interval: float = INTERVAL) -> None:
    while not stop.is_set():
        try:
            await purge_once(services)
        except Exception:  # a failed purge is retried next hour; it must not end the loop
            logger.exception("housekeeping failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
