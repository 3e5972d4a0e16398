"""The service's scheduled jobs run the mirror, once per tick across two instances on one database."""

from __future__ import annotations

from config.wiring import Bridge
from tests.integration.sync.conftest import World
from webhooks.jobs import schedule_jobs
from webhooks.scheduler import JobScheduler


async def test_two_instances_run_each_tick_once(world: World, bridge: Bridge) -> None:
    other = world.bridge()
    try:
        first = JobScheduler(world.store.sessions, "instance-a")
        second = JobScheduler(world.store.sessions, "instance-b")
        schedule_jobs(first, bridge)
        schedule_jobs(second, other)
        assert set(first.status()) == {
            "sync",
            "due_changes",
            "client_managers",
            "reconcile",
            "inbox",
            "regulations",
            "retention",
        }
        ran = await first.run_job("sync")
        skipped = await second.run_job("sync")
    finally:
        await other.close()
    assert ran.outcome == "ok" and ran.counts["runs"] >= 1 and ran.counts["failed"] == 0
    assert skipped.outcome == "skipped" and skipped.holder == "instance-a"
    assert world.users_by_xml_id(), "the incremental job mirrored nobody"
    reconciled = await first.run_job("reconcile")
    assert reconciled.outcome == "ok" and reconciled.counts["failed"] == 0
    regulations = await first.run_job("regulations")  # nothing published: nothing to collect or remind
    assert regulations.outcome == "ok" and regulations.counts == {
        "confirmed": 0,
        "open": 0,
        "tasks_closed": 0,
        "reminded": 0,
        "sent": 0,
    }
    retention = await first.run_job("retention")
    assert retention.outcome == "ok" and set(retention.counts) == {"inbox_deleted"}
