#!/usr/bin/env python3
"""The long fuzz: run the hypothesis properties of tests/integration/reliability/test_fuzz_inputs.py
with many cases each and report, per property, the cases tried and the failures (JSON on stdout).

    .venv/bin/python scripts/reliability/fuzz.py --examples 5000
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULE = "tests/integration/reliability/test_fuzz_inputs.py"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000, help="cases per property")
    args = parser.parse_args()
    started = time.monotonic()
    env = {**os.environ, "EXTRANET_BRIDGE_FUZZ_EXAMPLES": str(args.examples)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", MODULE]
    command += ["--hypothesis-show-statistics", "--hypothesis-seed=0"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    properties: dict[str, dict[str, int]] = {}
    current = ""
    for line in done.stdout.splitlines():
        named = re.match(r"^\S*::(\w+):$", line.strip())
        if named:
            current = named.group(1)
        counted = re.search(r"(\d+) passing, (\d+) failing, and (\d+) invalid test cases", line)
        if counted and current:
            entry = properties.setdefault(current, {"cases": 0, "failing": 0, "invalid": 0})
            entry["cases"] += int(counted.group(1)) + int(counted.group(2))
            entry["failing"] += int(counted.group(2))
            entry["invalid"] += int(counted.group(3))
    failed_tests = re.findall(r"^FAILED (\S+)", done.stdout, re.MULTILINE)
    report = {
        "command": f"scripts/reliability/fuzz.py --examples {args.examples}",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "wall_seconds": round(time.monotonic() - started, 1),
        "properties": properties,
        "cases": sum(p["cases"] for p in properties.values()),
        "failed_properties": failed_tests,
        "pytest_exit": done.returncode,
    }
    print(json.dumps(report, ensure_ascii=False))
    if done.returncode != 0:
        print(done.stdout[-4000:], file=sys.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
