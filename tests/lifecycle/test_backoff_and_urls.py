"""Retry delays and the webhook URL / address rules, on their own."""

from __future__ import annotations

import ipaddress
import random

import pytest

from server.addresses import address_allowed
from server.errors import InvalidRequest
from server.lifecycle.backoff import delivery_retry_delay, refresh_retry_delay
from server.lifecycle.urls import check_webhook_url

SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)


def test_delivery_delays_follow_the_schedule_with_jitter_then_stop() -> None:
    rng = random.Random(7)
    for attempt, seconds in enumerate(SCHEDULE, start=1):
        retry_in = delivery_retry_delay(SCHEDULE, attempt, rng)
        assert retry_in is not None
        delay = retry_in.total_seconds()
        assert seconds * 0.8 <= delay <= seconds * 1.2
    assert delivery_retry_delay(SCHEDULE, len(SCHEDULE) + 1) is None
    assert sum(SCHEDULE) / 3600 > 24  # retried over more than a day


def test_refresh_delays_grow_and_are_capped() -> None:
    delays = [refresh_retry_delay(n, random.Random(1)).total_seconds() for n in range(1, 12)]
    assert delays[0] < 40 and delays[1] > delays[0] and max(delays) <= 3600 * 1.2


@pytest.mark.parametrize(
    "address,loopback_ok,allowed",
    [
        ("93.184.216.34", False, True),
        ("2606:2800:220:1::1", False, True),
        ("127.0.0.1", False, False),
        ("127.0.0.1", True, True),
        ("::1", True, True),
        ("::ffff:127.0.0.1", True, True),
        ("::ffff:10.0.0.1", True, False),
        ("10.0.0.1", True, False),
        ("172.16.5.4", True, False),
        ("192.168.0.1", True, False),
        ("169.254.169.254", True, False),
        ("100.64.0.1", True, False),
        ("224.0.0.1", True, False),
        ("0.0.0.0", True, False),
        ("fe80::1", True, False),
    ],
)
def test_address_rules(address: str, loopback_ok: bool, allowed: bool) -> None:
    assert address_allowed(ipaddress.ip_address(address), allow_loopback=loopback_ok) is allowed


def test_urls_accepted() -> None:
    assert check_webhook_url("https://hooks.example.com/x?y=1", allow_loopback=False)
    assert check_webhook_url("http://127.0.0.1:8001/hook", allow_loopback=True)
    assert check_webhook_url("http://localhost:8001/hook", allow_loopback=True)
    with pytest.raises(InvalidRequest):
        check_webhook_url("http://localhost:8001/hook", allow_loopback=False)
    with pytest.raises(InvalidRequest):
        check_webhook_url("https://hooks.example.com/x#frag", allow_loopback=False)
    with pytest.raises(InvalidRequest):
        check_webhook_url("https://hooks.example.com:99999/x", allow_loopback=False)


def test_a_numeric_host_is_judged_as_the_address_it_denotes() -> None:
    assert check_webhook_url("https://134744072/hook", allow_loopback=False)  # 8.8.8.8
    for host in ("2130706433", "0x7f.0.0.1", "0177.0.0.1"):
        with pytest.raises(InvalidRequest, match="loopback"):
            check_webhook_url(f"https://{host}/hook", allow_loopback=False)
        assert check_webhook_url(f"http://{host}:8001/hook", allow_loopback=True)
    with pytest.raises(InvalidRequest, match="private"):
        check_webhook_url("https://0xa.0.0.1/hook", allow_loopback=True)
