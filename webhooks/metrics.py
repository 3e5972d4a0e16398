"""``/metrics`` in the Prometheus text format, with the official client library (prometheus_client).

- ``extranet_bridge_http_requests_total{route,method,status}`` and the latency histogram
  ``extranet_bridge_http_request_duration_seconds{route}``: counted by an ASGI middleware; ``route`` is
  the route's template (``/admin/processes/{request_id}``), never the raw path, so the series stay few;
- ``extranet_bridge_job_runs_total{job,outcome}``: every run the scheduler records (ok, skipped, failed);
- read from the store at each scrape: ``extranet_bridge_inbox_pending{source}`` and
  ``extranet_bridge_inbox_lag_seconds{source}`` (age of the oldest message not processed yet),
  ``extranet_bridge_outbox_messages{target,status}``, ``extranet_bridge_bitrix24_budget_remaining{portal}``
  (requests the shared bucket admits now) beside its ``…_capacity``, and ``extranet_bridge_store_up``.

Each app has its own registry, so several apps in one process (tests) do not share counters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from config.settings import Settings
from config.wiring import Store
from connectors.bitrix24.budget import capacity_for, drained
from store import monitoring
from webhooks.scheduler import JobRun

log = logging.getLogger(__name__)

PREFIX = "extranet_bridge"
UNMATCHED = "unmatched"
"""The route label of a request that matched no route (a 404, or a body refused before routing)."""
# No `*_created` series beside every counter: the process's start time says as much.
disable_created_metrics()  # type: ignore[no-untyped-call]
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The registry of one app: request and job counters, and the store's gauges read at scrape time."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            f"{PREFIX}_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            f"{PREFIX}_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.job_runs = Counter(
            f"{PREFIX}_job_runs",
            "Scheduled job runs by job and outcome (ok, skipped, failed).",
            ["job", "outcome"],
            registry=self.registry,
        )
        self.registry.register(StoreGauges(settings, store))

    def observe_job(self, run: JobRun) -> None:
        self.job_runs.labels(run.name, run.outcome).inc()

    def render(self, accept: str) -> tuple[bytes, str]:
        """The exposition in the format the scraper accepts (the classic text format by default) and its
        content type. Reads the store: call it off the event loop."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type


class StoreGauges(Collector):
    """Inbox backlog and lag, outbox depth and the Bitrix24 budget, read from the store at each scrape."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.store = store
        self.rate = settings.bitrix24.rate
        self.capacity = capacity_for(settings.bitrix24.burst)

    def describe(self) -> list[Any]:
        return []  # read at scrape time only: registering must not touch the store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(f"{PREFIX}_store_up", "1 when the state store answered this scrape.")
        try:
            with self.store.sessions() as session:
                backlog = monitoring.inbox_backlog(session)
                depth = monitoring.outbox_depth(session)
                budgets = monitoring.budget_rows(session)
        except Exception as exc:  # the scrape still answers: the store's state is itself a metric
            log.warning("metrics.store_unreadable", extra={"error_code": type(exc).__name__})
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        now = datetime.now(UTC)
        pending = GaugeMetricFamily(
            f"{PREFIX}_inbox_pending", "Inbox messages not processed yet.", labels=["source"]
        )
        lag = GaugeMetricFamily(
            f"{PREFIX}_inbox_lag_seconds",
            "Age of the oldest inbox message not processed yet (0 when none waits).",
            labels=["source"],
        )
        for row in backlog:
            pending.add_metric([row.source], row.pending)
            lag.add_metric([row.source], _age(row.oldest_received_at, now))
        yield pending
        yield lag
        outbox = GaugeMetricFamily(
            f"{PREFIX}_outbox_messages", "Outbox rows by target and status.", labels=["target", "status"]
        )
        for (target, status), count in sorted(depth.items()):
            outbox.add_metric([target, status], count)
        yield outbox
        remaining = GaugeMetricFamily(
            f"{PREFIX}_bitrix24_budget_remaining",
            "Requests the shared Bitrix24 bucket admits now (its capacity less what has not drained).",
            labels=["portal"],
        )
        capacity = GaugeMetricFamily(
            f"{PREFIX}_bitrix24_budget_capacity",
            "Requests the bucket holds (the portal's burst less a safety margin).",
            labels=["portal"],
        )
        for budget in budgets:
            level = drained(budget.level, _age(budget.updated_at, now), self.rate)
            remaining.add_metric([budget.portal], max(0.0, self.capacity - level))
            capacity.add_metric([budget.portal], self.capacity)
        yield remaining
        yield capacity


def _age(at: datetime | None, now: datetime) -> float:
    if at is None:
        return 0.0
    return max(0.0, (now - at).total_seconds())


class RequestMetrics:
    """ASGI middleware: counts every HTTP answer by route template, method and status, with its time."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: list[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500  # if the app raises before answering, the server answers 500

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            route = self._route(scope)
            self.metrics.requests.labels(route, scope.get("method", ""), str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - began)

    def _route(self, scope: Scope) -> str:
        matched = scope.get("route")
        path = getattr(matched, "path", None)
        if isinstance(path, str):
            return path
        for route in self.routes:  # refused before routing (413): name the route it was meant for
            if route.matches(scope)[0] == Match.FULL:
                return str(getattr(route, "path", UNMATCHED))
        return UNMATCHED
