"""Issue 13: `serve --host H --port P` overrides the configured address, and `serve` starts before
Bitrix24 and 1C are configured — healthy, not ready — while the jobs that need them are skipped with one
info line each (no failure, no traceback)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from config.settings import Settings
from config.wiring import Store
from sandbox.server import free_port
from webhooks.jobs import schedule_jobs
from webhooks.scheduler import JobScheduler
from webhooks.unconfigured import service_bridge

ROOT = Path(__file__).resolve().parents[3]


def _wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"serve exited with {process.returncode}"
        try:
            return httpx.get(url, timeout=2)
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


def test_serve_overrides_the_address_and_starts_unconfigured(tmp_path: Path, db_url: str) -> None:
    configured, chosen = free_port(), free_port()
    config = tmp_path / "bridge.yaml"
    settings = {
        "database": {"url": db_url},
        "server": {"host": "127.0.0.1", "port": configured},
        "logging": {"format": "json", "level": "INFO"},
    }
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXTRANET_BRIDGE_")}
    command = [sys.executable, "-m", "cli.main", "serve", "-c", str(config), "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--port", str(chosen)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        health = _wait_for(f"http://127.0.0.1:{chosen}/healthz", process)
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        ready = httpx.get(f"http://127.0.0.1:{chosen}/readyz", timeout=10)
        assert ready.status_code == 503
        assert [line.split(":")[0] for line in ready.json()["missing"]] == ["bitrix24", "1c"]
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{configured}/healthz", timeout=2)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises the signal so the process ends as SIGTERM asked.
    assert process.returncode in (0, -signal.SIGTERM)
    events = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    told = [e["system"] for e in events if e["event"] == "serve.not_configured"]
    assert told == ["bitrix24", "1c"]
    assert not [e for e in events if e["level"] in ("error", "critical")]
    assert "Traceback" not in err.decode()


async def test_jobs_that_need_bitrix24_or_1c_skip_with_one_info_line(
    db_url: str, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(database={"url": db_url})
    bridge = service_bridge(settings, store)
    scheduler = JobScheduler(store.sessions, "test-holder")
    schedule_jobs(scheduler, bridge)
    names = sorted(scheduler.status())
    assert {"sync", "due_changes", "client_managers", "reconcile"} <= set(names)
    caplog.set_level("INFO")
    try:
        runs = {name: await scheduler.run_job(name) for name in names}
    finally:
        await bridge.close()
    assert all(run.outcome in ("skipped", "ok") for run in runs.values()), runs
    skipped = {name for name, run in runs.items() if run.outcome == "skipped"}
    assert {"sync", "due_changes", "reconcile"} <= skipped  # the managers job has nobody to apply: ok
    assert all("not configured" in (runs[name].error or "") for name in skipped)
    lines = [r for r in caplog.records if r.getMessage() == "job.skipped"]
    assert sorted(r.__dict__["job"] for r in lines) == sorted(skipped)  # one line per skipped job
    assert all(r.levelname == "INFO" and r.__dict__["reason"] == "not_configured" for r in lines)
    assert not [r for r in caplog.records if r.levelno >= 30 or r.exc_info]
