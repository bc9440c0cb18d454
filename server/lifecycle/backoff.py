"""Retry delays: exponential, capped, with jitter so many retries do not fall due together."""

from __future__ import annotations

import random
from datetime import timedelta

REFRESH_BACKOFF_BASE = 30.0
REFRESH_BACKOFF_CAP = 3600.0
JITTER = 0.2


def jittered(seconds: float, rng: random.Random | None = None) -> float:
    """`seconds` ± 20 %."""
    return seconds * (1 + JITTER * (2 * (rng or random).random() - 1))


def refresh_retry_delay(failures: int, rng: random.Random | None = None) -> timedelta:
    """After the n-th consecutive transient refresh failure: 30 s, 1 min, 2 min … capped at 1 h."""
    seconds = min(REFRESH_BACKOFF_CAP, REFRESH_BACKOFF_BASE * 2 ** max(0, failures - 1))
    return timedelta(seconds=jittered(seconds, rng))


def delivery_retry_delay(
    schedule: tuple[float, ...], attempts: int, rng: random.Random | None = None
) -> timedelta | None:
    """The wait after failed attempt number `attempts` (1-based); None once the schedule is spent."""
    if attempts < 1 or attempts > len(schedule):
        return None
    return timedelta(seconds=jittered(schedule[attempts - 1], rng))
