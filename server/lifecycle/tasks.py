"""Starting and stopping the background tasks with the app's lifespan."""

from __future__ import annotations

import asyncio
import logging

from server.lifecycle import housekeeping
from server.lifecycle.dispatcher import WebhookDispatcher
from server.lifecycle.refresher import BackgroundRefresher
from server.lifecycle.webhook_http import WebhookHTTP
from server.services import Services

logger = logging.getLogger("latchkey.lifecycle")


class BackgroundTasks:
    """The token refresher, the webhook dispatcher and hourly housekeeping. Stopping lets a refresh or a delivery in
    progress finish (each is bounded by its deadline) before anything is cancelled."""

    def __init__(self, services: Services) -> None:
        settings = services.settings
        self.webhook_http = WebhookHTTP(
            deadline=settings.webhook_timeout, allow_loopback=settings.webhook_allow_loopback
        )
        self._services = services
        self.refresher = BackgroundRefresher(services)
        self.dispatcher = WebhookDispatcher(services.db, services.sealer, settings, self.webhook_http)
        self._grace = max(settings.http_timeout, settings.webhook_timeout) + 5
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self.refresher.run(self._stop), name="latchkey-refresher"),
            asyncio.create_task(self.dispatcher.run(self._stop), name="latchkey-webhooks"),
            asyncio.create_task(housekeeping.run(self._services, self._stop), name="latchkey-housekeeping"),
        ]

    async def stop(self) -> None:
        self._stop.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=self._grace)
            for task in pending:
                logger.warning("%s did not stop in %g s: cancelled", task.get_name(), self._grace)
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.webhook_http.aclose()
