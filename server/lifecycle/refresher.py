"""The background refresher: tokens refreshed ahead of expiry, at a bounded rate.

All its state is in the database — due connections are picked by `expires_at`, backoff by
`next_refresh_at` — so it carries on where it left off after a restart, and any number of
processes can run it side by side (the refresh lease keeps them from doubling up).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from datetime import timedelta

from server.db import connections as store
from server.db.clock import utcnow
from server.errors import ConnectionUnhealthy
from server.lifecycle.refresh import refresh
from server.services import Services

logger = logging.getLogger("latchkey.refresh")


class BackgroundRefresher:
    def __init__(self, services: Services) -> None:
        settings = services.settings
        self._services = services
        self._ahead = timedelta(seconds=settings.refresh_ahead)
        self._spacing = 60.0 / settings.refresh_rate  # at most refresh_rate refreshes a minute
        self._poll = settings.refresh_poll_interval
        self._batch = max(1, math.ceil(settings.refresh_rate * settings.refresh_poll_interval / 60))

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                due = await store.due_for_refresh(self._services.db, now=utcnow(), ahead=self._ahead, limit=self._batch)
            except Exception:
                logger.exception("could not look for connections to refresh")
                due = []
            for connection_id in due:
                if stop.is_set():
                    return
                try:
                    await refresh(self._services, connection_id, margin=self._ahead)
                except ConnectionUnhealthy as exc:
                    logger.warning("connection %s is unhealthy: %s", connection_id, exc.message)
                except Exception:
                    logger.exception("refreshing connection %s failed unexpectedly", connection_id)
                await _pause(stop, self._spacing)
            if not due:
                await _pause(stop, self._poll)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep, waking early when asked to stop."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
