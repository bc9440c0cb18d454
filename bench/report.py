"""How a figure is printed: beside its ceiling, as a ratio, with p50/p99 and the goal it is held to."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

LABEL = 46


@dataclass(frozen=True)
class Figure:
    """One system's figure in one round, or the medians over the rounds."""

    rate: float  # per second
    p50_ms: float
    p99_ms: float
    errors: int = 0  # failed requests or flows over all rounds: a figure with errors is not a figure

    @classmethod
    def of_rounds(cls, rounds: Sequence[Figure]) -> Figure:
        """Each value's median over the rounds; the errors of all of them."""
        return cls(
            statistics.median(f.rate for f in rounds),
            statistics.median(f.p50_ms for f in rounds),
            statistics.median(f.p99_ms for f in rounds),
            sum(f.errors for f in rounds),
        )


@dataclass(frozen=True)
class Goal:
    text: str  # as printed, e.g. "≥ 0.5 of same-work"
    at_least: float | None = None
    at_most: float | None = None

    def verdict(self, value: float, errors: int = 0) -> str:
        if errors:
            return f"not met ({errors} errors)"
        low = self.at_least is None or value >= self.at_least
        high = self.at_most is None or 0 < value <= self.at_most
        return "met" if low and high else "not met"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0–100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def header(title: str) -> None:
    print(f"\n{title}", flush=True)
    print(
        f"  {'':<{LABEL}} {'figure/s':>9} {'ceiling/s':>10} {'ratio':>6} {'p50 ms':>8} {'p99 ms':>8}   goal",
        flush=True,
    )


def row(label: str, figure: Figure, ceiling: Figure, goal: Goal) -> None:
    ratio = figure.rate / ceiling.rate if ceiling.rate else 0.0
    verdict = goal.verdict(ratio, figure.errors + ceiling.errors)
    print(
        f"  {label:<{LABEL}} {figure.rate:>9,.0f} {ceiling.rate:>10,.0f} {ratio:>6.3f}"
        f" {figure.p50_ms:>8.1f} {figure.p99_ms:>8.1f}   {goal.text}: {verdict}",
        flush=True,
    )


def ratio_row(label: str, ratio: float, goal: Goal) -> None:
    """A ratio that is not of two rates (p99 / p50), in the ratio column."""
    print(
        f"  {label:<{LABEL}} {'':>9} {'':>10} {ratio:>6.2f} {'':>8} {'':>8}   {goal.text}: {goal.verdict(ratio)}",
        flush=True,
    )


def note(text: str) -> None:
    print(f"  {text}", flush=True)
