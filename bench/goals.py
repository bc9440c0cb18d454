"""Each goal of issue 11 as the lines it prints: a figure, what it is compared with, the verdict.

Figures that are compared run in alternation — A, B, A, B … — and each value printed is the
median over the rounds, so a slow moment of the machine (2 cores, shared by the servers and the
load generator) falls on both sides instead of on one.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from bench import wrk
from bench.flows import FlowJob, FlowReport, drive
from bench.latchkey import SLUG, SUCCESS_URL, Workspace, bearer, list_connections, start_links
from bench.report import LABEL, Figure, Goal, note, percentile, ratio_row, row

T = TypeVar("T")

SAME_WORK = Goal("≥ 0.5 of same-work", at_least=0.5)
START = Goal("≥ 0.1 of bare", at_least=0.1)
STATIC = Goal("≥ 0.8 of bare", at_least=0.8)
FLOWS = Goal("≥ 0.7 of lean client", at_least=0.7)
TAIL = Goal("p99 ≤ 2.5 × p50", at_most=2.5)
PASSTHROUGH = Goal("(issue 12: no target; the ratio is the price)")


@dataclass(frozen=True)
class Timing:
    seconds: int  # of each wrk run and each closed loop of flows
    rounds: int
    drivers: int  # flow driver processes for more than one browser
    burst: int  # concurrent flows, each its own end-user


def alternate(measures: Sequence[Callable[[], T]], rounds: int) -> list[list[T]]:
    """Every measure once per round, in turn: A, B, A, B … (ABAB)."""
    results: list[list[T]] = [[] for _ in measures]
    for _ in range(rounds):
        for done, measure in zip(results, measures, strict=True):
            done.append(measure())
    return results


def wrk_figure(run: wrk.WrkRun) -> Figure:
    return Figure(run.rate, run.p50_ms, run.p99_ms, run.errors)


def wrk_pair(
    url: str, ceiling_url: str, timing: Timing, headers: dict[str, str] | None = None
) -> tuple[Figure, Figure]:
    wrk.run(url, 1, headers=headers)  # Latchkey's warm-up: its first requests open connections, fill caches
    latchkey, ceiling = alternate(
        [
            lambda: wrk_figure(wrk.run(url, timing.seconds, headers=headers)),
            lambda: wrk_figure(wrk.run(ceiling_url, timing.seconds, headers=headers)),
        ],
        timing.rounds,
    )
    return Figure.of_rounds(latchkey), Figure.of_rounds(ceiling)


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Where two JSON bodies differ (the ceiling must answer what Latchkey answers)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in differences(a.get(k), b.get(k), f"{where}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [where or "(body)"]


def same_answer(url: str, ceiling_url: str, headers: dict[str, str] | None = None) -> None:
    ours, theirs = httpx.get(url, headers=headers, timeout=30), httpx.get(ceiling_url, headers=headers, timeout=30)
    if ours.status_code != 200 or theirs.status_code != 200:
        note(f"! answers {ours.status_code} (Latchkey) and {theirs.status_code} (ceiling) to {url}")
    elif ours.headers.get("content-type", "").startswith("application/json"):
        diff = differences(ours.json(), theirs.json())
        if diff:
            note(f"! the ceiling's answer differs from Latchkey's at {', '.join(diff[:5])}")
    elif ours.content != theirs.content:
        note(f"! the bare app's bytes differ from Latchkey's for {url}")


def reads(latchkey: str, ceiling: str, ws: Workspace, connection_id: str, timing: Timing) -> None:
    """Goal 1: the read endpoints, each against the same work done with hand-written SQL."""
    auth = bearer(ws.sandbox_key)
    for label, path in (
        (
            "credentials read  GET /connections/{id}?include=credentials",
            f"/api/v1/connections/{connection_id}?include=credentials",
        ),
        ("connection        GET /connections/{id}", f"/api/v1/connections/{connection_id}"),
        ("list              GET /connections", "/api/v1/connections"),
    ):
        same_answer(latchkey + path, ceiling + path, auth)
        figure, same_work = wrk_pair(latchkey + path, ceiling + path, timing, auth)
        row(label, figure, same_work, SAME_WORK)


def passthrough(latchkey: str, provider: str, ws: Workspace, connection_id: str, timing: Timing) -> None:
    """Passthrough to the zero-work provider's API resource, against calling that resource directly."""
    through = f"{latchkey}/api/v1/passthrough/{connection_id}/contacts"
    direct = f"{provider}/api/contacts"
    auth = bearer(ws.production_key)  # the provider reads no credential; Latchkey needs its key
    same_answer(through, direct, auth)
    figure, baseline = wrk_pair(through, direct, timing, auth)
    row("passthrough       GET /passthrough/{id}/contacts", figure, baseline, PASSTHROUGH)


def start(latchkey: str, bare: str, link: str, timing: Timing) -> None:
    """Goal 2: the sandbox start link (signs, seals, writes the flow) against bare Starlette's "ok"."""
    figure, baseline = wrk_pair(latchkey + link, bare + "/", timing)
    row("start             GET /auth/sandbox/start", figure, baseline, START)


