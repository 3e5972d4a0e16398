"""Issue 13, the service's operational surface over a real uvicorn on loopback: /healthz lives, /readyz
names what is missing (store, Bitrix24 sandbox, 1C sandbox), probes are cached and bounded, /metrics
speaks the Prometheus format with requests, inbox lag and depth, outbox depth, budget and job runs."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from config.settings import OneCSettings, Settings
from config.wiring import Store
from connectors.bitrix24.budget import DbBudget, capacity_for
from core.clock import utcnow
from sandbox.bitrix24.testing import RunningSandbox
from sandbox.onec.testing import RunningSandbox as OneCSandbox
from sandbox.onec.testing import onec_sandbox
from sandbox.server import free_port, serve_in_thread
from store.models import InboxMessage
from store.outbox import Outbox
from store.uow import UnitOfWork
from tests.integration.webhooks.conftest import FORM, bridge_settings, install_body
from webhooks.app import create_app
from webhooks.health import Readiness
from webhooks.scheduler import JobScheduler


@pytest.fixture(scope="module")
def onec() -> Iterator[OneCSandbox]:
    with onec_sandbox(seed=3, employees=5) as sandbox:
        yield sandbox


def _with_onec(settings: Settings, sandbox: OneCSandbox, password: str | None = None) -> Settings:
    onec = OneCSettings(
        endpoint=sandbox.endpoint, username=sandbox.user, password=password or sandbox.password
    )
    return settings.model_copy(update={"onec": onec})


def test_healthz_lives_and_readyz_names_what_is_missing(settings: Settings, store: Store) -> None:
    with serve_in_thread(create_app(settings, store)) as url:
        for path in ("/healthz", "/health"):
            answer = httpx.get(url + path)
            assert (answer.status_code, answer.json()) == (200, {"status": "ok"})
        ready = httpx.get(url + "/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["ready"] is False
    assert body["missing"] == [
        "bitrix24: not installed",
        "1c: not configured (set onec.endpoint or onec.wsdl)",
    ]
    assert body["checks"]["store"] == "ok"


def test_ready_once_installed_and_1c_answers_then_each_fault_is_named(
    settings: Settings, store: Store, portal: RunningSandbox, onec: OneCSandbox
) -> None:
    full = _with_onec(settings, onec)
    with serve_in_thread(create_app(full, store)) as url:
        installed = httpx.post(
            url + "/bitrix24/install", content=install_body(portal.knobs.install()["auth"]), headers=FORM
        )
        assert installed.status_code == 200
        ready = httpx.get(url + "/readyz")
    assert (ready.status_code, ready.json()["missing"]) == (200, [])
    assert ready.json()["checks"] == {"store": "ok", "bitrix24": "ok", "1c": "ok"}

    wrong = _with_onec(full, onec, password="not-the-password")
    gone = f"http://127.0.0.1:{free_port()}"
    away = wrong.model_copy(update={"bitrix24": wrong.bitrix24.model_copy(update={"portal_url": gone + "/"})})
    with serve_in_thread(create_app(away, store)) as url:
        answer = httpx.get(url + "/readyz")
    assert answer.status_code == 503
    checks = answer.json()["checks"]
    assert checks["1c"] == "credentials refused (HTTP 401)"
    # Installed, but nothing answers at the portal's address any more.
    assert checks["bitrix24"] == "unreachable (ConnectError)"


class SilentServer:
    """Accepts connections and never answers: a 1C that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.sock.close()


async def test_probes_are_bounded_in_time_and_cached(db_url: str, store: Store) -> None:
    silent = SilentServer()
    now = [0.0]
    endpoint = f"http://127.0.0.1:{silent.port}/zup/ws/ExtranetBridge.1cws"
    settings = bridge_settings(db_url, None).model_copy(update={"onec": OneCSettings(endpoint=endpoint)})
    readiness = Readiness(settings, store, ttl=5, timeout=0.3, clock=lambda: now[0])
    try:
        first = await readiness.state()
        assert first.checks["1c"] == "no answer within 0.3 s"
        assert first.checks["store"] == "ok"
        now[0] = 4.0
        assert await readiness.state() is first and readiness.probes == 1
        together = await asyncio.gather(*(readiness.state() for _ in range(5)))
        assert all(result is first for result in together) and readiness.probes == 1
        now[0] = 5.5
        await readiness.state()
        assert readiness.probes == 2
    finally:
        silent.close()


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    values: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return values


def _value(values: dict[Any, float], name: str, **labels: str) -> float:
    return values[(name, frozenset(labels.items()))]


