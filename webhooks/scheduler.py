"""The service's scheduled jobs: APScheduler 3.11 ``AsyncIOScheduler`` with schedules defined in code,
each run guarded by a database lease so that several instances on one database run every tick once.

APScheduler 3.x cannot share a job store between processes (libraries-and-peers.md §6), so jobs live in
a MemoryJobStore in every instance and the ``job_leases`` row named after the job decides who runs:

- a run first takes the lease (ttl ``lease_ttl``, renewed by a heartbeat every ttl/3 while it runs);
  if another instance holds it, the run is *skipped*;
- when the run ends the lease is kept for a short cool-down (half the gap between ticks, at most the
  misfire grace + 1 minute) so an instance whose tick fires a little later does not run the same tick
  again; interval triggers start from a fixed epoch so every instance ticks at the same instants;
- every outcome (ok / skipped / failed, with the job's counts or the error code) is logged and kept as
  the job's last run, readable through ``status()``; an exception never reaches APScheduler.

A job whose system is not configured yet (``NotConfigured``, webhooks/unconfigured.py) is *skipped* with
one info line. ``on_run`` hears of every recorded run (the ``/metrics`` job counters).

``run_job(name)`` is the function APScheduler calls; tests call it directly to drive a tick. Jobs are
``coro_factory()`` callables returning an optional mapping of counts (``{"created": 3}``).
This module owns scheduling only: what the jobs do lives in sync/ and processes/.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session, sessionmaker

from config.logging import redact_text
from connectors.errors import BridgeError, ConfigError, LeaseHeld
from store import leases
from store.db import utcnow
from webhooks.unconfigured import NotConfigured

log = logging.getLogger(__name__)

TJobOutcome = Literal["ok", "skipped", "failed"]
JobFactory = Callable[[], Awaitable[Mapping[str, int] | None]]
Clock = Callable[[], datetime]

INTERVAL_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
"""Interval triggers count from here, so every instance ticks at the same instants."""
DEFAULT_LEASE_TTL = timedelta(minutes=10)


def default_holder() -> str:
    """A lease holder name unique to this process: host, pid and a random suffix."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class JobRun:
    """One run of a job as this instance saw it."""

    name: str
    outcome: TJobOutcome
    started_at: datetime
    finished_at: datetime
    counts: Mapping[str, int] = field(default_factory=dict)
    error_code: str | None = None
    error: str | None = None
    """Operator message of the error, redacted."""
    holder: str | None = None
    """For a skipped run: who held the lease, if known."""


@dataclass(frozen=True)
class JobStatus:
    name: str
    schedule: str
    next_run_at: datetime | None
    last: JobRun | None
    runs: int
    failures: int
    skips: int


@dataclass
class _Job:
    name: str
    schedule: str
    trigger: BaseTrigger
    factory: JobFactory
    lease_ttl: timedelta
    cooldown: timedelta
    last: JobRun | None = None
    runs: int = 0
    failures: int = 0
    skips: int = 0


