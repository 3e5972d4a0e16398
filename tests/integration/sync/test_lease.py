"""Two syncs at once: one holds the sync lease and applies, the other refuses in one line; a dead
holder's run is resumed by the next sync, a live one's never (issue 8, item 2)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from core.clock import utcnow
from core.errors import LeaseHeld
from store import leases
from store.models import SyncRun
from sync import lease as sync_lease
from sync import run
from sync.run import SyncContext
from tests.integration.cli.test_cli import run_cli
from tests.integration.sync.conftest import TODAY, World
from tests.integration.sync.test_resume import Crash, CrashingPort


def _group_names(world: World) -> Counter[str]:
    return Counter(g["fields"]["NAME"] for g in world.b24.knobs.groups())


def _full_in_thread(world: World, barrier: threading.Barrier, results: list[Any]) -> None:
    async def body() -> Any:
        bridge = world.bridge()
        try:
            barrier.wait(timeout=30)
            return await run.full(bridge.sync_context(TODAY))
        finally:
            await bridge.close()

    try:
        results.append(asyncio.run(body()))
    except Exception as exc:
        results.append(exc)


def test_two_syncs_started_together_one_applies_the_other_refuses(world: World) -> None:
    barrier = threading.Barrier(2)
    results: list[Any] = []
    threads = [threading.Thread(target=_full_in_thread, args=(world, barrier, results)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    refused = [r for r in results if isinstance(r, LeaseHeld)]
    reports = [r for r in results if isinstance(r, run.RunReport)]
    assert len(refused) == 1 and len(reports) == 1, results
    assert "another sync is running" in refused[0].operator_message
    assert reports[0].applied is not None and reports[0].applied.failed == 0
    names = _group_names(world)
    assert names and max(names.values()) == 1  # no group created twice
    with world.store.sessions() as session:
        assert list(session.scalars(select(SyncRun.status))) == ["committed"]
    assert leases.current(world.store.sessions, sync_lease.NAME) is None  # released at the end


async def test_a_live_holder_makes_a_sync_process_refuse_in_one_line(world: World) -> None:
    env = {
        "EXTRANET_BRIDGE_DATABASE__URL": world.settings.database.url,
        "EXTRANET_BRIDGE_BITRIX24__WEBHOOK_URL": world.b24.webhook_url,
        "EXTRANET_BRIDGE_ONEC__ENDPOINT": world.onec.endpoint,
        "EXTRANET_BRIDGE_ONEC__USERNAME": world.onec.user,
        "EXTRANET_BRIDGE_ONEC__PASSWORD": world.onec.password,
        "COLUMNS": "200",
    }
    async with sync_lease.holding(world.store.sessions):  # this process is "applying"
        second = await asyncio.to_thread(run_cli, "sync", env=env)
    assert second.returncode == 1
    assert "another sync is running" in second.stderr and "Traceback" not in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    assert world.users() == [] or all(not u.get("XML_ID") for u in world.users())  # nothing applied


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


async def test_a_dead_holders_run_is_resumed_a_live_ones_is_not(world: World, ctx: SyncContext) -> None:
    real = ctx.b24
    ctx.b24 = CrashingPort(real, 3)
    with pytest.raises(Crash):
        await run.full(ctx)
    ctx.b24 = real
    sessions = world.store.sessions
    # The crashed process still held the lease: a live holder elsewhere, then a dead one on this host.
    alive_elsewhere = "another-host.invalid:4242:feedbeef"
    assert leases.acquire(sessions, sync_lease.NAME, alive_elsewhere, timedelta(minutes=10))
    with pytest.raises(LeaseHeld):
        await run.full(ctx)
    with sessions() as session:
        assert session.scalar(select(SyncRun.status)) in ("planned", "applying")  # not taken over

    leases.release(sessions, sync_lease.NAME, alive_elsewhere)
    dead_here = f"{socket.gethostname()[:80]}:{_dead_pid()}:deadbeef"
    assert leases.acquire(sessions, sync_lease.NAME, dead_here, timedelta(minutes=10))
    report = await run.full(ctx)
    assert report.resumed  # the dead holder's run was finished first
    names = _group_names(world)
    assert max(names.values()) == 1
    with sessions() as session:
        assert set(session.scalars(select(SyncRun.status))) == {"committed"}


async def test_an_expired_lease_is_taken(world: World, ctx: SyncContext) -> None:
    sessions = world.store.sessions
    gone = "another-host.invalid:4242:cafe"
    past = lambda: utcnow() - timedelta(hours=1)  # noqa: E731 - a clock an hour behind
    assert leases.acquire(sessions, sync_lease.NAME, gone, timedelta(minutes=5), clock=past)
    report = await run.full(ctx)
    assert report.run_id is not None and report.applied is not None


async def test_a_waiting_sync_says_so_then_refuses(world: World, ctx: SyncContext) -> None:
    said: list[str] = []
    ctx.lease_wait, ctx.on_lease_wait = 0.3, said.append
    outcome: list[BaseException] = []

    def second_process() -> None:  # a thread starts with a fresh context: it does not share our lease
        try:
            asyncio.run(run.due(ctx))
        except BaseException as exc:
            outcome.append(exc)

    async with sync_lease.holding(world.store.sessions):
        thread = threading.Thread(target=second_process)
        thread.start()
        await asyncio.to_thread(thread.join, 30)
    assert len(outcome) == 1 and isinstance(outcome[0], LeaseHeld)
    assert len(said) == 1 and "waiting up to" in said[0]


async def test_a_lost_lease_stops_the_writes(world: World, ctx: SyncContext) -> None:
    async with sync_lease.holding(world.store.sessions) as held:
        held.lost.set()
        with pytest.raises(sync_lease.LeaseLost):
            await run.full(ctx)
        held.lost.clear()


async def test_the_lease_is_renewed_while_held(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync_lease, "RENEW_EVERY", 0.05)
    async with sync_lease.holding(store.sessions) as held:
        first = leases.current(store.sessions, sync_lease.NAME)
        await asyncio.sleep(0.5)
        later = leases.current(store.sessions, sync_lease.NAME)
        assert first is not None and later is not None and later.holder == held.holder
        assert later.expires_at > first.expires_at and not held.lost.is_set()
    assert leases.current(store.sessions, sync_lease.NAME) is None


async def test_a_lease_taken_over_is_noticed(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync_lease, "RENEW_EVERY", 0.05)
    async with sync_lease.holding(store.sessions) as held:
        assert leases.take_over(
            store.sessions, sync_lease.NAME, held.holder, "other:1:x", timedelta(minutes=1)
        )
        for _ in range(100):
            if held.lost.is_set():
                break
            await asyncio.sleep(0.02)
        assert held.lost.is_set()
        with pytest.raises(sync_lease.LeaseLost):
            held.check()
    assert leases.current(store.sessions, sync_lease.NAME) is not None  # the new holder keeps it
