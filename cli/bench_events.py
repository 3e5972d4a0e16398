"""`extranet-bridge bench events`: how fast the service takes REST-activity call-outs, against a bare
FastAPI endpoint in the same run, and (``--kill-restart``) that none answered 200 is lost to a SIGKILL.

The service is the real command (``extranet-bridge serve --no-jobs``: the jobs would dispatch what
arrives and compete for the store; here the endpoint alone is measured) on a fresh store with an
installed application; the bare endpoint is ``POST /bitrix24/activity`` answering 200 without reading
the body, under uvicorn with its defaults. This process, a second one, fires the same call-outs at each
over loopback (aiohttp, ``--concurrency`` at once, at most ``--count`` and ``--seconds``), each with its
own ``event_token`` so that each is a new durable inbox write, and prints one JSON document: accepted/s,
p50/p99 latency for both, and their ratio (target ≥ 0.5).

``--kill-restart``: halfway through, the service is killed with SIGKILL and started again; call-outs that
got no answer are sent again (a redelivery), and at the end every event_token answered 200 must be in the
inbox exactly once: ``lost`` and ``duplicates`` must be 0.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

PATH = "/bitrix24/activity"
APP_TOKEN = "bench-application-token"
WORKFLOW = "67a2ffdb2c57a3.35276854"
TARGET_RATIO = 0.5
ROUNDS = 4
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ROOT = Path(__file__).resolve().parents[1]

Count = Annotated[int, typer.Option(min=10, max=1_000_000, help="Call-outs fired at each endpoint.")]
Concurrency = Annotated[int, typer.Option(min=1, max=512, help="Call-outs in flight at once.")]
Seconds = Annotated[float, typer.Option(min=1, max=3600, help="Stop firing at an endpoint after this long.")]
KillRestart = Annotated[
    bool,
    typer.Option("--kill-restart", help="SIGKILL the service halfway, restart it, count lost ones."),
]
DatabaseUrl = Annotated[
    str | None, typer.Option(help="State store URL (default: a fresh SQLite file in a temporary folder).")
]


def callout(event_token: str) -> str:
    """A call-out as Bitrix24 posts it (bitrix24-rest.md §5.12), signed with the installed token."""
    from urllib.parse import urlencode

    return urlencode(
        {
            "workflow_id": WORKFLOW,
            "code": "eb_resolve_approvers",
            "document_id[0]": "lists",
            "document_id[1]": "BizprocDocument",
            "document_id[2]": "6999",
            "document_type[0]": "lists",
            "document_type[1]": "BizprocDocument",
            "document_type[2]": "iblock_171",
            "event_token": event_token,
            "properties[RequestKind]": "leave",
            "use_subscription": "Y",
            "timeout_duration": "0",
            "ts": str(int(time.time())),
            "auth[access_token]": "s6p6eclrvim6da22ft9ch94ekreb52lv",
            "auth[expires_in]": "3600",
            "auth[scope]": "bizproc,lists,user",
            "auth[domain]": "127.0.0.1",
            "auth[member_id]": "bench-member",
            "auth[user_id]": "1",
            "auth[application_token]": APP_TOKEN,
        }
    )


def event_token(run: str, n: int) -> str:
    """``<workflow>|<activity>|<32-char id>.<signature>`` (§5.12): unique per call-out, and the same
    again for the same run and number (so a resend is a redelivery and the check can recompute it)."""
    import hashlib

    signature = hashlib.sha256(f"{run}:{n}".encode()).hexdigest()
    return f"{WORKFLOW}|A_bench|{n:032d}.{signature}"


def bare_app() -> Any:
    """The yardstick: FastAPI answering the same path with 200, reading nothing."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.post(PATH)
    async def accepted() -> dict[str, bool]:
        return {"received": True}

    return app


# ---- the processes ----------------------------------------------------------------------------------------


def _free_port() -> int:
    from sandbox.server import free_port

    return free_port()


def _wait_up(url: str, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the process serving {url} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("EXTRANET_BRIDGE_")}


@dataclass
class Service:
    """`extranet-bridge serve --no-jobs` on a prepared store, restartable."""

    config: Path
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        """Start and wait until /healthz answers; returns the seconds it took."""
        began = time.monotonic()
        command = [sys.executable, "-m", "cli.main", "serve", "-c", str(self.config), "--no-jobs"]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        with open(self.log, "ab") as sink:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=sink
            )
        self.starts += 1
        _wait_up(self.base + "/healthz", self.process)
        return time.monotonic() - began

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)


