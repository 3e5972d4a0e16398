"""The `sandbox onec` command is registered, and the testing helper honours the knob token."""

from __future__ import annotations

import httpx
import typer
from typer.testing import CliRunner

from cli.sandbox_onec import register
from sandbox.onec.testing import onec_sandbox


def test_cli_registers_sandbox_onec() -> None:
    group = typer.Typer()
    register(group)
    group.command("noop")(lambda: None)  # a second command keeps `onec` a subcommand
    result = CliRunner().invoke(group, ["onec", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    for option in ("--seed", "--employees", "--user", "--password", "--timezone", "--today"):
        assert option in result.output


def test_knob_token_is_required_when_set() -> None:
    with onec_sandbox(employees=10, knob_token="t0ken") as sb:
        assert httpx.get(f"{sb.base_url}/_sandbox/stats").status_code == 403
        assert sb.knobs.stats()["counts"]["Employee"] == 10  # the helper sends the token
        assert sb.knobs.reset(seed=2, employees=25)["counts"]["Employee"] == 25
