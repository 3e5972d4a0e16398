"""Crash and resume, fast: a real `extranet-bridge sync` process SIGKILLed in extract, apply and commit,
restarted until done; afterwards no duplicate users or groups, no drift, no change left behind.
(The long version: `extranet-bridge bench crash`, figures in docs/RELIABILITY.md.)"""

from __future__ import annotations

from pathlib import Path

from cli import reliability_harness as harness
from tests.integration.sync.conftest import World


def config_for(world: World, db_url: str, tmp_path: Path) -> Path:
    endpoints = harness.Endpoints(
        world.b24.base_url,
        world.b24.webhook_url,
        world.onec.base_url,
        world.onec.endpoint,
        world.onec.user,
        world.onec.password,
    )
    settings = harness.bridge_config(
        endpoints, db_url, rate=200, burst=2000, sync={"batch_size": 5}, onec={"page_size": 40}
    )
    return harness.write_config(tmp_path / "bridge.yaml", settings)


async def test_killed_sync_resumes_without_duplicates_or_drift(
    world: World, db_url: str, tmp_path: Path
) -> None:
    config = config_for(world, db_url, tmp_path)
    world.b24.knobs.faults(latency_ms=25)  # small batches, a little latency: apply lasts long enough to hit
    campaign = harness.crash_campaign(config, db_url, world.onec.base_url, kills=3, seed=5)
    assert len(campaign.kills) == 3 and not campaign.failures, campaign
    assert {k.target for k in campaign.kills} == set(harness.PHASES)
    assert {k.landed for k in campaign.kills} == set(harness.PHASES), campaign.kills

    world.b24.knobs.faults()
    harness.finish(config, runs=1)  # the fresh plan below proves nothing is left to do
    found = harness.duplicates(world.b24.base_url)
    assert found["duplicate_users_by_xml_id"] == 0 and found["duplicate_groups_by_name"] == 0, found
    checked = await harness.drift_and_lost(config)
    assert checked["drift"] == 0 and checked["lost_changes"] == 0, checked