def _prepare(folder: Path, database_url: str | None) -> tuple[Path, str]:
    """A configuration and a migrated store with the application installed (its token saved)."""
    import yaml

    from config.wiring import Store
    from connectors.bitrix24.auth import StoreVault, TokenPair
    from store.db import make_engine, session_factory, upgrade

    url = database_url or f"sqlite:///{folder / 'state.db'}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        store = Store(engine, session_factory(engine))
        pair = TokenPair("bench-access", "bench-refresh", "bench-member", "127.0.0.1", None, None, APP_TOKEN)
        StoreVault(store.sessions).save(pair)
    finally:
        engine.dispose()
    config = {
        "database": {"url": url},
        "bitrix24": {
            "portal_url": "http://127.0.0.1:9/",
            "app": {"client_id": "local.bench", "client_secret": "bench-secret"},
        },
        "server": {"admin_token": "bench-admin-token"},
        "logging": {"level": "INFO", "format": "json"},
    }
    path = folder / "bridge.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path, url


# ---- the load ----------------------------------------------------------------------------------------------


@dataclass
class Fired:
    """What one endpoint answered."""

    latencies: list[float] = field(default_factory=list)
    """Seconds, per call-out answered 200."""
    statuses: Counter[str] = field(default_factory=Counter)
    answered: set[int] = field(default_factory=set)
    """Call-outs answered 200."""
    duplicates: int = 0
    """Answered 200 as a call-out received before (a resend after the kill)."""
    seconds: float = 0.0

    def figures(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        accepted = len(self.answered)
        return {
            "accepted": accepted,
            "answers": dict(self.statuses),
            "seconds": round(self.seconds, 2),
            "accepted_per_s": round(accepted / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(statistics.median(ordered) * 1000, 2) if ordered else None,
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2)
            if ordered
            else None,
        }


async def fire(
    base: str,
    run: str,
    count: int,
    concurrency: int,
    seconds: float,
    *,
    first: int = 0,
    retry_until_answered: bool = False,
    fired: Fired | None = None,
) -> Fired:
    """``count`` call-outs, ``concurrency`` at a time, none started after ``seconds``. With
    ``retry_until_answered`` a call-out whose connection failed is sent again (a redelivery)."""
    import aiohttp

    fired = fired or Fired()
    pending = iter(range(first, first + count))
    began = time.monotonic()
    deadline = began + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def one(n: int) -> None:
            body = callout(event_token(run, n))
            while time.monotonic() < deadline:
                sent = time.perf_counter()
                try:
                    async with http.post(base + PATH, data=body, headers=FORM) as response:
                        answer = await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    fired.statuses[type(exc).__name__] += 1
                    if not retry_until_answered:
                        return
                    await asyncio.sleep(0.05)
                    continue
                fired.statuses[str(status)] += 1
                if status == 200:
                    fired.latencies.append(time.perf_counter() - sent)
                    fired.answered.add(n)
                    fired.duplicates += b'"duplicate":true' in answer
                return

        async def worker() -> None:
            for n in pending:
                if time.monotonic() >= deadline:
                    return
                await one(n)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    fired.seconds += time.monotonic() - began
    return fired


# ---- the checks --------------------------------------------------------------------------------------------


def inbox_keys(url: str) -> Counter[str]:
    """The activity call-outs stored: inbox key → rows (more than 1 would be a duplicate)."""
    from sqlalchemy import select

    from store.db import make_engine
    from store.models import InboxMessage
    from webhooks.handlers import ACTIVITY_SOURCE

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            query = select(InboxMessage.event_key).where(InboxMessage.source == ACTIVITY_SOURCE)
            return Counter(connection.scalars(query))
    finally:
        engine.dispose()


def stored_once(url: str, run: str, answered: set[int]) -> dict[str, int]:
    """Of the call-outs answered 200: how many are in the inbox, missing (lost) or stored twice."""
    from store.inbox import message_key

    rows = inbox_keys(url)
    keys = {n: message_key({"event_token": event_token(run, n)}) for n in answered}
    return {
        "in_inbox": sum(1 for key in keys.values() if rows[key] >= 1),
        "lost": sum(1 for key in keys.values() if rows[key] == 0),
        "duplicates": sum(rows[key] - 1 for key in keys.values() if rows[key] > 1),
    }


# ---- the command -------------------------------------------------------------------------------------------


def _throughput(
    folder: Path, count: int, concurrency: int, seconds: float, url: str | None
) -> dict[str, Any]:
    config, db_url = _prepare(folder, url)
    service = Service(config, _free_port(), folder / "service.log")
    bare_port = _free_port()
    bare_base = f"http://127.0.0.1:{bare_port}"
    bare = subprocess.Popen(
        [sys.executable, "-c", "import sys, uvicorn, cli.bench_events as b; "
         "uvicorn.run(b.bare_app(), host='127.0.0.1', port=int(sys.argv[1]))", str(bare_port)],
        cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    run = secrets.token_hex(4)
    on_bare, on_service = Fired(), Fired()
    try:
        service.start()
        _wait_up(bare_base + "/docs", bare)
        warm = max(10, count // 20)  # connections, imports and caches warmed on both before measuring
        asyncio.run(fire(bare_base, "warm-" + run, warm, concurrency, seconds))
        asyncio.run(fire(service.base, "warm-" + run, warm, concurrency, seconds))
        # Rounds alternate the two endpoints (and which goes first), so a load that comes and goes on the
        # machine weighs on both alike.
        share = -(-count // ROUNDS)  # the last round takes what is left
        for round_ in range(ROUNDS):
            targets = [(bare_base, on_bare), (service.base, on_service)]
            for base, fired in targets if round_ % 2 == 0 else targets[::-1]:
                budget = seconds / ROUNDS
                first = round_ * share
                size = max(0, min(share, count - first))
                asyncio.run(fire(base, run, size, concurrency, budget, first=first, fired=fired))
    finally:
        service.stop()
        _stop(bare)
    service_figures, bare_figures = on_service.figures(), on_bare.figures()
    rate, yardstick = service_figures["accepted_per_s"], bare_figures["accepted_per_s"]
    return {
        "service": {**service_figures, **stored_once(db_url, run, on_service.answered)},
        "bare": bare_figures,
        "ratio": round(rate / yardstick, 2) if yardstick else 0.0,
        "target_ratio": TARGET_RATIO,
    }


def _kill_restart(
    folder: Path, count: int, concurrency: int, seconds: float, url: str | None
) -> dict[str, Any]:
    config, db_url = _prepare(folder, url)
    service = Service(config, _free_port(), folder / "service.log")
    run = secrets.token_hex(4)
    fired = Fired()
    killed: dict[str, Any] = {}

    async def kill_halfway() -> None:
        while len(fired.answered) < count // 2:
            await asyncio.sleep(0.005)
        service.kill()
        killed["after_answers"] = len(fired.answered)
        killed["restart_seconds"] = round(await asyncio.to_thread(service.start), 2)

    async def campaign() -> None:
        killer = asyncio.create_task(kill_halfway())
        await fire(service.base, run, count, concurrency, seconds, retry_until_answered=True, fired=fired)
        if not killer.done():  # the run ended before half was answered (bounded by --seconds)
            killer.cancel()

    service.start()
    try:
        asyncio.run(campaign())
    finally:
        service.stop()
    return {
        "answered_200": len(fired.answered),
        "answered_as_duplicate": fired.duplicates,
        "answers": dict(fired.statuses),
        "killed_after_answers": killed.get("after_answers"),
        "restart_seconds": killed.get("restart_seconds"),
        **stored_once(db_url, run, fired.answered),
    }


def bench_events(
    count: Count = 2000,
    concurrency: Concurrency = 32,
    seconds: Seconds = 120,
    kill_restart: KillRestart = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Call-outs accepted per second by the service (durable inbox writes) against a bare FastAPI
    endpoint, p50/p99 latency; with --kill-restart, call-outs lost to a SIGKILL (must be 0). JSON."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-events-") as scratch:
        folder = Path(scratch)
        if kill_restart:
            figures = _kill_restart(folder, count, concurrency, seconds, database_url)
        else:
            figures = _throughput(folder, count, concurrency, seconds, database_url)
    store = "postgresql" if database_url and database_url.startswith("postgres") else "sqlite"
    document = {
        "bench": "events-kill-restart" if kill_restart else "events",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "count": count,
        "concurrency": concurrency,
        "store": store,
        "path": PATH,
        "cpus": os.cpu_count(),
        "wall_seconds": round(time.monotonic() - started, 1),
        **figures,
    }
    typer.echo(json.dumps(document, ensure_ascii=False))


def register(group: typer.Typer) -> None:
    group.command("events")(bench_events)
