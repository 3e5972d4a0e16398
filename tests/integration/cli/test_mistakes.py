"""A user's mistakes: each is one line on stderr (``error: …`` with the fix), exit 1, no traceback."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.integration.cli.test_cli import run_cli


def one_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "bridge.yaml"
    path.write_text(f"database:\n  url: sqlite:///{tmp_path / 'state.db'}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("command", [["plan"], ["sync"], ["status"], ["sites", "list"], ["db", "upgrade"]])
def test_broken_yaml_to_any_command(tmp_path: Path, command: list[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("bitrix24:\n  rate: [1,\n", encoding="utf-8")
    line = one_error(run_cli("-c", str(broken), *command))
    assert f"{broken} is not valid YAML (line 3" in line


def test_impossible_today(config: Path) -> None:
    line = one_error(run_cli("plan", "-c", str(config), "--today", "2026-02-30"))
    assert "'2026-02-30' is not a calendar date; write it as YYYY-MM-DD" in line


def test_today_only_for_plans_and_dry_runs(config: Path) -> None:
    assert "No such option: --today" in one_error(run_cli("sync", "-c", str(config), "--today", "2026-01-01"))
    line = one_error(run_cli("reconcile", "-c", str(config), "--today", "2026-01-01"))
    assert "add --dry-run" in line


def test_locked_sqlite_names_the_holder(config: Path, tmp_path: Path) -> None:
    assert run_cli("db", "upgrade", "-c", str(config)).returncode == 0
    holder = sqlite3.connect(tmp_path / "state.db")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        line = one_error(run_cli("status", "-c", str(config)))
    finally:
        holder.rollback()
        holder.close()
    assert "is locked by" in line and f"pid {os.getpid()}" in line


def test_unwritable_store_path(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = {"EXTRANET_BRIDGE_DATABASE__URL": f"sqlite:///{blocker}/state.db"}
    line = one_error(run_cli("status", env=env))
    assert f"cannot create the state store's folder {blocker}" in line


def test_environment_errors_name_the_variable() -> None:
    line = one_error(run_cli("status", env={"EXTRANET_BRIDGE_BITRIX24__RATE": "fast"}))
    assert "bitrix24.rate" in line and "EXTRANET_BRIDGE_BITRIX24__RATE" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["sandbox", "up", "--employees", "-5"], "--employees"),
        (["sandbox", "up", "--port", "80"], "--port"),
        (["sandbox", "up", "--plan", "gold"], "'gold' is not one of"),
        (["demo", "--plan", "foo"], "'foo' is not one of"),
        (["invite", "--channel", "pigeon"], "--channel"),
        (["sandbox", "bitrix24", "--faults", "nonsense"], "unknown fault setting 'nonsense'"),
        (["sandbox", "onec", "--today", "2026-13-01"], "is not a calendar date"),
    ],
)
def test_bad_options(args: list[str], expected: str) -> None:
    assert expected in one_error(run_cli(*args))


def test_sandbox_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        line = one_error(run_cli("sandbox", "bitrix24", "--port", port))
    assert f"cannot listen on 127.0.0.1:{port} for the bitrix24 sandbox" in line


def test_sandbox_dir_that_cannot_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    line = one_error(run_cli("sandbox", "up", "--dir", str(blocker)))
    assert f"cannot keep the sandboxes' state in {blocker}" in line


def test_config_check_catches_what_serve_would_refuse(tmp_path: Path) -> None:
    path = tmp_path / "bridge.yaml"
    path.write_text(
        "database:\n  url: mysql://x\n"
        "schedule:\n  reconcile_cron: '61 * * * *'\n"
        "messaging:\n  default_region: XX\n  smtp:\n    sender: not-an-address\n"
        "sync:\n  mapping: missing-mapping.yaml\n"
        "onec:\n  wsdl: missing.wsdl\n",
        encoding="utf-8",
    )
    result = run_cli("config", "check", "-c", str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    for fragment in (
        "database.url: unsupported database 'mysql'",
        "schedule.reconcile_cron: not a cron expression",
        "messaging.default_region: unknown region code 'XX'",
        "messaging.smtp.sender: not an e-mail address",
        "sync.mapping: file not found: missing-mapping.yaml",
        "onec.wsdl: file not found: missing.wsdl",
    ):
        assert fragment in result.stderr, result.stderr


def test_version_and_short_help() -> None:
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("extranet-bridge ")
    short = run_cli("plan", "-h")
    assert short.returncode == 0 and "--today" in short.stdout