class JobScheduler:
    """Named jobs on an AsyncIOScheduler, each run under the database lease of the same name."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        holder: str,
        *,
        clock: Clock = utcnow,
        timezone: str | tzinfo = "UTC",
        misfire_grace_seconds: int = 300,
        on_run: Callable[[JobRun], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._on_run = on_run
        self.holder = holder
        self._clock = clock
        self._tz: tzinfo = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
        self._misfire_grace = timedelta(seconds=misfire_grace_seconds)
        self._jobs: dict[str, _Job] = {}
        self._running: set[str] = set()
        self.aps = AsyncIOScheduler(
            jobstores={"default": MemoryJobStore()},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": misfire_grace_seconds,
            },
            timezone=self._tz,
        )

    # --- defining jobs ---------------------------------------------------------------------------

    def add_interval(
        self, name: str, minutes: float, coro_factory: JobFactory, *, lease_ttl: timedelta | None = None
    ) -> None:
        """Run ``coro_factory()`` every ``minutes``, aligned across instances."""
        if minutes <= 0:
            raise ConfigError(f"job {name}: the interval must be positive")
        trigger = IntervalTrigger(minutes=minutes, start_date=INTERVAL_EPOCH, timezone=self._tz)
        self._add(
            name, f"every {minutes:g} min", trigger, coro_factory, timedelta(minutes=minutes), lease_ttl
        )

    def add_cron(
        self, name: str, crontab: str, coro_factory: JobFactory, *, lease_ttl: timedelta | None = None
    ) -> None:
        """Run ``coro_factory()`` on a five-field crontab (``30 2 * * *``) in the scheduler's time zone."""
        try:
            trigger = CronTrigger.from_crontab(crontab, timezone=self._tz)
        except ValueError as exc:
            raise ConfigError(f"job {name}: invalid crontab {crontab!r}", internal=str(exc)) from exc
        self._add(
            name, f"cron {crontab}", trigger, coro_factory, _smallest_gap(trigger, self._clock()), lease_ttl
        )

    def _add(
        self,
        name: str,
        schedule: str,
        trigger: BaseTrigger,
        factory: JobFactory,
        gap: timedelta,
        lease_ttl: timedelta | None,
    ) -> None:
        if name in self._jobs:
            raise ConfigError(f"job {name} is defined twice")
        cooldown = min(gap / 2, self._misfire_grace + timedelta(minutes=1))
        self._jobs[name] = _Job(name, schedule, trigger, factory, lease_ttl or DEFAULT_LEASE_TTL, cooldown)
        self.aps.add_job(self.run_job, trigger, args=[name], id=name, name=name, replace_existing=True)

    # --- running ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Start ticking (needs a running event loop)."""
        self.aps.start()

    async def shutdown(self) -> None:
        """Stop ticking; runs in progress finish on their own (their leases are released as usual)."""
        if self.aps.running:
            self.aps.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler performs the shutdown on the loop's next turn

    async def run_job(self, name: str) -> JobRun:
        """One tick of ``name``: take the lease or skip, run, record the outcome; never raises Exception."""
        job = self._jobs[name]
        started_at = self._clock()
        if name in self._running:  # a direct call while APScheduler's run is still going
            log.info("job.skipped", extra={"job": name, "reason": "running_here"})
            return self._record(job, JobRun(name, "skipped", started_at, started_at, holder=self.holder))
        self._running.add(name)
        try:
            return await self._tick(job, started_at)
        finally:
            self._running.discard(name)

    async def _tick(self, job: _Job, started_at: datetime) -> JobRun:
        name = job.name
        try:
            held = await asyncio.to_thread(
                leases.acquire, self._sessions, name, self.holder, job.lease_ttl, clock=self._clock
            )
        except Exception as exc:  # the store is down: record it, the next tick tries again
            return self._record(job, self._failed(job, started_at, exc))
        if not held:
            holder = await self._current_holder(name)
            log.info("job.skipped", extra={"job": name, "reason": "lease_held"})
            run = JobRun(name, "skipped", started_at, self._clock(), holder=holder)
            return self._record(job, run)
        return self._record(job, await self._run_held(job, started_at))

    async def _run_held(self, job: _Job, started_at: datetime) -> JobRun:
        log.info("job.start", extra={"job": job.name, "holder": self.holder})
        began = time.monotonic()
        heartbeat = asyncio.create_task(self._heartbeat(job), name=f"lease-{job.name}")
        try:
            counts = await job.factory()
        except LeaseHeld as exc:  # a `sync` command or another instance is applying: this tick yields to it
            log.info("job.skipped", extra={"job": job.name, "reason": "sync_running"})
            message = redact_text(exc.operator_message)
            run = JobRun(job.name, "skipped", started_at, self._clock(), error=message)
        except NotConfigured as exc:  # serve started before Bitrix24 or 1C was set up: not a failure
            message = redact_text(exc.operator_message)
            log.info("job.skipped", extra={"job": job.name, "reason": "not_configured", "detail": message})
            run = JobRun(job.name, "skipped", started_at, self._clock(), error=message)
        except Exception as exc:
            run = self._failed(job, started_at, exc)
        else:
            counts_ = dict(counts or {})
            run = JobRun(job.name, "ok", started_at, self._clock(), counts=counts_)
            log.info(
                "job.end",
                extra={
                    "job": job.name,
                    "outcome": "ok",
                    "seconds": round(time.monotonic() - began, 1),
                    "counts": counts_,
                },
            )
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            await self._release(job, started_at)
        return run

    def _failed(self, job: _Job, started_at: datetime, exc: Exception) -> JobRun:
        code = str(getattr(exc, "code", "") or type(exc).__name__)
        message = exc.operator_message if isinstance(exc, BridgeError) else type(exc).__name__
        log.error("job.end", extra={"job": job.name, "outcome": "failed", "error_code": code}, exc_info=exc)
        return JobRun(
            job.name, "failed", started_at, self._clock(), error_code=code, error=redact_text(message)
        )

    async def _heartbeat(self, job: _Job) -> None:
        period = job.lease_ttl.total_seconds() / 3
        while True:
            await asyncio.sleep(period)
            try:
                kept = await asyncio.to_thread(
                    leases.renew, self._sessions, job.name, self.holder, job.lease_ttl, clock=self._clock
                )
            except Exception as exc:
                log.warning(
                    "job.lease.renewal_failed",
                    extra={"job": job.name, "error_code": type(exc).__name__},
                )
                continue
            if not kept:
                log.warning("job.lease.lost", extra={"job": job.name})
                return

    async def _release(self, job: _Job, started_at: datetime) -> None:
        hold_until = started_at + job.cooldown
        keep = hold_until if hold_until > self._clock() else None
        try:
            await asyncio.to_thread(leases.release, self._sessions, job.name, self.holder, hold_until=keep)
        except Exception as exc:  # it will expire on its own
            log.warning("job.lease.release_failed", extra={"job": job.name, "error_code": type(exc).__name__})

    async def _current_holder(self, name: str) -> str | None:
        try:
            info = await asyncio.to_thread(leases.current, self._sessions, name)
        except Exception:
            return None
        return info.holder if info else None

    def _record(self, job: _Job, run: JobRun) -> JobRun:
        job.last = run
        job.runs += run.outcome != "skipped"
        job.failures += run.outcome == "failed"
        job.skips += run.outcome == "skipped"
        if self._on_run is not None:
            try:
                self._on_run(run)
            except Exception as exc:  # a metrics hook never breaks the scheduler
                log.warning("job.observer_failed", extra={"job": job.name, "error_code": type(exc).__name__})
        return run

    # --- reading ---------------------------------------------------------------------------------

    def status(self) -> dict[str, JobStatus]:
        """Per job: schedule, next planned run (once started), last run and counters."""
        result: dict[str, JobStatus] = {}
        for name, job in self._jobs.items():
            aps_job = self.aps.get_job(name)
            next_run = getattr(aps_job, "next_run_time", None) if aps_job is not None else None
            result[name] = JobStatus(
                name, job.schedule, next_run, job.last, job.runs, job.failures, job.skips
            )
        return result


def _smallest_gap(trigger: BaseTrigger, now: datetime, samples: int = 6) -> timedelta:
    """The shortest time between consecutive fire times of ``trigger`` over the next few ticks."""
    fire = trigger.get_next_fire_time(None, now)
    gaps: list[timedelta] = []
    for _ in range(samples):
        if fire is None:
            break
        following = trigger.get_next_fire_time(fire, fire)
        if following is None:
            break
        gaps.append(following - fire)
        fire = following
    return min(gaps) if gaps else timedelta(days=1)
