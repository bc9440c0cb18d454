"""Complete authorization flows, each in a fresh browser, driven from processes of their own.

A flow is what a browser does: open the start link, follow each redirect — to the provider, back
to the callback (where the server exchanges the code) — until it is sent to the success URL with
a connection ID. Every flow gets a fresh cookie jar (a new browser, bench/browser.py) over the
keep-alive connections its driver process shares. The drivers are processes of their own
(`python -m bench.flows`: the job as JSON on stdin, the report as JSON on stdout), so the load
generator is not one GIL competing with itself. With `spread`, each request to one origin goes
to the next of several processes, as a load balancer without sticky sessions would send it.

Two shapes: a closed loop (`seconds` > 0: `concurrency` browsers, each starting its next flow when
the last one ends) and a burst (`seconds` == 0: every start link at once, each its own end-user).
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

from bench.browser import Browser, Connections, ProtocolError
from bench.servers import ROOT

MAX_HOPS = 8
KEPT_ERRORS = 5


@dataclass(frozen=True)
class FlowJob:
    start_urls: list[str]
    success_url: str
    seconds: float  # 0: a burst, each start URL once and all at once
    concurrency: int = 1  # closed loop: browsers at once
    start_at: float = 0.0  # wall-clock time to begin at, so that several drivers begin together
    spread: dict[str, list[str]] = field(default_factory=dict)  # origin → the origins actually served
    max_connections: int = 64
    timeout: float = 120.0


@dataclass
class FlowReport:
    latencies: list[float] = field(default_factory=list)  # seconds, one per flow that ended at the success URL
    failed: int = 0
    errors: list[str] = field(default_factory=list)  # the first few failures, as they were seen
    connection_ids: list[str | None] = field(default_factory=list)  # a burst's: one per start URL, in order
    elapsed: float = 0.0
    rate: float = 0.0  # flows per second

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FlowReport:
        return cls(**data)

    def add(self, other: FlowReport) -> None:
        self.latencies += other.latencies
        self.failed += other.failed
        self.errors += other.errors[: max(0, KEPT_ERRORS - len(self.errors))]
        self.connection_ids += other.connection_ids
        self.elapsed = max(self.elapsed, other.elapsed)
        self.rate += other.rate


class FlowFailed(Exception):
    """The browser did not end at the success URL."""


def router(spread: dict[str, list[str]]) -> Callable[[str], str]:
    turns = {origin: itertools.cycle(targets) for origin, targets in spread.items()}

    def route(url: str) -> str:
        for origin, targets in turns.items():
            if url.startswith(origin + "/"):
                return next(targets) + url[len(origin) :]
        return url

    return route


async def one_flow(browser: Browser, start_url: str, success_url: str, route: Callable[[str], str]) -> str:
    """Follow the redirects from the start link to the success URL; returns the connection ID handed over."""
    url = start_url
    for _ in range(MAX_HOPS):
        response = await browser.get(route(url))
        location = response.header("location")
        if response.status not in (302, 303) or not location:
            raise FlowFailed(f"{response.status} at {urlsplit(url).path}: {response.body[:160]!r}")
        url = urljoin(url, location)
        if url.startswith(success_url):
            found: list[str] = parse_qs(urlsplit(url).query).get("connection_id", [])
            if not found:
                raise FlowFailed(f"success without a connection ID: {url[:160]}")
            return found[0]
    raise FlowFailed(f"more than {MAX_HOPS} redirects")


class Driver:
    def __init__(self, job: FlowJob) -> None:
        self.job = job
        self.route = router(job.spread)
        self.connections = Connections(job.max_connections)
        self.report = FlowReport()

    async def timed_flow(self, start_url: str) -> str | None:
        began = time.perf_counter()
        try:
            async with asyncio.timeout(self.job.timeout):
                connection_id = await one_flow(Browser(self.connections), start_url, self.job.success_url, self.route)
        except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError, ProtocolError, FlowFailed) as exc:
            self.report.failed += 1
            if len(self.report.errors) < KEPT_ERRORS:
                self.report.errors.append(f"{type(exc).__name__}: {exc}")
            return None
        self.report.latencies.append(time.perf_counter() - began)
        return connection_id

    async def closed_loop(self) -> None:
        links = itertools.cycle(self.job.start_urls)
        stop_at = time.perf_counter() + self.job.seconds

        async def browser() -> None:
            while time.perf_counter() < stop_at:
                await self.timed_flow(next(links))

        await asyncio.gather(*(browser() for _ in range(self.job.concurrency)))

    async def burst(self) -> None:
        self.report.connection_ids = list(await asyncio.gather(*(self.timed_flow(u) for u in self.job.start_urls)))

    async def run(self) -> FlowReport:
        await asyncio.sleep(max(0.0, self.job.start_at - time.time()))
        began = time.perf_counter()
        try:
            await (self.closed_loop() if self.job.seconds > 0 else self.burst())
        finally:
            self.connections.close()
        self.report.elapsed = time.perf_counter() - began
        self.report.rate = len(self.report.latencies) / self.report.elapsed if self.report.elapsed else 0.0
        return self.report


def shares(total: int, parts: int) -> list[int]:
    """`total` shared out as evenly as can be."""
    size, extra = divmod(total, parts)
    return [size + (1 if i < extra else 0) for i in range(parts)]


def split(items: list[str], parts: int) -> list[list[str]]:
    """Contiguous slices, as even as can be (so a burst's connection IDs stay in order)."""
    bounds = list(itertools.accumulate([0, *shares(len(items), parts)]))
    return [items[a:b] for a, b in itertools.pairwise(bounds)]


def drive(job: FlowJob, processes: int) -> FlowReport:
    """Run the job over `processes` driver processes; the browsers (or a burst's links) are shared out."""
    processes = max(1, min(processes, job.concurrency if job.seconds > 0 else len(job.start_urls)))
    begin = time.time() + 0.4 + 0.1 * processes  # time for each interpreter to start and read its job
    links = split(job.start_urls, processes)
    browsers = shares(job.concurrency, processes) if job.seconds > 0 else [len(share) for share in links]
    drivers = []
    for share, concurrency in zip(links, browsers, strict=True):
        part = FlowJob(**{**asdict(job), "start_urls": share, "concurrency": concurrency, "start_at": begin})
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.flows"], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert process.stdin is not None
        process.stdin.write(json.dumps(asdict(part)))  # each driver reads its whole job before it waits to begin
        process.stdin.close()
        drivers.append(process)
    merged = FlowReport()
    for process in drivers:
        assert process.stdout is not None
        out = process.stdout.read()
        if process.wait() != 0:
            raise RuntimeError(f"a flow driver failed (exit {process.returncode})")
        merged.add(FlowReport.from_json(json.loads(out)))
    return merged


def main() -> None:
    job = FlowJob(**json.load(sys.stdin))
    gc.freeze()  # the driver's own pauses would count as the servers' latency
    report = asyncio.run(Driver(job).run())
    json.dump(asdict(report), sys.stdout)


if __name__ == "__main__":
    main()
