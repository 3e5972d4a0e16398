"""Duplicates and disorder: Bitrix24's own event deliveries replayed to the bridge's HTTP service with a
third of them duplicated and the order shuffled; each event must take effect exactly once.

Only the service's HTTP interface and its state store are used (not its code), so the proof holds
whatever the handler does inside. The events are real: the app is installed through the sandbox (which
POSTs ONAPPINSTALL to the service), ONUSERADD is bound to a capture handler, users are added, and the
bodies the portal sent are what the service receives — form-encoded, with the app's auth block.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from cli.reliability_harness import ROOT, Endpoints, _stop, _wait_up, bridge_config, write_config
from sandbox.bitrix24.testing import Captured, capture_server
from sandbox.server import free_port
from store.db import make_engine, session_factory, upgrade
from store.models import InboxMessage

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def service_config(endpoints: Endpoints, db_url: str, port: int, **extra: Any) -> dict[str, Any]:
    """Settings of a service process: the OAuth application of the sandbox portal, on ``port``."""
    return bridge_config(
        endpoints,
        db_url,
        rate=50,
        burst=250,
        server={"host": "127.0.0.1", "port": port, "admin_token": "reliability-admin-token"},
        bitrix24={
            "portal_url": endpoints.b24_base,
            "app": {
                "client_id": endpoints.client_id,
                "client_secret": endpoints.client_secret,
                "handler_url": f"http://127.0.0.1:{port}/bitrix24/install",
                "oauth_server": endpoints.b24_base,
            },
        },
        **extra,
    )


@contextmanager
def service(
    config: Path, *, jobs: bool = False, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`extranet-bridge serve` as a subprocess (its JSON log lines to ``log``); waits for /health."""
    import yaml

    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    base = f"http://127.0.0.1:{settings['server']['port']}"
    args = [sys.executable, "-m", "cli.main", "serve", "--config", str(config)]
    with open(log or os.devnull, "wb") as sink:
        process = subprocess.Popen(
            args if jobs else [*args, "--no-jobs"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            _wait_up(f"{base}/health", process, seconds=120)
            yield process
        finally:
            _stop(process)


def install(endpoints: Endpoints, service_base: str) -> dict[str, Any]:
    """Install the app through the portal: it POSTs ONAPPINSTALL to the service's install handler."""
    answer = httpx.post(
        f"{endpoints.b24_base}/_sandbox/app/install",
        json={"handler_url": f"{service_base}/bitrix24/install"},
        timeout=60,
    )
    answer.raise_for_status()
    result: dict[str, Any] = answer.json()
    return result


def real_events(endpoints: Endpoints, access_token: str, count: int, capture_url: str) -> None:
    """Bind ONUSERADD to the capture handler; ``count`` invitees accept and log in, so the portal
    delivers one ONUSERADD each (it fires on acceptance, not on the invitation — on-user-add.md)."""
    bound = httpx.post(
        f"{endpoints.b24_base}/rest/event.bind",
        data={"auth": access_token, "event": "ONUSERADD", "handler": f"{capture_url}/events"},
        timeout=60,
    )
    bound.raise_for_status()
    stamp = int(time.time())
    with httpx.Client(base_url=endpoints.b24_base, timeout=60) as knobs:
        for i in range(count):
            fields = {"EMAIL": f"dd{stamp}.{i}@deliveries.test", "NAME": "Delivery", "LAST_NAME": str(i)}
            added = knobs.post("/_sandbox/users", json={"fields": fields, "registered": False})
            added.raise_for_status()
            knobs.post(f"/_sandbox/users/{added.json()['id']}/accept", json={}).raise_for_status()


async def _replay(service_base: str, bodies: list[str], concurrency: int) -> Counter[int]:
    statuses: Counter[int] = Counter()
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=service_base, timeout=60) as client:

        async def deliver(body: str) -> None:
            async with gate:
                answer = await client.post("/bitrix24/events", content=body, headers=FORM)
                statuses[answer.status_code] += 1

        await asyncio.gather(*(deliver(b) for b in bodies))
    return statuses


def _dispatched(db_url: str, *, within_seconds: float = 60.0) -> None:
    """The service hands stored events to their handlers after it answered (webhooks/events.py): wait
    until none is pending before counting what took effect."""
    from store import inbox

    engine = make_engine(db_url)
    try:
        sessions = session_factory(engine)
        deadline = time.monotonic() + within_seconds
        while inbox.pending(sessions, "bitrix24") and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        engine.dispose()


def inbox_effects(db_url: str) -> dict[str, int]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.scalar(select(func.count()).select_from(InboxMessage)) or 0
            processed = (
                conn.scalar(
                    select(func.count())
                    .select_from(InboxMessage)
                    .where(InboxMessage.processed_at.is_not(None))
                )
                or 0
            )
            keys = conn.scalar(select(func.count(func.distinct(InboxMessage.event_key)))) or 0
    finally:
        engine.dispose()
    return {"inbox_rows": int(rows), "inbox_processed": int(processed), "distinct_keys": int(keys)}


def disorder_proof(
    endpoints: Endpoints, db_url: str, workdir: Path, *, deliveries: int, seed: int, concurrency: int = 8
) -> dict[str, Any]:
    """Deliveries = distinct events + a third duplicated, shuffled, sent ``concurrency`` at a time."""
    rng = random.Random(seed)
    distinct = deliveries - deliveries // 3
    engine = make_engine(db_url)
    upgrade(engine)
    engine.dispose()
    port = free_port()
    config = write_config(workdir / "service.yaml", service_config(endpoints, db_url, port))
    base = f"http://127.0.0.1:{port}"
    captured: list[Captured]
    with service(config), capture_server() as (capture_url, captured):
        installed = install(endpoints, base)
        delivery = installed.get("delivery") or {}
        if delivery.get("status") != 200:
            raise RuntimeError(f"the service refused the portal's install: {delivery}")
        real_events(endpoints, installed["auth"]["access_token"], distinct, capture_url)
        before = inbox_effects(db_url)
        bodies = [c.raw for c in captured if c.form.get("event") == "ONUSERADD"]
        sent = bodies + rng.sample(bodies, min(len(bodies), deliveries - len(bodies)))
        rng.shuffle(sent)
        started = time.monotonic()
        statuses = asyncio.run(_replay(base, sent, concurrency))
        seconds = time.monotonic() - started
        _dispatched(db_url)
        after = inbox_effects(db_url)
    effects = {k: after[k] - before[k] for k in after}
    return {
        "deliveries": len(sent),
        "distinct_events": len(bodies),
        "duplicates": len(sent) - len(bodies),
        "statuses": dict(statuses),
        "effects": effects,
        "effects_per_event": round(effects["inbox_processed"] / len(bodies), 4) if bodies else None,
        "replay_seconds": round(seconds, 2),
    }
