"""What counting one request against a `memory://` rate limit costs, with few and with many clients
counted in the same minute: Latchkey's MemoryWindows against the `limits` library's own asyncio
memory storage (the same fixed windows), in-process, a turn of the event loop after each count as
a server has (that turn is where `limits`' storage walks every key it holds)."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable

from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import FixedWindowRateLimiter

from bench.report import note
from server.ratelimit import LIMIT_NAMES, RateLimiter

LIMIT = "1000000/minute"  # never reached: the cost of an allowed request is measured
CROWDS = (10, 10_000)
HITS = 300


async def _per_hit(hit: Callable[[str], Awaitable[object]], crowd: int) -> float:
    """Microseconds per count of one client's request, with `crowd` other clients counted already."""
    for i in range(crowd):
        await hit(f"203.0.{i // 256 % 256}.{i % 256}-{i}")
    await asyncio.sleep(0.01)
    began = time.perf_counter()
    for _ in range(HITS):
        await hit("198.51.100.7")
        await asyncio.sleep(0)
    return (time.perf_counter() - began) / HITS * 1e6


async def _latchkey(crowd: int) -> float:
    limiter = RateLimiter("memory://", dict.fromkeys(LIMIT_NAMES, LIMIT))
    try:
        return await _per_hit(lambda key: limiter.hit("picker", key), crowd)
    finally:
        await limiter.aclose()


async def _limits(crowd: int) -> float:
    item = parse(LIMIT)
    limiter = FixedWindowRateLimiter(MemoryStorage())
    return await _per_hit(lambda key: limiter.hit(item, "picker", key), crowd)


def rate_limit_costs() -> None:
    gc.collect()
    for crowd in CROWDS:
        ours, theirs = asyncio.run(_latchkey(crowd)), asyncio.run(_limits(crowd))
        note(
            f"rate limit, one request counted with {crowd:,} clients in the minute: {ours:,.1f} µs"
            f" (limits' own memory storage {theirs:,.1f} µs, {theirs / ours:,.0f}×)"
        )
