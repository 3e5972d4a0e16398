"""JobScheduler on the test database: two instances sharing one database run each tick once; failures are
recorded and do not stop later ticks; APScheduler gets coalesce, max_instances and misfire grace.
Ticks are driven by calling ``run_job`` directly with a shared fake clock (no sleeping)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from config.wiring import Store
from connectors.errors import ConfigError, LeaseHeld
from connectors.messaging import MessagingUnavailable
from store import leases
from webhooks.scheduler import JobScheduler, default_holder


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class Counter:
    """A job that counts its runs and reports a count."""

    def __init__(self) -> None:
        self.runs = 0

    async def __call__(self) -> Mapping[str, int]:
        self.runs += 1
        return {"created": 2}


@pytest.fixture
def clock() -> Clock:
    return Clock()


def pair(store: Store, clock: Clock) -> tuple[JobScheduler, JobScheduler]:
    return JobScheduler(store.sessions, "instance-a", clock=clock), JobScheduler(
        store.sessions, "instance-b", clock=clock
    )


async def test_two_schedulers_run_each_tick_once(store: Store, clock: Clock) -> None:
    job = Counter()
    a, b = pair(store, clock)
    a.add_interval("incremental-sync", 5, job)
    b.add_interval("incremental-sync", 5, job)

    for tick in range(3):
        first, second = (a, b) if tick % 2 == 0 else (b, a)
        ran = await first.run_job("incremental-sync")
        skipped = await second.run_job("incremental-sync")
        assert (ran.outcome, skipped.outcome) == ("ok", "skipped")
        assert ran.counts == {"created": 2}
        assert skipped.holder == first.holder
        assert job.runs == tick + 1
        clock.advance(timedelta(minutes=5))

    assert a.status()["incremental-sync"].runs == 2
    assert a.status()["incremental-sync"].skips == 1
    assert b.status()["incremental-sync"].runs == 1


async def test_simultaneous_ticks_run_once(store: Store, clock: Clock) -> None:
    release = asyncio.Event()
    runs: list[str] = []

    def job_for(holder: str) -> Counter:
        class Slow(Counter):
            async def __call__(self) -> Mapping[str, int]:
                runs.append(holder)
                await release.wait()
                return {}

        return Slow()

    a, b = pair(store, clock)
    a.add_interval("reconcile", 60, job_for("a"))
    b.add_interval("reconcile", 60, job_for("b"))
    tick_a = asyncio.create_task(a.run_job("reconcile"))
    tick_b = asyncio.create_task(b.run_job("reconcile"))
    done, _ = await asyncio.wait({tick_a, tick_b}, return_when=asyncio.FIRST_COMPLETED)
    release.set()
    outcomes = sorted([(await tick_a).outcome, (await tick_b).outcome])
    assert outcomes == ["ok", "skipped"]
    assert len(runs) == 1
    assert next(iter(done)).result().outcome == "skipped"  # the loser returned while the winner still ran


async def test_a_late_tick_of_the_same_period_is_skipped(store: Store, clock: Clock) -> None:
    job = Counter()
    a, b = pair(store, clock)
    a.add_interval("sync", 5, job)
    b.add_interval("sync", 5, job)
    await a.run_job("sync")
    clock.advance(timedelta(seconds=40))  # b's clock or loop is a little behind: same tick
    assert (await b.run_job("sync")).outcome == "skipped"
    clock.advance(timedelta(minutes=5) - timedelta(seconds=40))
    assert (await b.run_job("sync")).outcome == "ok"
    assert job.runs == 2


async def test_failure_is_recorded_and_the_next_tick_runs(store: Store, clock: Clock) -> None:
    calls = 0

    async def flaky() -> Mapping[str, int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise MessagingUnavailable("SMS.ru is temporarily unavailable", channel="sms", code="smsru_220")
        if calls == 2:
            raise ValueError("user ivan@mail.ru broke it")
        return {"sent": 1}

    a, b = pair(store, clock)
    a.add_cron("invitations", "0 10 * * *", flaky)
    b.add_cron("invitations", "0 10 * * *", flaky)

    first = await a.run_job("invitations")
    assert (first.outcome, first.error_code) == ("failed", "smsru_220")
    assert first.error == "SMS.ru is temporarily unavailable"

    clock.advance(timedelta(days=1))
    second = await b.run_job("invitations")
    assert (second.outcome, second.error_code, second.error) == ("failed", "ValueError", "ValueError")

    clock.advance(timedelta(days=1))
    third = await a.run_job("invitations")
    assert third.outcome == "ok" and third.counts == {"sent": 1}
    status = a.status()["invitations"]
    assert (status.runs, status.failures, status.last) == (2, 1, third)
    assert status.schedule == "cron 0 10 * * *"


async def test_failed_run_releases_the_lease_after_the_cooldown(store: Store, clock: Clock) -> None:
    async def boom() -> None:
        raise RuntimeError("boom")

    a, b = pair(store, clock)
    a.add_interval("due-changes", 15, boom)
    b.add_interval("due-changes", 15, Counter())
    assert (await a.run_job("due-changes")).outcome == "failed"
    clock.advance(timedelta(minutes=6, seconds=1))  # cool-down: min(15/2, grace 5 + 1) minutes
    assert (await b.run_job("due-changes")).outcome == "ok"


async def test_a_crashed_holder_blocks_only_until_its_lease_expires(store: Store, clock: Clock) -> None:
    job = Counter()
    a = JobScheduler(store.sessions, "instance-a", clock=clock)
    a.add_interval("sync", 5, job, lease_ttl=timedelta(minutes=2))
    assert leases.acquire(store.sessions, "sync", "crashed-instance", timedelta(minutes=2), clock=clock)
    skipped = await a.run_job("sync")
    assert (skipped.outcome, skipped.holder) == ("skipped", "crashed-instance")
    clock.advance(timedelta(minutes=2))
    assert (await a.run_job("sync")).outcome == "ok"
    assert job.runs == 1


async def test_store_failure_is_recorded_not_raised(clock: Clock, tmp_path: object) -> None:
    from store.db import make_engine, session_factory

    engine = make_engine(f"sqlite:///{tmp_path}/no-tables.db")  # never migrated: no job_leases table
    try:
        scheduler = JobScheduler(session_factory(engine), "instance-a", clock=clock)
        job = Counter()
        scheduler.add_interval("sync", 5, job)
        run = await scheduler.run_job("sync")
    finally:
        engine.dispose()
    assert (run.outcome, run.error_code) == ("failed", "StoreError")
    assert job.runs == 0


async def test_apscheduler_jobs_are_configured_and_aligned(store: Store) -> None:
    scheduler = JobScheduler(store.sessions, "instance-a", misfire_grace_seconds=120)
    scheduler.add_interval("sync", 5, Counter())
    scheduler.add_cron("reconcile", "30 2 * * *", Counter())
    scheduler.start()
    try:
        for name in ("sync", "reconcile"):
            aps_job = scheduler.aps.get_job(name)
            assert aps_job is not None
            assert (aps_job.coalesce, aps_job.max_instances, aps_job.misfire_grace_time) == (True, 1, 120)
        status = scheduler.status()
        sync_next = status["sync"].next_run_at
        reconcile_next = status["reconcile"].next_run_at
        assert sync_next is not None and sync_next.minute % 5 == 0 and sync_next.second == 0
        assert reconcile_next is not None and (reconcile_next.hour, reconcile_next.minute) == (2, 30)
        assert status["sync"].last is None
    finally:
        await scheduler.shutdown()
    assert not scheduler.aps.running


def test_bad_definitions_are_config_errors(store: Store) -> None:
    scheduler = JobScheduler(store.sessions, "instance-a")
    scheduler.add_interval("sync", 5, Counter())
    with pytest.raises(ConfigError):
        scheduler.add_interval("sync", 10, Counter())
    with pytest.raises(ConfigError):
        scheduler.add_cron("reconcile", "61 2 * * *", Counter())
    with pytest.raises(ConfigError):
        scheduler.add_interval("never", 0, Counter())


async def test_apscheduler_fires_the_wrapped_job(store: Store) -> None:
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent

    executed = asyncio.Event()
    events: list[JobExecutionEvent] = []

    def listener(event: JobExecutionEvent) -> None:
        events.append(event)
        executed.set()

    job = Counter()
    scheduler = JobScheduler(store.sessions, default_holder())
    scheduler.add_interval("sync", 60, job)
    scheduler.aps.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.start()
    try:
        scheduler.aps.modify_job("sync", next_run_time=datetime.now(UTC))  # due now: no waiting an hour
        await asyncio.wait_for(executed.wait(), timeout=20)
    finally:
        await scheduler.shutdown()
    assert job.runs == 1
    assert [event.code for event in events] == [EVENT_JOB_EXECUTED]
    last = scheduler.status()["sync"].last
    assert last is not None and last.outcome == "ok" and last.counts == {"created": 2}
    assert leases.current(store.sessions, "sync") is not None  # kept for the cool-down after the run


async def test_a_sync_job_yields_to_a_running_sync_without_an_error(
    store: Store, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    async def sync_while_a_command_applies() -> None:
        raise LeaseHeld("another sync is running (host:1:abc); try again when it has finished")

    a = JobScheduler(store.sessions, "instance-a", clock=clock)
    a.add_interval("sync", 5, sync_while_a_command_applies)
    with caplog.at_level("INFO"):
        run = await a.run_job("sync")
    assert run.outcome == "skipped" and run.error and "another sync is running" in run.error
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL") or r.exc_info]
