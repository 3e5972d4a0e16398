"""`bench b24` runs end to end on a small load: full batches on bulk work, every call completed."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cli.main import _register_commands, app


def test_bench_b24_small_run() -> None:
    _register_commands()
    result = CliRunner().invoke(app, ["bench", "b24", "--calls", "125", "--rate", "20", "--burst", "20"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["bulk_items"] == 100 and figures["bulk_items_per_request"] == 50
    assert figures["errors"] == {}  # whatever the machine's load, every call ends well
    # singles, two batches, one user.current (a refusal under heavy load is retried, and counted apart)
    assert figures["requests_sent"] - figures["retries"] == 25 + 2 + 1
    assert figures["query_limit_exceeded"] <= figures["retries"]


def test_bench_b24_counts_every_logged_request_against_the_honest_minimum() -> None:
    _register_commands()
    args = ["bench", "b24", "--calls", "125", "--rate", "20", "--burst", "20", "--read-all"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["list_rows"] >= 101 and figures["list_requests"] == 1  # 3 pages in one batch
    assert figures["minimal_requests"] == 1 + 25 + 2 + 1
    assert figures["requests_logged"] == figures["requests_sent"]  # no faults: the portal saw each one
    assert figures["requests_over_minimum"] == round(figures["requests_logged"] / 29, 3)
