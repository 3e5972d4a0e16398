"""`extranet-bridge bench events` as a user runs it, small: both endpoints measured in one run, every
call-out answered 200 found in the inbox; with --kill-restart the service dies by SIGKILL halfway and is
started again, and no call-out answered 200 is lost or stored twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]


def _bench(*args: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXTRANET_BRIDGE_")}
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "bench", "events", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_bench_events_measures_both_endpoints() -> None:
    result = _bench("--count", "42", "--concurrency", "4")  # not a multiple of the 4 rounds
    assert result["bench"] == "events" and result["path"] == "/bitrix24/activity"
    service, bare = result["service"], result["bare"]
    assert service["accepted"] == 42 and bare["accepted"] == 42
    assert (service["in_inbox"], service["lost"], service["duplicates"]) == (42, 0, 0)
    assert service["accepted_per_s"] > 0 and bare["accepted_per_s"] > 0
    assert 0 < service["p50_ms"] <= service["p99_ms"]
    assert result["ratio"] == round(service["accepted_per_s"] / bare["accepted_per_s"], 2)


def test_bench_events_kill_restart_loses_nothing() -> None:
    result = _bench("--count", "60", "--concurrency", "4", "--kill-restart")
    assert result["bench"] == "events-kill-restart"
    assert result["killed_after_answers"] is not None and result["killed_after_answers"] >= 30
    assert result["answered_200"] == 60
    assert (result["in_inbox"], result["lost"], result["duplicates"]) == (60, 0, 0)
