"""Several instances, fast: two `extranet-bridge sync` processes started together on one store, with
the Bitrix24 sandbox's leaky bucket at the bridge's own rate. Neither may crash, the shared budget is
never exceeded (no QUERY_LIMIT_EXCEEDED), and Bitrix24 ends without duplicates. (The long version with
two services running their jobs: `extranet-bridge bench instances`, docs/RELIABILITY.md.)"""

from __future__ import annotations

import json
from pathlib import Path

from cli import reliability_harness as harness
from tests.integration.sync.conftest import World


def test_two_syncs_at_once_neither_crash_nor_duplicate(world: World, db_url: str, tmp_path: Path) -> None:
    endpoints = harness.Endpoints(
        world.b24.base_url, world.b24.webhook_url, world.onec.base_url, world.onec.endpoint
    )
    settings = harness.bridge_config(endpoints, db_url, rate=200, burst=2000)
    config = harness.write_config(tmp_path / "bridge.yaml", settings)
    world.b24.knobs.limits(rate=200, burst=2000)
    first, second = harness.SyncProcess(config, mode="auto"), harness.SyncProcess(config, mode="auto")
    codes = [first.wait(timeout=300), second.wait(timeout=300)]
    tails = [line for p in (first, second) for line in p.stderr_tail if "Error" in line]
    assert first.tracebacks + second.tracebacks == 0, tails[-3:]
    assert codes == [0, 0] or sorted(codes) == [0, 1], codes  # a refusal is one clear line, exit 1
    refused = [e for e in world.b24.knobs.log() if e.get("error") == "QUERY_LIMIT_EXCEEDED"]
    assert refused == [], f"the two processes together exceeded the budget {len(refused)} times"
    found = harness.duplicates(world.b24.base_url)
    assert found["duplicate_users_by_xml_id"] == 0 and found["duplicate_groups_by_name"] == 0, found
    harness.finish(config, runs=1)
    assert json.dumps(found)  # the figures are reportable
