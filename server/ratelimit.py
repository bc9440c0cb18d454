"""Named rate limits over one shared storage, without a web framework.

Fixed windows: one counter per key and window, started by its first hit, and an exact reset time
for `Retry-After`. With `redis://…` the `limits` library counts, and every process and instance
pointed at the same Redis shares one budget; with `memory://` each process counts alone, in
`MemoryWindows` (why not `limits`' own memory storage: there). Keys arrive already reduced to what may be stored: a client address, or a hash of an API
key — never a key in clear.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Literal, get_args

import redis
import redis.asyncio
from limits import RateLimitItem, parse_many
from limits.aio.storage import RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter

from server.errors import ServiceUnavailable

LimitName = Literal["picker", "start", "credentials", "sign_in", "api", "api_auth_failure"]
LIMIT_NAMES: tuple[LimitName, ...] = get_args(LimitName)
STORAGE_SCHEMES = ("memory", "redis", "rediss")
KEY_PREFIX = "latchkey"
SWEEP_AFTER_HITS = 1024  # the fewest hits between two sweeps of the expired windows


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


class MemoryWindows:
    """Fixed windows in this process's memory, counted as `limits` counts them in Redis (a window
    starts at its key's first hit and lasts the limit's period), with all the work done in the call.

    `limits`' asyncio memory storage starts a task on every count that walks every key it holds:
    measured at 40 µs a request with 10 keys and 2.1 ms with 10,000 (a key per client address, so
    a crowd of addresses would slow every request down). Here a key's expired window is replaced
    when the key comes back, and the expired ones are dropped in one pass once as many hits as
    there are windows have been counted since the last: constant work per hit, amortized, and
    memory bounded by the windows of the last period (twice over at most).
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._windows: dict[str, list[float]] = {}  # key → [ends at, hits]
        self._hits = 0
        self.sweeps = 0

    def hit(self, key: str, period: float, amount: int) -> int | None:
        """None when this hit is within the window's `amount`, else the seconds until it ends."""
        now = self._clock()
        window = self._windows.get(key)
        if window is None or window[0] <= now:
            window = self._windows[key] = [now + period, 0]
        window[1] += 1
        self._hits += 1
        if self._hits >= max(SWEEP_AFTER_HITS, len(self._windows)):
            self._sweep(now)
        return None if window[1] <= amount else max(1, math.ceil(window[0] - now))

    def __len__(self) -> int:
        return len(self._windows)

    def _sweep(self, now: float) -> None:
        self._windows = {key: window for key, window in self._windows.items() if window[0] > now}
        self._hits = 0
        self.sweeps += 1


class RateLimiter:
    """`hit(name, key)` counts one request: None when allowed, else the seconds until it would be."""

    def __init__(self, storage_url: str, limits: Mapping[LimitName, str]) -> None:
        check_storage_url(storage_url)
        missing = set(LIMIT_NAMES) - set(limits)
        if missing:
            raise ValueError(f"no rate limit configured for {sorted(missing)}")
        self._items = {name: parse_limit(value, name) for name, value in limits.items()}
        self._pool: redis.asyncio.ConnectionPool | None = None
        self._memory: MemoryWindows | None = None
        self._limiter: FixedWindowRateLimiter | None = None
        if storage_url.startswith("memory://"):
            self._memory = MemoryWindows()
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
        if self._memory is not None:
            return self._memory.hit(item.key_for(name, key), item.get_expiry(), item.amount)
        assert self._limiter is not None
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
