"""The README's first command: the demo runs the whole mirror on both sandboxes and says it worked."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXTRANET_BRIDGE_")}
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "demo", "--employees", "150", "--seed", "3"],
        cwd=ROOT,
        env={**env, "COLUMNS": "120"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert re.search(r"rehire reused the same account\s*│\s*yes", out), out[-1500:]
    assert re.search(r"drift repaired\s*│\s*yes", out)
    mirrored = int(re.search(r"Bitrix24 users mirrored\s*│\s*(\d+)", out).group(1))  # type: ignore[union-attr]
    assert mirrored > 0
    assert "nothing to do" in out.split("5. Nothing changed")[1]
    requests = out.split("6. HR requests")[1].split("7. The client portal")[0]
    flat = " ".join(requests.split())
    for kind in ("leave", "child_tax_deduction", "certificate", "sick_notice"):  # form → 1C → back, once
        line = re.search(rf"{kind}: (.*?); 1C documents: (\d+)", flat)
        assert line and line.group(1).endswith("submitted → done") and line.group(2) == "1", requests
    assert "scans in 1C: 2, byte for byte: yes" in flat
    trip = re.search(r"business_trip: (.*?) \(admin cancel: HTTP (\d+)\); 1C document: (\w+)", flat)
    assert trip and trip.groups() == (
        "received → awaiting:client → awaiting:provider → approved → submitted → withdrawing → cancelled",
        "202",
        "Withdrawn",
    ), requests
    assert "PDF in the employee's Drive" in requests and "calendar events: 1" in requests
    assert "Traceback" not in result.stderr
    portal = out.split("7. The client portal")[1]
    for who in ("client manager", "employee"):
        found = re.search(
            rf"as the {who} \(Bitrix24 user \d+, works\): (file://\S+)\s+opens (http://\S+/portal/)", portal
        )
        assert found, portal
        opener = Path(found.group(1).removeprefix("file://")).read_text(encoding="utf-8")
        assert "/portal/placement?" in opener and 'name="AUTH_ID"' in opener
