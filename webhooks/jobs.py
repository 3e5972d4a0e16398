"""The scheduled jobs of the service: thin wrappers that call sync/ and report counts.

Each runs under the lease of its name (webhooks/scheduler.py), so with several instances on one
database every tick runs once.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping

from config.wiring import Bridge
from connectors.bitrix24.auth import StoreVault
from sync import invitations, managers, run
from webhooks import handlers
from webhooks.scheduler import JobScheduler
from webhooks.timesheet_jobs import schedule_timesheet_jobs


def _applied(reports: list[run.RunReport]) -> dict[str, int]:
    counts = {"runs": len(reports), "done": 0, "failed": 0, "quarantined": 0}
    for report in reports:
        if report.applied:
            counts["done"] += report.applied.done
            counts["failed"] += report.applied.failed
            counts["quarantined"] += report.applied.quarantined
    return counts


INBOX_MINUTES = 1
"""The offline queue is drained and events whose handler failed transiently (or whose dispatch a restart
cut off) are retried this often."""


def schedule_jobs(scheduler: JobScheduler, bridge: Bridge) -> None:
    plan = bridge.settings.schedule

    async def incremental() -> Mapping[str, int]:
        return _applied(await run.auto(bridge.sync_context()))

    async def due() -> Mapping[str, int]:
        return _applied([await run.due(bridge.sync_context())])

    async def reconcile() -> Mapping[str, int]:
        report = await run.reconcile(bridge.sync_context())
        return {**_applied([report]), "drift": len(report.drift)}

    async def apply_managers() -> Mapping[str, int]:
        return await managers.apply(bridge.b24, bridge.store.sessions, bridge.mapping)

    scheduler.add_interval("sync", plan.incremental_sync_minutes, incremental)
    scheduler.add_interval("due_changes", plan.due_changes_minutes, due)
    scheduler.add_interval("client_managers", plan.managers_minutes, apply_managers)
    schedule_timesheet_jobs(scheduler, bridge)

    b24 = bridge.settings.bitrix24
    vault = StoreVault(bridge.store.sessions)
    oauth = bool(b24.app.client_id) and not b24.webhook_url

    async def inbox() -> Mapping[str, int]:
        installed = oauth and await asyncio.to_thread(vault.load) is not None
        offline = await handlers.drain_offline(bridge.b24, bridge.store.sessions) if installed else 0
        dispatched = await asyncio.to_thread(handlers.dispatch, bridge.store.sessions)
        return {**dataclasses.asdict(dispatched), "offline": offline}

    scheduler.add_cron("reconcile", plan.reconcile_cron, reconcile)
    scheduler.add_interval("inbox", INBOX_MINUTES, inbox)
    messaging = bridge.messaging
    if messaging is not None:
        settings = bridge.settings.invitations
        channel: invitations.TChannel = "email" if bridge.settings.messaging.smtp.host else "sms"

        async def remind() -> Mapping[str, int]:
            return await invitations.invite_due(
                bridge.b24,
                messaging,
                bridge.store.sessions,
                channel,
                bridge.portal_url,
                settings.resend_after_days,
                settings.max_invitations,
            )

        scheduler.add_cron("invitations", plan.invitations_cron, remind)