def static(latchkey: str, bare: str, paths: Sequence[str], timing: Timing) -> None:
    """Goal 3: static files against the same bytes served from memory by bare Starlette."""
    for path in paths:
        same_answer(latchkey + path, bare + path)
        figure, baseline = wrk_pair(latchkey + path, bare + path, timing)
        row(f"static            GET {path}", figure, baseline, STATIC)


def flow_figure(report: FlowReport) -> Figure:
    p50, p99 = percentile(report.latencies, 50) * 1000, percentile(report.latencies, 99) * 1000
    return Figure(report.rate, p50, p99, report.failed)


def flow_errors(reports: Sequence[FlowReport]) -> None:
    for report in reports:
        for error in report.errors[:2]:
            note(f"! {error}")


def flows(latchkey_links: list[str], lean: str, timing: Timing) -> None:
    """Goal 4: complete flows, a fresh browser each, against the lean client, at 1 and 20 browsers."""
    lean_links = [f"{lean}/start?external_xref=lean-{i:03d}" for i in range(len(latchkey_links))]
    for browsers in (1, 20):
        processes = 1 if browsers == 1 else timing.drivers

        def loop(links: list[str], seconds: float, n: int = browsers, p: int = processes) -> FlowReport:
            return drive(FlowJob(links, SUCCESS_URL, seconds=seconds, concurrency=n, timeout=30.0), p)

        loop(latchkey_links, 1.0)  # Latchkey's warm-up
        ours, theirs = alternate(
            [lambda: loop(latchkey_links, timing.seconds), lambda: loop(lean_links, timing.seconds)], timing.rounds
        )
        figure = Figure.of_rounds([flow_figure(r) for r in ours])
        lean_figure = Figure.of_rounds([flow_figure(r) for r in theirs])
        row(
            f"complete flows, {browsers:>2} browser{'s' if browsers > 1 else ' '} (flows/s)", figure, lean_figure, FLOWS
        )
        flow_errors([*ours, *theirs])
        if browsers > 1:
            ratio_row("  p99 / p50 of those flows", figure.p99_ms / figure.p50_ms if figure.p50_ms else 0.0, TAIL)
            # The same spread for the lean client (which stores nothing), measured in the same rounds: what
            # the drivers and the provider sharing two cores give any server, so the figure above can be read.
            lean_tail = lean_figure.p99_ms / lean_figure.p50_ms if lean_figure.p50_ms else 0.0
            ratio_row("  p99 / p50, lean client alike", lean_tail, TAIL)


@dataclass(frozen=True)
class BurstCount:
    end_users: int
    succeeded: int
    failed: int
    rows: int
    lost: int  # end-users without a connection
    duplicated: int  # connections beyond one per end-user
    mismatched: int  # browsers handed a connection ID that is not their end-user's

    @property
    def met(self) -> bool:
        return self.failed == 0 and self.lost == 0 and self.duplicated == 0 and self.mismatched == 0


def count_burst(xrefs: list[str], seen: list[str | None], rows: list[dict[str, Any]]) -> BurstCount:
    """What the browsers were handed (`seen`, one per end-user in order) against the rows the API lists."""
    wanted = set(xrefs)
    mine = [r for r in rows if r["external_xref"] in wanted]
    per_user = Counter(r["external_xref"] for r in mine)
    id_of = {r["external_xref"]: r["id"] for r in mine}
    return BurstCount(
        end_users=len(xrefs),
        succeeded=sum(1 for s in seen if s is not None),
        failed=sum(1 for s in seen if s is None),
        rows=len(mine),
        lost=sum(1 for x in xrefs if x not in per_user),
        duplicated=sum(n - 1 for n in per_user.values()),
        mismatched=sum(1 for x, s in zip(xrefs, seen, strict=True) if s is not None and id_of.get(x) != s),
    )


def burst(label: str, base: str, ws: Workspace, timing: Timing, *, tag: str, spread: list[str] | None = None) -> None:
    """Goal 5: `timing.burst` flows at once, each its own end-user: every one ends with exactly one connection."""
    xrefs = [f"burst-{tag}-{i:04d}" for i in range(timing.burst)]
    links = asyncio.run(start_links(base, ws.id, "production", SLUG, xrefs))
    job = FlowJob(links, SUCCESS_URL, seconds=0, spread={base: spread} if spread else {}, timeout=300.0)
    report = drive(job, timing.drivers)
    counted = count_burst(xrefs, report.connection_ids, asyncio.run(list_connections(base, ws.production_key, SLUG)))
    note(
        f"{label:<{LABEL}} {counted.succeeded:,}/{counted.end_users:,} browsers ended with a connection,"
        f" {counted.failed} failed; {counted.rows:,} connections: {counted.lost} lost, {counted.duplicated} duplicated,"
        f" {counted.mismatched} mismatched   0 lost, 0 duplicated: {'met' if counted.met else 'not met'}"
    )
    note(
        f"{'':<{LABEL}} all done in {report.elapsed:.1f} s; each flow took p50 {percentile(report.latencies, 50):.1f} s,"
        f" p99 {percentile(report.latencies, 99):.1f} s"
    )
    flow_errors([report])
