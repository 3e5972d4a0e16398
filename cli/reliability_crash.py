"""Crash and resume: a real `sync` process SIGKILLed at random points of extract, apply and commit,
restarted until the work is done. Where each kill landed is read from the process's log and the store.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import func, select

from cli.reliability_harness import SyncProcess
from config.logging import redact_text
from store.db import make_engine, upgrade
from store.models import PlanItem, SyncRun

PHASES = ("extract", "apply", "commit")
EXTRACT_ENTITIES = ("Organization", "Department", "Position", "Person")
"""A kill "in extract" lands just after 1C answered one of these (the employments are read last)."""


@dataclass(frozen=True)
class Progress:
    run_id: int | None
    status: str | None
    settled: int
    total: int
    unfinished: bool


class Observer:
    """Reads a bridge's state store from outside, as the `status` command would."""

    def __init__(self, db_url: str) -> None:
        self.engine = make_engine(db_url)
        upgrade(self.engine)  # as every command does first; the tables exist before the first poll

    def progress(self) -> Progress:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(SyncRun.id, SyncRun.status).order_by(SyncRun.id.desc()).limit(1)
            ).first()
            if row is None:
                return Progress(None, None, 0, 0, False)
            counts = dict(
                conn.execute(
                    select(PlanItem.state, func.count())
                    .where(PlanItem.run_id == row[0])
                    .group_by(PlanItem.state)
                ).all()
            )
            unfinished = conn.scalar(
                select(func.count()).select_from(SyncRun).where(SyncRun.status.in_(("planned", "applying")))
            )
        total = sum(int(v) for v in counts.values())
        settled = total - int(counts.get("pending", 0)) - int(counts.get("started", 0))
        return Progress(int(row[0]), str(row[1]), settled, total, bool(unfinished))

    def runs(self) -> Counter[str]:
        with self.engine.connect() as conn:
            return Counter(str(s) for (s,) in conn.execute(select(SyncRun.status)))

    def close(self) -> None:
        self.engine.dispose()


@dataclass
class Kill:
    target: str
    landed: str
    detail: str
    seconds: float


@dataclass
class Campaign:
    kills: list[Kill] = field(default_factory=list)
    attempts: int = 0
    completed_runs: int = 0
    churns: int = 0
    failures: list[str] = field(default_factory=list)
    """Attempts that ended by themselves with a non-zero exit (with the last log line)."""


def _landed(before: Progress, now: Progress, process: SyncProcess) -> tuple[str, str]:
    """Where a kill landed, from what the store and the process's log showed at that moment."""
    if now.run_id != before.run_id or (now.run_id is not None and not before.unfinished and now.unfinished):
        if now.total and now.settled >= now.total:
            return "commit", f"run {now.run_id} applied, not yet committed"
        if now.settled == 0:
            return "commit", f"run {now.run_id} planned and stored, nothing applied"
        return "apply", f"run {now.run_id}: {now.settled}/{now.total} items settled"
    if now.unfinished and now.total and now.settled > before.settled:
        if now.settled >= now.total:
            return "commit", f"run {now.run_id} applied, not yet committed"
        return "apply", f"resuming run {now.run_id}: {now.settled}/{now.total} items settled"
    extracted = [e for e in process.events if e.startswith("onec.snapshot.done")]
    if before.unfinished and not now.unfinished and not extracted:
        return "commit", f"resumed run {before.run_id} just committed, before the new extract"
    if not extracted:
        return "startup", "before the process asked 1C for anything"
    return "extract", f"after {len(extracted)} of 5 entities read from 1C"


@dataclass(frozen=True)
class _Aim:
    """One kill's random point: which 1C answer (extract), how far through apply, which commit."""

    entity: str
    fraction: float
    commit_point: str

    def reached(self, target: str, before: Progress, now: Progress, events: list[str]) -> bool:
        new_run = now.run_id != before.run_id
        resuming = before.unfinished and now.unfinished and not new_run
        applying = (new_run or resuming) and now.unfinished and now.total > 0
        if target == "extract":
            return not resuming and f"onec.snapshot.done:{self.entity}" in events
        moved = new_run or now.settled > before.settled  # this process has done something itself
        if target == "apply":
            return applying and moved and self.fraction * now.total <= now.settled < now.total
        stored = new_run and now.unfinished and now.settled == 0
        applied = applying and moved and now.settled >= now.total
        return applied if self.commit_point == "applied" else (stored or applied)


def _kill_at(
    process: SyncProcess, observer: Observer, target: str, rng: random.Random, before: Progress
) -> Kill | None:
    """Poll until the target phase is reached at a random point inside it, SIGKILL; None if it ended first."""
    started = time.monotonic()
    aim = _Aim(rng.choice(EXTRACT_ENTITIES), rng.uniform(0.05, 0.95), rng.choice(("stored", "applied")))
    while process.alive():
        if aim.reached(target, before, observer.progress(), process.events):
            break
        time.sleep(0.03)
    if not process.alive():
        return None
    at = observer.progress()
    process.kill()
    landed, detail = _landed(before, at, process)
    return Kill(target, landed, detail, round(time.monotonic() - started, 2))


def crash_campaign(
    config: Path,
    db_url: str,
    onec_base: str,
    kills: int,
    *,
    seed: int = 1,
    churn: dict[str, int] | None = None,
    deadline_seconds: float = 3600,
    before_attempt: Callable[[], None] | None = None,
) -> Campaign:
    """Start `sync --mode full`, SIGKILL it at ``kills`` random points cycling over extract, apply and
    commit, restart each time; when a run completes first, 1C changes (``churn``) to give it new work.
    Finishes with runs left to complete by themselves (the last one must plan nothing)."""
    rng = random.Random(seed)
    observer = Observer(db_url)
    result = Campaign()
    targets = [PHASES[i % len(PHASES)] for i in range(kills)]
    rng.shuffle(targets)
    deadline = time.monotonic() + deadline_seconds
    last_failed = False
    try:
        while targets and time.monotonic() < deadline:
            before = observer.progress()
            if before_attempt is not None and not last_failed:  # after a failure 1C gets a clean retry
                before_attempt()
            last_failed = False
            process = SyncProcess(config)
            result.attempts += 1
            kill = _kill_at(process, observer, targets[0], rng, before)
            if kill is not None:
                result.kills.append(kill)
                targets.pop(0)
                continue
            if process.wait() != 0:  # e.g. 1C kept failing: one clear line, exit 1; simply run again
                last_failed = True
                time.sleep(0.1)
                tail = redact_text(process.stderr_tail[-1])[:200] if process.stderr_tail else "(no output)"
                result.failures.append(process.errors[-1] if process.errors else tail)
                continue
            result.completed_runs += 1
            _churn(onec_base, churn or {"hires": 20, "transfers": 20, "dismissals": 10, "personEdits": 20})
            result.churns += 1
    finally:
        observer.close()
    return result


def _churn(onec_base: str, counts: dict[str, int]) -> None:
    httpx.post(f"{onec_base}/_sandbox/churn", json=counts, timeout=120).raise_for_status()
