"""What the reliability benches share: sandboxes in subprocesses, a real `sync` process to kill, and the
checks afterwards (duplicates in Bitrix24, drift, changes 1C made that never arrived).

Used by cli/bench_reliability.py (the long proofs) and tests/integration/reliability (the fast ones).
The bridge is only ever driven from outside, as an operator would: its command line, its HTTP service,
its state store read back; Bitrix24 and 1C are only ever read through their sandboxes' knobs.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from config.logging import redact_text
from sandbox.server import free_port

ROOT = Path(__file__).resolve().parents[1]
_EXCEPTION_LINE = re.compile(r"^[\w.]+(?:Error|Exception|Violation)\b: ")


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
