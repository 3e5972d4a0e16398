"""`doctor` on a configuration whose systems are down: one ✗ line each with the fix, exit 1; and where the
state store lives by default (beside the configuration, never where the command was run)."""

from __future__ import annotations

import json
from pathlib import Path

from config.settings import load_settings
from tests.integration.cli.test_cli import run_cli


def test_doctor_names_each_unreachable_system(tmp_path: Path) -> None:
    config = tmp_path / "bridge.yaml"
    config.write_text(
        "bitrix24:\n  webhook_url: http://127.0.0.1:9/rest/1/abc/\n"
        "onec:\n  endpoint: http://127.0.0.1:9/zup/ws/ExtranetBridge.1cws\n"
        "messaging:\n  smtp: {host: 127.0.0.1, port: 9}\n",
        encoding="utf-8",
    )
    result = run_cli("doctor", "-c", str(config), "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    checks = {row["check"]: row for row in json.loads(result.stdout)}
    assert checks["configuration"]["state"] == "ok"
    assert checks["store writable"]["state"] == "ok"
    assert checks["1C"]["state"] == "failed" and "onec.endpoint" in checks["1C"]["detail"]
    assert checks["Bitrix24 credentials"]["state"] == "failed"
    assert "bitrix24.webhook_url" in checks["Bitrix24 credentials"]["detail"]
    assert checks["SMTP"]["state"] == "failed" and checks["SMS"]["state"] == "not_checked"
    assert "/rest/1/abc/" not in result.stdout  # the webhook code is a password: never printed


def test_store_defaults_beside_the_configuration(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "bridge.yaml"
    config.parent.mkdir()
    config.write_text("logging:\n  level: ERROR\n", encoding="utf-8")
    assert load_settings(config).database.url == f"sqlite:///{config.parent.resolve()}/extranet-bridge.db"
    config.write_text("database:\n  url: sqlite:///data/state.db\n", encoding="utf-8")
    assert load_settings(config).database.url == f"sqlite:///{config.parent.resolve()}/data/state.db"
