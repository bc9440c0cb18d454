"""Named rate limits over one shared storage, without a web framework.

The `limits` library does the counting (fixed windows: one counter per key and window, cheap in
memory and in Redis, and an exact reset time for `Retry-After`). With `memory://` each process
counts alone; with `redis://…` every process and instance pointed at the same Redis shares one
budget. Keys arrive already reduced to what may be stored: a client address, or a hash of an API
key — never a key in clear.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Literal, get_args

import redis
import redis.asyncio
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter

from server.errors import ServiceUnavailable

LimitName = Literal["picker", "start", "credentials", "sign_in", "api", "api_auth_failure"]
LIMIT_NAMES: tuple[LimitName, ...] = get_args(LimitName)
STORAGE_SCHEMES = ("memory", "redis", "rediss")
KEY_PREFIX = "latchkey"


def parse_limit(value: str, setting: str) -> RateLimitItem:
    """One limit in the `limits` notation (`600/minute`, `5 per 15 minutes`), or a clear error."""
    try:
        items = list(parse_many(value))
    except ValueError:
        items = []
    if len(items) != 1:
        raise ValueError(f"{setting} must be one limit like '600/minute' or '10 per 15 minutes', not {value!r}")
    return items[0]


def check_storage_url(url: str, setting: str = "LATCHKEY_RATE_LIMIT_STORAGE") -> str:
    scheme, sep, _ = url.partition("://")
    if not sep or scheme not in STORAGE_SCHEMES:
        raise ValueError(f"{setting} must be memory:// or redis://host:port[/db], not {url!r}")
    return url


class RateLimiter:
    """`hit(name, key)` counts one request: None when allowed, else the seconds until it would be."""

    def __init__(self, storage_url: str, limits: Mapping[LimitName, str]) -> None:
        check_storage_url(storage_url)
        missing = set(LIMIT_NAMES) - set(limits)
        if missing:
            raise ValueError(f"no rate limit configured for {sorted(missing)}")
        self._items = {name: parse_limit(value, name) for name, value in limits.items()}
        self._pool: redis.asyncio.ConnectionPool | None = None
        storage: Storage
        if storage_url.startswith("memory://"):
            storage = MemoryStorage()
        else:
            # Our own pool, so closing it at shutdown is ours too.
            self._pool = redis.asyncio.ConnectionPool.from_url(storage_url)
            storage = RedisStorage(
                f"async+{storage_url}",
                implementation="redispy",
                key_prefix=KEY_PREFIX,
                connection_pool=self._pool,  # type: ignore[arg-type]  # typed as scalars; passed on to redis-py
            )
        self._limiter = FixedWindowRateLimiter(storage)

    async def hit(self, name: LimitName, key: str) -> int | None:
        item = self._items[name]
        try:
            if await self._limiter.hit(item, name, key):
                return None
            reset_time, _ = await self._limiter.get_window_stats(item, name, key)
        except redis.RedisError as exc:  # neither counted nor waved through: the client retries
            raise ServiceUnavailable("The service is unavailable for a moment; please retry shortly.") from exc
        return max(1, math.ceil(reset_time - time.time()))

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
