"""The mirror commands as an operator runs them, against both sandboxes over loopback."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.bitrix24.testing import run_sandbox
from sandbox.onec.testing import onec_sandbox
from tests.integration.cli.test_cli import run_cli


@pytest.fixture
def env(db_url: str) -> Iterator[dict[str, str]]:
    with run_sandbox(rate=200, burst=2000) as b24, onec_sandbox(seed=5, employees=80) as onec:
        yield {
            "EXTRANET_BRIDGE_DATABASE__URL": db_url,
            "EXTRANET_BRIDGE_BITRIX24__WEBHOOK_URL": b24.webhook_url,
            "EXTRANET_BRIDGE_BITRIX24__RATE": "200",
            "EXTRANET_BRIDGE_BITRIX24__BURST": "2000",
            "EXTRANET_BRIDGE_ONEC__ENDPOINT": onec.endpoint,
            "EXTRANET_BRIDGE_ONEC__USERNAME": onec.user,
            "EXTRANET_BRIDGE_ONEC__PASSWORD": onec.password,
            "EXTRANET_BRIDGE_LOGGING__LEVEL": "ERROR",
            "COLUMNS": "160",
        }


def test_plan_sync_status_reconcile(env: dict[str, str]) -> None:
    planned = run_cli("plan", env=env)
    assert planned.returncode == 0, planned.stderr
    assert "create_user" in planned.stdout and "Quarantine" in planned.stdout
    assert re.search(r"\w+ \w+ \([0-9a-f]{8}…\)", planned.stdout)  # people's names beside short refs

    synced = run_cli("sync", "--json", env=env)
    assert synced.returncode == 0, synced.stderr
    [summary] = json.loads(synced.stdout)
    assert summary["mode"] == "full" and summary["applied"]["failed"] == 0

    again = run_cli("sync", env=env)
    assert again.returncode == 0 and again.stdout.startswith("incremental run")

    status = run_cli("status", env=env)
    assert status.returncode == 0
    assert "committed" in status.stdout and "quarantine:" in status.stdout

    reconcile = run_cli("reconcile", "--dry-run", env=env)
    assert reconcile.returncode == 0 and "no drift found" in reconcile.stdout

    sites = json.loads(run_cli("sites", "list", "--json", env=env).stdout)
    assert sites and all(site["name"] and site["bitrix24_group"] for site in sites)

    held = json.loads(run_cli("quarantine", "list", "--json", env=env).stdout)
    assert held and all(row["name"] and row["reason"] for row in held)  # who, not just a ref
    ref = held[0]["ref"]
    shown = run_cli("quarantine", "show", ref, env=env)
    assert shown.returncode == 0 and held[0]["reason_code"] in shown.stdout
    retried = run_cli("quarantine", "retry", ref, env=env)
    assert retried.returncode == 0 and "sync --mode full" in retried.stdout
    left = json.loads(run_cli("quarantine", "list", "--json", env=env).stdout)
    assert ref not in {row["ref"] for row in left}
    again = run_cli("quarantine", "retry", ref, env=env)
    assert again.returncode == 1 and again.stderr.startswith("error: ")


def test_operator_mistakes_are_one_clear_line(env: dict[str, str], tmp_path: Path) -> None:
    unknown_site = run_cli("managers", "add", "boss@client.ru", "--site", "nowhere", env=env)
    assert unknown_site.returncode == 1
    assert "unknown site" in unknown_site.stderr and "Traceback" not in unknown_site.stderr

    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("version: 1\ngroups: {}\nuser: {fields: {}}\n", encoding="utf-8")
    config = tmp_path / "c.yaml"
    config.write_text(f"sync:\n  mapping: {mapping}\n", encoding="utf-8")
    checked = run_cli("config", "check", "-c", str(config), env=env)
    assert checked.returncode == 1
    assert "sync.mapping" in checked.stderr and "groups.organization" in checked.stderr
