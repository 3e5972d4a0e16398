"""What the reliability benches share: sandboxes in subprocesses, a real `sync` process to kill, and the
checks afterwards (duplicates in Bitrix24, drift, changes 1C made that never arrived).

Used by cli/bench_reliability.py (the long proofs) and tests/integration/reliability (the fast ones).
The bridge is only ever driven from outside, as an operator would: its command line, its HTTP service,
its state store read back; Bitrix24 and 1C are only ever read through their sandboxes' knobs.
"""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import func, select

from config.logging import redact_text
from sandbox.server import free_port
from store.db import make_engine, upgrade
from store.models import PlanItem, SyncRun

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("extract", "apply", "commit")
_EXCEPTION_LINE = re.compile(r"^[\w.]+(?:Error|Exception|Violation)\b: ")
EXTRACT_ENTITIES = ("Organization", "Department", "Position", "Person")
"""A kill "in extract" lands just after 1C answered one of these (the employments are read last)."""


@dataclass(frozen=True)
class Endpoints:
    """Where the sandboxes answer and the credentials the bridge uses with them."""

    b24_base: str
    webhook_url: str
    onec_base: str
    onec_endpoint: str
    onec_user: str = "Интеграция"
    onec_password: str = "Пароль-1С"
    client_id: str = ""
    client_secret: str = ""


