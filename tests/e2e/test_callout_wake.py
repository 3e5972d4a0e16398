"""Issue 13, latency: with the service's jobs set up but no scheduler tick, a call-out Bitrix24 posts is
handled and answered at once (the route wakes the dispatcher after the inbox commit), so the leave's first
approval task appears without waiting for the ``processes`` job. Both sandboxes and the bridge on loopback."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from config.wiring import open_bridge
from store.models import InboxMessage
from tests.integration.processes._flow import World
from webhooks.handlers import ACTIVITY_SOURCE
from webhooks.jobs import schedule_jobs
from webhooks.scheduler import JobScheduler

LEAVE = {"leave_kind": "annual", "date_from": "2026-07-01", "date_to": "2026-07-10"}


async def test_a_call_out_is_handled_without_waiting_for_the_job(w: World) -> None:
    assert w.settings is not None
    bridge = open_bridge(w.settings, w.store)
    scheduler = JobScheduler(w.store.sessions, "instance-a")  # never started: no tick runs
    try:
        schedule_jobs(scheduler, bridge)
        w.file("leave", LEAVE)
        tasks: list[object] = []
        for _ in range(200):  # bounded wait for the background work; no timing is asserted
            w.flush()  # the sandbox posts the workflow's call-outs to the served bridge
            tasks = list(w.tasks(w.client))
            if tasks:
                break
            await asyncio.sleep(0.05)
        assert len(tasks) == 1, "the call-out was not handled and answered before a scheduler tick"
        with w.store.sessions() as session:
            open_callouts = session.scalar(
                select(func.count()).where(
                    InboxMessage.source == ACTIVITY_SOURCE, InboxMessage.processed_at.is_(None)
                )
            )
        assert open_callouts == 0
        assert all(job.runs == 0 for job in scheduler._jobs.values())
    finally:
        await bridge.close()
