"""What Latchkey counts for Prometheus (`GET /metrics`, off unless LATCHKEY_METRICS_TOKEN or
LATCHKEY_METRICS_PORT is set).

Every label value is bounded: route templates (never raw paths or IDs), integration slugs from the
catalog, error codes from server/errors.py, outcomes named here, known HTTP methods. With several
worker processes (`latchkey serve --workers N`) each writes its samples to files under
PROMETHEUS_MULTIPROC_DIR, set by the serve command before this module is imported, and a scrape of
any worker reads them all (prometheus-client's multiprocess mode).

Counting is a no-op until `enable()`: a service that nobody scrapes pays nothing on its hot paths.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "unmatched"  # the route label of a request no route matched (404s): never its path
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
REFRESH_OUTCOMES = ("fresh", "refreshed", "not_refreshable", "failed")
DELIVERY_OUTCOMES = ("delivered", "retrying", "failed")

_registry = CollectorRegistry(auto_describe=True)
REQUEST_SECONDS = Histogram(
    "latchkey_http_request_duration_seconds",
    "HTTP requests by route template, method and status",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=_registry,
)
FLOWS_STARTED = Counter(
    "latchkey_flows_started_total", "Authorization flows started", ["integration"], registry=_registry
)
FLOWS_COMPLETED = Counter(
    "latchkey_flows_completed_total",
    "Authorization flows that stored a connection",
    ["integration"],
    registry=_registry,
)
FLOWS_FAILED = Counter(
    "latchkey_flows_failed_total",
    "Authorization flows that failed, by error code",
    ["integration", "error"],
    registry=_registry,
)
REFRESHES = Counter(
    "latchkey_token_refreshes_total", "Token refresh attempts by outcome", ["outcome"], registry=_registry
)
DELIVERIES = Counter(
    "latchkey_webhook_deliveries_total", "Webhook delivery attempts by outcome", ["outcome"], registry=_registry
)
RATE_LIMITED = Counter(
    "latchkey_rate_limited_total", "Requests refused by a rate limit, by limit", ["limit"], registry=_registry
)

_enabled = False


def enable() -> None:
    global _enabled
    _enabled = True


def enabled() -> bool:
    return _enabled


def request(route: str, method: str, status: int, seconds: float) -> None:
    if _enabled:
        REQUEST_SECONDS.labels(route, method if method in METHODS else "other", str(status)).observe(seconds)


def flow_started(integration: str) -> None:
    if _enabled:
        FLOWS_STARTED.labels(integration).inc()


def flow_completed(integration: str) -> None:
    if _enabled:
        FLOWS_COMPLETED.labels(integration).inc()


def flow_failed(integration: str, error: str) -> None:
    if _enabled:
        FLOWS_FAILED.labels(integration, error).inc()


def refreshed(outcome: str) -> None:
    if _enabled and outcome in REFRESH_OUTCOMES:
        REFRESHES.labels(outcome).inc()


def delivered(outcome: str) -> None:
    if _enabled and outcome in DELIVERY_OUTCOMES:
        DELIVERIES.labels(outcome).inc()


def rate_limited(limit: str) -> None:
    if _enabled:
        RATE_LIMITED.labels(limit).inc()


class _Outbox(Collector):
    """The webhook outbox as the database has it at scrape time (the same for every process)."""

    def __init__(self, backlog: int, oldest_due_seconds: float) -> None:
        self.backlog = backlog
        self.oldest_due_seconds = oldest_due_seconds

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily("latchkey_webhook_outbox_backlog", "Webhook deliveries waiting", value=self.backlog)
        yield GaugeMetricFamily(
            "latchkey_webhook_oldest_due_seconds",
            "How long the oldest due webhook delivery has waited (0: none due)",
            value=self.oldest_due_seconds,
        )


def exposition(backlog: int, oldest_due_seconds: float) -> bytes:
    """The Prometheus text format: every process's samples, and the outbox gauges."""
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_ENV):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # unannotated in prometheus-client
    else:
        registry.register(_Both(_registry))
    registry.register(_Outbox(backlog, oldest_due_seconds))
    return generate_latest(registry)


class _Both(Collector):
    """This process's own registry, collected into the scrape's registry."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        yield from self.source.collect()