def _seed_store(store: Store) -> None:
    now = utcnow()
    with UnitOfWork(store.sessions) as uow:
        for minutes, processed in ((30, False), (10, False), (90, True)):
            uow.session.add(
                InboxMessage(
                    source="bitrix24",
                    event_key=f"k{minutes}",
                    kind="ONUSERADD",
                    payload={},
                    received_at=now - timedelta(minutes=minutes),
                    processed_at=now if processed else None,
                )
            )
        Outbox(uow.session).add("onec", "SubmitRequest", "onec:SubmitRequest:r0", {"request_id": "r0"})
    with UnitOfWork(store.sessions) as uow:
        [claimed] = uow.outbox.claim("onec", lease=timedelta(minutes=5))
        uow.outbox.dead_letter(claimed, "OneCFault")
        for n in (1, 2):
            uow.outbox.add("onec", "SubmitRequest", f"onec:SubmitRequest:r{n}", {"request_id": f"r{n}"})
        uow.outbox.add("bitrix24", "im.notify", "bitrix24:im.notify:r0:1", {})


async def test_metrics_count_requests_backlog_budget_and_jobs(
    settings: Settings, store: Store, portal: RunningSandbox
) -> None:
    _seed_store(store)
    budget = DbBudget(store.engine, "portal.example", rate=2.0, burst=50)
    for _ in range(10):
        await budget.acquire()
    app = create_app(settings, store)
    scheduler = JobScheduler(store.sessions, "test-holder", on_run=app.state.metrics.observe_job)

    async def works() -> dict[str, int]:
        return {"done": 1}

    async def breaks() -> dict[str, int]:
        raise RuntimeError("boom")

    scheduler.add_interval("works", 5, works)
    scheduler.add_interval("breaks", 5, breaks)
    assert (await scheduler.run_job("works")).outcome == "ok"
    assert (await scheduler.run_job("breaks")).outcome == "failed"

    with serve_in_thread(app) as url, httpx.Client(base_url=url) as http:
        assert http.get("/healthz").status_code == 200
        assert http.get("/healthz").status_code == 200
        assert http.get("/admin/processes/abc").status_code == 401
        assert http.get("/no/such/page").status_code == 404
        too_big = http.post("/bitrix24/events", content="x=" + "a" * 10_000, headers=FORM)
        assert too_big.status_code == 413
        scraped = http.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
    values = _samples(scraped.text)
    requests = "extranet_bridge_http_requests_total"
    assert _value(values, requests, route="/healthz", method="GET", status="200") == 2
    assert _value(values, requests, route="/admin/processes/{request_id}", method="GET", status="401") == 1
    assert _value(values, requests, route="unmatched", method="GET", status="404") == 1
    assert _value(values, requests, route="/bitrix24/events", method="POST", status="413") == 1
    assert _value(values, "extranet_bridge_http_request_duration_seconds_count", route="/healthz") == 2

    assert _value(values, "extranet_bridge_inbox_pending", source="bitrix24") == 2
    lag = _value(values, "extranet_bridge_inbox_lag_seconds", source="bitrix24")
    assert 30 * 60 <= lag < 31 * 60  # the oldest unprocessed message, not the processed older one
    outbox = "extranet_bridge_outbox_messages"
    assert _value(values, outbox, target="onec", status="pending") == 2
    assert _value(values, outbox, target="onec", status="failed") == 1
    assert _value(values, outbox, target="bitrix24", status="pending") == 1
    capacity = capacity_for(50)
    assert _value(values, "extranet_bridge_bitrix24_budget_capacity", portal="portal.example") == capacity
    remaining = _value(values, "extranet_bridge_bitrix24_budget_remaining", portal="portal.example")
    assert capacity - 10 <= remaining < capacity  # ten requests taken, a few drained since
    assert _value(values, "extranet_bridge_job_runs_total", job="works", outcome="ok") == 1
    assert _value(values, "extranet_bridge_job_runs_total", job="breaks", outcome="failed") == 1
    assert _value(values, "extranet_bridge_store_up") == 1


def test_metrics_answer_when_the_store_is_gone(tmp_path: Any) -> None:
    from store.db import make_engine, session_factory

    missing = tmp_path / "no-such-dir" / "state.db"
    engine = make_engine(f"sqlite:///{missing}")
    missing.parent.rmdir()  # make_engine created the folder: take it away so every read fails
    store = Store(engine, session_factory(engine))
    settings = bridge_settings(f"sqlite:///{missing}", None)
    with serve_in_thread(create_app(settings, store)) as url:
        scraped = httpx.get(url + "/metrics")
        ready = httpx.get(url + "/readyz")
    engine.dispose()
    assert scraped.status_code == 200
    assert _value(_samples(scraped.text), "extranet_bridge_store_up") == 0
    assert ready.status_code == 503 and ready.json()["checks"]["store"].startswith("unreachable (")
