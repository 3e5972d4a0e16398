"""The command line as a user runs it: help, config check, db upgrade — one clear line on errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("EXTRANET_BRIDGE_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_lists_commands_with_one_line_each() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("config", "db"):
        assert command in result.stdout
    assert run_cli("db", "upgrade", "--help").returncode == 0
    assert run_cli("config", "check", "--help").returncode == 0


def test_config_check_good_and_bad(tmp_path: Path) -> None:
    good = run_cli("config", "check", "-c", str(ROOT / "config" / "example.yaml"))
    assert good.returncode == 0, good.stderr
    assert "valid" in good.stdout

    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text("bitrix24:\n  burst: zero\n  colour: blue\n", encoding="utf-8")
    bad = run_cli("config", "check", "-c", str(bad_file))
    assert bad.returncode == 1
    assert "bitrix24.burst" in bad.stderr
    assert "bitrix24.colour: unknown key" in bad.stderr
    assert "Traceback" not in bad.stderr + bad.stdout

    missing = run_cli("config", "check", "-c", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 1
    assert "file not found" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_db_upgrade_then_current(empty_db_url: str) -> None:
    env = {"EXTRANET_BRIDGE_DATABASE__URL": empty_db_url}
    first = run_cli("db", "upgrade", env=env)
    assert first.returncode == 0, first.stderr
    assert "upgraded from empty" in first.stdout
    second = run_cli("db", "upgrade", env=env)
    assert second.returncode == 0
    assert "is current" in second.stdout


def test_unreachable_database_is_one_clear_line() -> None:
    env = {"EXTRANET_BRIDGE_DATABASE__URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    result = run_cli("db", "upgrade", env=env)
    assert result.returncode == 1
    assert "error:" in result.stderr
    assert "Traceback" not in result.stderr
