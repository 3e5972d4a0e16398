"""`bench b24` runs end to end on a small load: full batches on bulk work, no request refused."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cli.main import _register_commands, app


def test_bench_b24_small_run() -> None:
    _register_commands()
    result = CliRunner().invoke(app, ["bench", "b24", "--calls", "125", "--rate", "50", "--burst", "10"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["bulk_items"] == 100 and figures["bulk_items_per_request"] == 50
    assert figures["query_limit_exceeded"] == 0
    assert figures["errors"] == {}
    assert figures["requests_sent"] == 25 + 2 + 1  # singles, two batches, one user.current
