"""Several instances: two service processes (scheduled jobs on) and two `sync` commands on one store.

Each scheduled job must run once per tick across the instances (the other skips: lease held), the
Bitrix24 budget is shared (the sandbox's leaky bucket, set to the same rate, never refuses a request),
no process crashes, and Bitrix24 ends with no duplicate users or groups. Read from outside: the
processes' JSON log lines, their exit codes, the sandbox's request log and its users and groups.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from cli.reliability_deliveries import service, service_config
from cli.reliability_harness import (
    Endpoints,
    SyncProcess,
    bridge_config,
    drift_and_lost,
    duplicates,
    finish,
    write_config,
)
from sandbox.server import free_port

JOB_LINE = re.compile(r"job (start|skipped|end) name=(\w+)")


def _job_events(log: Path, instance: str) -> list[tuple[str, str, str, str]]:
    """(instance, minute, action, job) of every job log line; the minute is the tick's."""
    found = []
    for raw in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(raw)
        except ValueError:
            continue
        matched = JOB_LINE.search(str(event.get("event", "")))
        if matched:
            minute = str(event.get("timestamp", ""))[:16]
            found.append((instance, minute, matched.group(1), matched.group(2)))
    return found


def _tracebacks(*texts: str) -> int:
    return sum(text.count("Traceback") for text in texts)


def instances_proof(
    endpoints: Endpoints, db_url: str, workdir: Path, *, seconds: float, rate: float, burst: int
) -> dict[str, Any]:
    schedule: dict[str, Any] = {
        "incremental_sync_minutes": 1,
        "due_changes_minutes": 1,
        "managers_minutes": 1,
    }
    schedule["reconcile_cron"] = "*/2 * * * *"
    logs = {name: workdir / f"service-{name}.log" for name in ("a", "b")}
    configs = {}
    for name in logs:
        settings = service_config(endpoints, db_url, free_port(), schedule=schedule)
        settings["bitrix24"].update({"rate": rate, "burst": burst})
        configs[name] = write_config(workdir / f"service-{name}.yaml", settings)
    sync_config = write_config(
        workdir / "sync.yaml", bridge_config(endpoints, db_url, rate=rate, burst=burst)
    )
    started = time.monotonic()
    with (
        service(configs["a"], jobs=True, log=logs["a"]) as a,
        service(configs["b"], jobs=True, log=logs["b"]) as b,
    ):
        syncs = [SyncProcess(sync_config, mode="auto"), SyncProcess(sync_config, mode="auto")]
        codes = [p.wait(timeout=seconds + 600) for p in syncs]
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))
        services_alive = [a.poll() is None, b.poll() is None]
    time.sleep(0.2)
    completion = finish(sync_config, runs=1)[-1]  # then one more run alone, and the usual checks
    checked = asyncio.run(drift_and_lost(sync_config))
    events = _job_events(logs["a"], "a") + _job_events(logs["b"], "b")
    starts = Counter((job, minute) for _, minute, action, job in events if action == "start")
    skipped = Counter(job for _, _, action, job in events if action == "skipped")
    log_text = httpx.get(f"{endpoints.b24_base}/_sandbox/log", timeout=300).text
    requests = [json.loads(line) for line in log_text.splitlines() if line.strip()]
    service_logs = [path.read_text(encoding="utf-8", errors="replace") for path in logs.values()]
    sync_errors = sorted({error for p in syncs for error in p.errors})
    return {
        "seconds": round(time.monotonic() - started, 1),
        "sync_exit_codes": codes,
        "sync_errors": sync_errors,
        "services_alive_at_end": services_alive,
        "job_ticks": len(starts),
        "job_ticks_run_twice": sorted(f"{job}@{minute}" for (job, minute), n in starts.items() if n > 1),
        "job_runs_by_instance": dict(Counter(i for i, _, action, _ in events if action == "start")),
        "job_skips": dict(skipped),
        "bitrix24_requests": len(requests),
        "bitrix24_refused_by_limiter": sum(1 for e in requests if e.get("error") == "QUERY_LIMIT_EXCEEDED"),
        "tracebacks": _tracebacks(*service_logs) + sum(p.tracebacks for p in syncs),
        **duplicates(endpoints.b24_base),
        "completion_run_planned": completion.get("planned"),
        **checked,
    }
