"""A small closed-loop load generator: N workers, a fixed duration, requests or whole flows per second."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx


async def run_closed_loop(
    make_client: Callable[[], httpx.AsyncClient],
    one: Callable[[httpx.AsyncClient], Awaitable[None]],
    *,
    workers: int,
    seconds: float,
) -> tuple[float, int, int]:
    """Returns (operations per second, completed, failed)."""
    done = 0
    failed = 0
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, failed
        async with make_client() as client:
            while time.perf_counter() < stop_at:
                try:
                    await one(client)
                    done += 1
                except Exception:  # noqa: BLE001 - an operation that fails in any way is counted, not raised
                    failed += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - started
    return done / elapsed, done, failed
