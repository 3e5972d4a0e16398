"""`extranet-bridge bench onec` on a tiny company: the three readings agree on what they read."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from cli.bench_onec import register, run_bench


def test_bench_reads_the_same_records_three_ways() -> None:
    result = run_bench(employees=60, seed=3, page_size=20, repeat=1)
    assert result["records"] == sum(result["by_entity"].values()) > 60
    assert result["by_entity"]["Employee"] >= 60
    assert result["pages"] > 6 and result["ratio"] > 0


def test_bench_command_registers_in_its_group() -> None:
    group = typer.Typer()
    register(group)
    group.command("other")(lambda: None)  # two commands, so "onec" stays a named subcommand
    out = CliRunner().invoke(group, ["onec", "--help"])
    assert out.exit_code == 0 and "--employees" in out.output