def bridge_config(
    endpoints: Endpoints, db_url: str, *, rate: float, burst: int, **extra: Any
) -> dict[str, Any]:
    """The YAML settings of a bridge process against the sandboxes."""
    config: dict[str, Any] = {
        "database": {"url": db_url},
        "bitrix24": {"webhook_url": endpoints.webhook_url, "rate": rate, "burst": burst},
        "onec": {
            "endpoint": endpoints.onec_endpoint,
            "username": endpoints.onec_user,
            "password": endpoints.onec_password,
        },
        "logging": {"level": "INFO", "format": "json"},
    }
    for section, values in extra.items():
        config.setdefault(section, {}).update(values)
    return config


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def _wait_up(url: str, process: subprocess.Popen[bytes] | None, seconds: float = 900) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def sandboxes(
    employees: int, seed: int, *, rate: float, burst: int, faults: str | None = None
) -> Iterator[Endpoints]:
    """Both sandboxes as subprocesses; the Bitrix24 one names itself by its loopback address."""
    b24_port, onec_port, code = free_port(), free_port(), secrets.token_hex(8)
    client_id, client_secret = "local.reliability00000.00000001", secrets.token_urlsafe(24)
    cli = [sys.executable, "-m", "cli.main", "sandbox"]
    b24_args = [
        *cli,
        "bitrix24",
        "--port",
        str(b24_port),
        "--rate",
        str(rate),
        "--burst",
        str(burst),
        "--webhook-code",
        code,
        "--domain",
        f"127.0.0.1:{b24_port}",
        "--client-id",
        client_id,
        "--client-secret",
        client_secret,
    ]
    if faults:
        b24_args += ["--faults", faults]
    b24 = subprocess.Popen(b24_args, cwd=ROOT, stdout=subprocess.DEVNULL)
    onec = subprocess.Popen(
        [*cli, "onec", "--port", str(onec_port), "--seed", str(seed), "--employees", str(employees)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        b24_base, onec_base = f"http://127.0.0.1:{b24_port}", f"http://127.0.0.1:{onec_port}"
        _wait_up(f"{b24_base}/_sandbox/state", b24)
        _wait_up(f"{onec_base}/_sandbox/health", onec)
        yield Endpoints(
            b24_base,
            f"{b24_base}/rest/1/{code}/",
            onec_base,
            f"{onec_base}/zup/ws/ExtranetBridge.1cws",
            client_id=client_id,
            client_secret=client_secret,
        )
    finally:
        _stop(b24)
        _stop(onec)


class SyncProcess:
    """One `extranet-bridge sync` process; its JSON log lines (stderr) are read as they come."""

    def __init__(self, config: Path, mode: str = "full") -> None:
        self.events: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "sync", "--config", str(config), "--mode", mode],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.stdout: list[bytes] = []
        self.stderr_tail: list[str] = []
        self.tracebacks = 0
        self.errors: list[str] = []
        """Exception summaries (``module.Error: message``), redacted and cut: safe to print and record."""
        threading.Thread(target=self._read_log, daemon=True).start()
        threading.Thread(target=self._read_out, daemon=True).start()

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            line = raw.decode("utf-8", "replace").strip()
            self.stderr_tail = [*self.stderr_tail[-20:], line]
            self.tracebacks += "Traceback" in line
            if _EXCEPTION_LINE.match(line):
                self.errors.append(redact_text(line)[:200])
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                self.events.append(f"{event.get('event')}:{event.get('entity', '')}")

    def _read_out(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.stdout.append(raw)

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def wait(self, timeout: float | None = None) -> int:
        return self.process.wait(timeout=timeout)


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


def finish(
    config: Path, *, runs: int = 2, timeout: float = 3600, patience_seconds: float = 0, pause: float = 30
) -> list[dict[str, Any]]:
    """Run `sync --mode full` to completion until a run plans nothing (at least ``runs`` times); the
    summaries.

    ``patience_seconds``: how long runs may keep finding work (e.g. a method Bitrix24 blocked for its
    operating-time window, which the bridge honours until the reset time the portal gave)."""
    summaries: list[dict[str, Any]] = []
    give_up = time.monotonic() + patience_seconds
    while len(summaries) < runs or summaries[-1].get("planned"):
        if len(summaries) >= runs:
            if time.monotonic() > give_up:
                break
            time.sleep(pause)
        process = SyncProcess(config)
        code = process.wait(timeout=timeout)
        time.sleep(0.1)  # let the reader threads drain
        if code != 0:
            tail = "\n".join(process.stderr_tail[-5:])
            raise RuntimeError(f"sync exited with {code} after the campaign:\n{tail}")
        text = b"".join(process.stdout).decode("utf-8", "replace")
        summaries.append(_last_json(text))
    return summaries


def _last_json(text: str) -> dict[str, Any]:
    """The JSON summary `sync` prints last (rich may spread it over several lines)."""
    start = text.rfind('{\n  "mode"')
    if start < 0:
        start = text.rfind('{"mode"')
    try:
        found = json.loads(text[start:]) if start >= 0 else {}
    except ValueError:
        found = {}
    return found if isinstance(found, dict) else {}


def duplicates(b24_base: str) -> dict[str, int]:
    """Bitrix24 users sharing an XML_ID or an e-mail, groups sharing a name (counted in the sandbox)."""
    users = httpx.get(f"{b24_base}/_sandbox/users", params={"limit": 10**7}, timeout=300).json()
    groups = httpx.get(f"{b24_base}/_sandbox/groups", timeout=300).json()["groups"]
    rows = users["users"]
    by_xml = Counter(str(u["fields"].get("XML_ID")) for u in rows if u["fields"].get("XML_ID"))
    by_mail = Counter(str(u["fields"].get("EMAIL")).lower() for u in rows if u["fields"].get("EMAIL"))
    by_name = Counter(str(g["fields"].get("NAME")) for g in groups)
    return {
        "users": int(users["count"]),
        "groups": len(groups),
        "duplicate_users_by_xml_id": sum(n - 1 for n in by_xml.values() if n > 1),
        "duplicate_users_by_email": sum(n - 1 for n in by_mail.values() if n > 1),
        "duplicate_groups_by_name": sum(n - 1 for n in by_name.values() if n > 1),
    }


async def drift_and_lost(config: Path) -> dict[str, Any]:
    """Reconcile (dry run) against the real Bitrix24 state, and a fresh full plan from 1C (dry run):
    drift items and operations still to do (a change 1C made that never arrived) — both must be 0."""
    from config.logging import configure_logging
    from config.wiring import open_bridge, open_store, settings_from
    from sync import run

    settings = settings_from(config)
    configure_logging("ERROR")
    store = open_store(settings)
    bridge = open_bridge(settings, store)
    try:
        ctx = bridge.sync_context()
        reconciled = await run.reconcile(ctx, dry_run=True)
        fresh = await run.full(ctx, dry_run=True)
    finally:
        await bridge.close()
        store.dispose()
    return {
        "drift": len(reconciled.drift),
        "drift_kinds": dict(Counter(d.kind for d in reconciled.drift)),
        "reconcile_operations": len(reconciled.plan.operations),
        "lost_changes": len(fresh.plan.operations),
    }


@contextmanager
def nothing() -> Iterator[None]:
    yield


def arm_onec_faults(onec_base: str, faults: Iterable[tuple[str, int]]) -> None:
    """Arm 1C faults (kind, number of calls) for the next attempt, e.g. "sessions locked" 503s."""
    for kind, count in faults:
        body = {"kind": kind, "operations": None, "count": count}
        if kind == "slow":
            body["delaySeconds"] = 1
        httpx.post(f"{onec_base}/_sandbox/faults", json=body, timeout=30).raise_for_status()


def clear_faults(endpoints: Endpoints) -> None:
    httpx.post(f"{endpoints.onec_base}/_sandbox/faults/clear", json={}, timeout=30).raise_for_status()
    httpx.post(f"{endpoints.b24_base}/_sandbox/faults", json={}, timeout=30).raise_for_status()


class OperationLimitWindow:
    """One OPERATION_TIME_LIMIT window (bitrix24-rest.md §8.2) through the sandbox's limit knobs: after
    ``start_after`` seconds every call of ``method`` costs more than the whole budget, so Bitrix24
    blocks it; after ``seconds`` the costs are restored and the ledger drained."""

    def __init__(
        self,
        b24_base: str,
        method: str = "sonet_group.user.add",
        start_after: float = 20,
        seconds: float = 30,
    ) -> None:
        self.b24_base, self.method = b24_base, method
        self.start_after, self.seconds = start_after, seconds
        self.opened_at: float | None = None
        self.closed_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _limits(self, body: dict[str, Any]) -> None:
        httpx.post(f"{self.b24_base}/_sandbox/limits", json=body, timeout=30).raise_for_status()

    def _run(self) -> None:
        if self._stop.wait(self.start_after):
            return
        self._limits({"op_costs": {self.method: 10_000.0}})
        self.opened_at = time.time()
        self._stop.wait(self.seconds)
        self._limits({"op_costs": {}, "drain": True})
        self.closed_at = time.time()

    def __enter__(self) -> OperationLimitWindow:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.opened_at is not None and self.closed_at is None:
            self._limits({"op_costs": {}, "drain": True})
            self.closed_at = time.time()

    def figures(self) -> dict[str, Any]:
        answered = 0
        if self.opened_at is not None:
            log = httpx.get(f"{self.b24_base}/_sandbox/log", timeout=300).text.splitlines()
            answered = sum(1 for line in log if "OPERATION_TIME_LIMIT" in line)
        return {
            "method": self.method,
            "opened": self.opened_at is not None,
            "seconds": round((self.closed_at or 0) - (self.opened_at or 0), 1) if self.opened_at else 0,
            "operation_time_limit_answers": answered,
        }


def recorded_blocks(db_url: str) -> dict[str, Any]:
    """The methods the bridge recorded as blocked by Bitrix24 (its shared budget row), read back."""
    from store.models import RateBudget

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(RateBudget.blocked)).all()
    finally:
        engine.dispose()
    blocked = sorted({method for (entry,) in rows for method in (entry or {})})
    return {"bridge_recorded_blocked_methods": blocked}
