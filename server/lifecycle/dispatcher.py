"""The webhook dispatcher: delivers the outbox, signed per the Standard Webhooks spec.

Each due row is claimed with a lease (one UPDATE … WHERE the lease is free), so processes sharing
the database never send the same row at the same time; a worker that dies mid-attempt leaves a
lease that expires, and the row is tried again. A 2xx marks the row delivered, for good. Anything
else schedules the next attempt from the retry schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
by default, with jitter) until it is spent, then marks the row failed. The `webhook-id` is the
row's ID on every attempt, so a receiver that saw it already can ignore a repeat.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import timedelta

from standardwebhooks import Webhook

from server import metrics
from server.crypto import Sealer
from server.db import webhooks as store
from server.db.clock import utcnow
from server.db.database import Database
from server.errors import LatchkeyError
from server.lifecycle.backoff import delivery_retry_delay
from server.lifecycle.urls import check_webhook_url
from server.lifecycle.webhook_http import DeliveryFailed, WebhookHTTP
from server.settings import Settings

logger = logging.getLogger("latchkey.webhooks")

CONCURRENCY = 8


def signed_headers(secret: str, message_id: str, body: str) -> dict[str, str]:
    timestamp = utcnow()
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, timestamp, body),
    }


class WebhookDispatcher:
    def __init__(self, db: Database, sealer: Sealer, settings: Settings, http: WebhookHTTP) -> None:
        self._db = db
        self._sealer = sealer
        self._http = http
        self._schedule = settings.webhook_retry_schedule
        self._poll = settings.webhook_poll_interval
        self._allow_loopback = settings.webhook_allow_loopback
        self._lease = timedelta(seconds=settings.webhook_timeout + 20)
        self._slots = asyncio.Semaphore(CONCURRENCY)

    async def run(self, stop: asyncio.Event) -> None:
        wake = store.wake_event(self._db)
        while not stop.is_set():
            wake.clear()
            try:
                due = await store.due_deliveries(self._db, now=utcnow(), limit=CONCURRENCY * 4)
                if due:
                    await asyncio.gather(*(self._attempt(delivery_id) for delivery_id in due))
                    continue
                wait = self._poll
                soonest = await store.next_attempt_at(self._db, now=utcnow())
                if soonest is not None:
                    wait = min(wait, max(0.01, (soonest - utcnow()).total_seconds()))
            except Exception:
                logger.exception("the webhook dispatcher hit an error; it carries on")
                wait = self._poll
            await _first_of(stop, wake, wait)

    async def _attempt(self, delivery_id: str) -> None:
        async with self._slots:
            token = secrets.token_hex(16)
            now = utcnow()
            claimed = await store.claim(self._db, delivery_id, token=token, now=now, lease_until=now + self._lease)
            if claimed is None:
                return  # another worker has it, or it was delivered meanwhile
            status: int | None = None
            error: str | None = None
            try:
                check_webhook_url(claimed.url, allow_loopback=self._allow_loopback)
                headers = signed_headers(claimed.secret(self._sealer), claimed.id, claimed.payload)
                status = (await self._http.post(claimed.url, claimed.payload.encode(), headers)).status
            except DeliveryFailed as exc:
                error = str(exc)
            except LatchkeyError as exc:  # a URL no longer allowed, a secret that no longer decrypts
                error = exc.message
            if status is not None and 200 <= status < 300:
                await store.mark_delivered(self._db, claimed.id, status_code=status, now=utcnow())
                metrics.delivered("delivered")
                logger.info("delivered webhook %s (attempt %d)", claimed.id, claimed.attempts)
                return
            delay = delivery_retry_delay(self._schedule, claimed.attempts)
            next_at = utcnow() + delay if delay is not None else None
            await store.mark_failed_attempt(
                self._db,
                claimed.id,
                token=token,
                status_code=status,
                error=error or f"HTTP {status}",
                next_attempt_at=next_at,
            )
            metrics.delivered("retrying" if next_at else "failed")
            logger.warning(
                "webhook %s attempt %d failed (%s); %s",
                claimed.id,
                claimed.attempts,
                error or f"HTTP {status}",
                f"next attempt at {next_at.isoformat()}" if next_at else "giving up",
            )


async def _first_of(stop: asyncio.Event, wake: asyncio.Event, timeout: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
