"""Crash, resume and faults, fast: a real `extranet-bridge sync` process SIGKILLed in extract, apply and
commit while Bitrix24 answers 500s, 503s, HTML pages and drops connections and 1C reports locked
sessions; restarted until done: no duplicate users or groups, no drift, no change left
behind. (The long versions: `extranet-bridge bench crash|faults`, figures in docs/RELIABILITY.md.)"""

from __future__ import annotations

from pathlib import Path

from cli import reliability_crash as crash
from cli import reliability_harness as harness
from cli.reliability_faults import arm_onec_faults
from tests.integration.sync.conftest import World

ONEC_FAULTS = (("sessions_locked", 1),)  # each attempt meets one: the retry backoff is real


def config_for(world: World, db_url: str, tmp_path: Path) -> Path:
    endpoints = harness.Endpoints(
        world.b24.base_url,
        world.b24.webhook_url,
        world.onec.base_url,
        world.onec.endpoint,
        world.onec.user,
        world.onec.password,
    )
    settings = harness.bridge_config(endpoints, db_url, rate=200, burst=2000, sync={"batch_size": 5})
    return harness.write_config(tmp_path / "bridge.yaml", settings)


async def test_killed_sync_under_faults_resumes_without_duplicates_or_drift(
    world: World, db_url: str, tmp_path: Path
) -> None:
    config = config_for(world, db_url, tmp_path)
    # Small batches and a little latency make apply last long enough to be hit.
    world.b24.knobs.faults(error_500=0.02, error_503=0.02, html=0.02, reset=0.02, latency_ms=25, seed=3)
    campaign = crash.crash_campaign(
        config,
        db_url,
        world.onec.base_url,
        kills=3,
        seed=5,
        before_attempt=lambda: arm_onec_faults(world.onec.base_url, ONEC_FAULTS),
    )
    assert len(campaign.kills) == 3, campaign
    assert {k.target for k in campaign.kills} == set(crash.PHASES)
    assert {k.landed for k in campaign.kills} == set(crash.PHASES), campaign.kills
    assert all("Traceback" not in line for line in campaign.failures), campaign.failures

    world.b24.knobs.faults()
    world.onec.knobs.clear_faults()
    harness.finish(config, runs=1)  # the fresh plan below proves nothing is left to do
    found = harness.duplicates(world.b24.base_url)
    assert found["duplicate_users_by_xml_id"] == 0 and found["duplicate_groups_by_name"] == 0, found
    checked = await harness.drift_and_lost(config)
    assert checked["drift"] == 0 and checked["lost_changes"] == 0, checked
