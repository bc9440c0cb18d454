"""The named limits themselves: counting, Retry-After, separate budgets, settings, and Redis shared by two apps."""

from __future__ import annotations

import asyncio
import secrets
import socket
from pathlib import Path

import httpx
import pytest
import redis.asyncio
from starlette.applications import Starlette

from server.crypto import hash_api_key
from server.ratelimit import KEY_PREFIX, LimitName, MemoryWindows, RateLimiter
from server.settings import Settings
from tests.harness import SECRET, make_settings, new_workspace, running_app

REDIS_URL = "redis://127.0.0.1:6379/0"
LIMITS: dict[LimitName, str] = {
    "picker": "3/minute",
    "start": "3/minute",
    "credentials": "3/minute",
    "sign_in": "3/minute",
    "api": "3/minute",
    "api_auth_failure": "3/minute",
}


def redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


needs_redis = pytest.mark.skipif(
    not redis_answers(), reason="no Redis answers on 127.0.0.1:6379 (scripts/ensure-redis.sh starts a local one)"
)


def unique_address() -> str:
    """A documentation-range IPv6 address of its own, so runs sharing one Redis never share a budget."""
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}:{secrets.token_hex(2)}"


async def test_a_limit_allows_its_budget_then_answers_the_seconds_until_the_window_frees() -> None:
    limiter = RateLimiter("memory://", LIMITS)
    assert [await limiter.hit("start", "203.0.113.1") for _ in range(3)] == [None, None, None]
    retry_after = await limiter.hit("start", "203.0.113.1")
    assert retry_after is not None and 1 <= retry_after <= 60
    await limiter.aclose()


async def test_each_key_and_each_limit_has_its_own_budget() -> None:
    limiter = RateLimiter("memory://", LIMITS)
    for _ in range(3):
        assert await limiter.hit("start", "203.0.113.1") is None
    assert await limiter.hit("start", "203.0.113.1") is not None
    assert await limiter.hit("start", "203.0.113.2") is None  # another address
    assert await limiter.hit("picker", "203.0.113.1") is None  # another limit
    await limiter.aclose()


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_memory_window_starts_at_its_first_hit_and_starts_again_once_its_period_is_over() -> None:
    clock = Clock()
    windows = MemoryWindows(clock)
    assert [windows.hit("k", 60, 2) for _ in range(2)] == [None, None]
    clock.now += 20
    assert windows.hit("k", 60, 2) == 40  # the window ends 60 s after its first hit, not on the minute
    clock.now += 39.5
    assert windows.hit("k", 60, 2) == 1  # whole seconds, never 0
    clock.now += 0.5
    assert windows.hit("k", 60, 2) is None  # a new window


def test_expired_memory_windows_are_dropped_in_passes_that_cost_a_constant_per_hit() -> None:
    clock = Clock()
    windows = MemoryWindows(clock)
    for i in range(10_000):  # a crowd of client addresses in one minute
        assert windows.hit(f"client-{i}", 60, 5) is None
    sweeps_then = windows.sweeps
    for _ in range(10_000):  # the same number of hits again walks the windows once at most
        windows.hit("one-client", 60, 1_000_000)
    assert windows.sweeps - sweeps_then <= 1 and len(windows) == 10_001
    clock.now += 61
    for _ in range(10_001):
        windows.hit("one-client", 60, 1_000_000)
    assert len(windows) == 1  # the crowd's windows are gone with their minute


async def test_counting_in_memory_starts_no_task() -> None:
    limiter = RateLimiter("memory://", LIMITS)
    before = asyncio.all_tasks()
    for i in range(5):
        await limiter.hit("picker", f"203.0.113.{i}")
    assert asyncio.all_tasks() == before
    await limiter.aclose()


async def test_an_unreachable_redis_is_a_503_to_retry_never_a_request_let_through(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = make_settings(tmp_path, rate_limit_storage=f"redis://127.0.0.1:{port}/0")
    async with running_app(settings) as lk:
        ws = await new_workspace(lk.services)
        answer = await lk.client.get("/api/v1/connections", headers=ws.auth())
        assert answer.status_code == 503 and answer.json()["error"]["code"] == "service_unavailable"
        assert int(answer.headers["retry-after"]) >= 1


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LATCHKEY_RATE_LIMIT_START", "lots", "LATCHKEY_RATE_LIMIT_START must be one limit"),
        ("LATCHKEY_RATE_LIMIT_API", "10/minute;100/hour", "LATCHKEY_RATE_LIMIT_API must be one limit"),
        ("LATCHKEY_RATE_LIMIT_STORAGE", "memcached://127.0.0.1", "LATCHKEY_RATE_LIMIT_STORAGE must be memory://"),
        ("LATCHKEY_SIGN_IN_MAX_FAILURES", "0", "LATCHKEY_SIGN_IN_MAX_FAILURES"),
    ],
)
def test_a_bad_rate_limit_setting_stops_the_start_with_a_clear_error(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env({"LATCHKEY_SECRET_KEY": SECRET, "LATCHKEY_VAR_DIR": str(tmp_path), name: value})


def test_every_rate_limit_is_read_from_its_setting(tmp_path: Path) -> None:
    env = {"LATCHKEY_SECRET_KEY": SECRET, "LATCHKEY_VAR_DIR": str(tmp_path)}
    env |= {f"LATCHKEY_RATE_LIMIT_{name.upper()}": value for name, value in LIMITS.items()}
    env |= {"LATCHKEY_RATE_LIMIT_STORAGE": REDIS_URL, "LATCHKEY_SIGN_IN_LOCKOUT": "60"}
    settings = Settings.from_env(env)
    assert settings.rate_limits == LIMITS
    assert settings.rate_limit_storage == REDIS_URL and settings.sign_in_lockout == 60


@needs_redis
async def test_redis_storage_shares_one_budget_between_two_app_instances(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, rate_limit_storage=REDIS_URL, rate_limit_picker="3/minute")
    address = unique_address()
    async with running_app(settings) as first, running_app(settings) as second:
        ws = await new_workspace(first.services)
        params = {"workspace": ws.id, "env": "sandbox", "external_xref": "u", "mode": "redirect"}

        def client(app: Starlette) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app, client=(address, 40000))
            return httpx.AsyncClient(transport=transport, base_url=settings.base_url)

        async with client(first.app) as a, client(second.app) as b:
            assert [(await a.get("/picker", params=params)).status_code for _ in range(2)] == [200, 200]
            assert (await b.get("/picker", params=params)).status_code == 200
            refused = await b.get("/picker", params=params)
            assert refused.status_code == 429 and 'data-error-code="rate_limited"' in refused.text
            assert (await a.get("/picker", params=params)).status_code == 429


@needs_redis
async def test_redis_holds_a_hash_of_each_api_key_never_the_key(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, rate_limit_storage=REDIS_URL)
    async with running_app(settings) as lk:
        ws = await new_workspace(lk.services)
        assert (await lk.client.get("/api/v1/connections", headers=ws.auth())).status_code == 200
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        keys = [k.decode() async for k in client.scan_iter(match=f"{KEY_PREFIX}:*")]
    finally:
        await client.aclose()
    assert any(hash_api_key(ws.sandbox_key) in k for k in keys)
    assert not any(ws.sandbox_key in k for k in keys)
