"""The scheduled jobs of the service: thin wrappers that call sync/ and report counts.

Each runs under the lease of its name (webhooks/scheduler.py), so with several instances on one
database every tick runs once.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from datetime import timedelta
from typing import cast

from config.wiring import Bridge
from connectors.bitrix24.auth import StoreVault
from connectors.onec.port import OneCPort
from core.clock import utcnow
from processes import callouts, regulations_run
from processes.b24_sender import send_pending
from processes.catalog import default_catalog
from processes.leave_balance import leave_balance
from processes.onec_answers import AnsweringFeed, poll_submitted
from processes.outbox_worker import deliver_pending
from processes.reconcile import reconcile as reconcile_requests
from store import inbox as inbox_store
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
PROCESSES_MINUTES = 0.1
"""Call-outs are handled and the outboxes to Bitrix24 and 1C drained this often (a workflow waits on it)."""
ANSWERS_MINUTES = 5
"""1C is asked about submitted requests this often (besides the change feed the sync reads)."""
PROCESS_RECONCILE_MINUTES = 15


def schedule_jobs(scheduler: JobScheduler, bridge: Bridge) -> None:
    plan = bridge.settings.schedule

    catalog = default_catalog()
    processes_on = bool(bridge.settings.server.public_url)  # without it Bitrix24 cannot call the bridge

    async def incremental() -> Mapping[str, int]:
        context = bridge.sync_context()
        if processes_on:  # request statuses in the feed are recorded before the sync acknowledges a batch
            feed = AnsweringFeed(bridge.onec, bridge.store.sessions, catalog)
            context = dataclasses.replace(context, onec=cast(OneCPort, feed))
        return _applied(await run.auto(context))

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

    async def regulations() -> Mapping[str, int]:
        """Local acts: confirmations collected, reminders queued and sent (docs/regulations.md)."""
        now = utcnow()
        collected = await regulations_run.collect(bridge.b24, bridge.store.sessions, now)
        every = timedelta(days=plan.regulations_remind_days)
        reminded = await regulations_run.remind(bridge.store.sessions, now, every)
        sent = await send_pending(bridge.store.sessions, bridge.b24, catalog) if reminded else None
        return {
            "confirmed": collected.confirmed,
            "open": collected.open,
            "tasks_closed": collected.tasks_closed,
            "reminded": reminded,
            "sent": sum(sent.sent.values()) if sent else 0,
        }

    scheduler.add_interval("regulations", plan.regulations_minutes, regulations)

    async def retention() -> Mapping[str, int]:
        """Handled inbox messages older than ``schedule.inbox_retention_days`` go (store/inbox.py)."""
        before = utcnow() - timedelta(days=plan.inbox_retention_days)
        return {"inbox_deleted": await asyncio.to_thread(inbox_store.prune, bridge.store.sessions, before)}

    scheduler.add_cron("retention", plan.retention_cron, retention)
    if processes_on:
        schedule_process_jobs(scheduler, bridge)


def schedule_process_jobs(scheduler: JobScheduler, bridge: Bridge) -> None:
    """The HR processes (processes/): call-outs, the two outboxes, 1C's answers, the reconciliation."""
    catalog = default_catalog()
    sessions = bridge.store.sessions
    directory = handlers.ProcessDirectory()
    context = callouts.Context(bridge.b24, catalog, directory, leave_balance)

    async def processes() -> Mapping[str, int]:
        dispatched = await handlers.dispatch_activities(sessions, context)
        to_b24 = await send_pending(sessions, bridge.b24, catalog)
        to_1c = await deliver_pending(sessions, bridge.onec, catalog, files=bridge.b24)
        return {
            "callouts": dispatched.done,
            "callouts_failed": dispatched.failed,
            "b24_sent": sum(to_b24.sent.values()),
            "b24_retrying": to_b24.retrying,
            "b24_dead": to_b24.dead,
            "onec_sent": len(to_1c.sent),
            "onec_refused": len(to_1c.refused),
            "onec_retrying": to_1c.retrying,
            "onec_dead": to_1c.dead,
        }

    async def at_once() -> None:
        """A call-out just stored: handle it and send its answer (and any 1C submission) now."""
        if (await handlers.dispatch_activities(sessions, context)).done:
            await send_pending(sessions, bridge.b24, catalog)
            await deliver_pending(sessions, bridge.onec, catalog, files=bridge.b24)

    handlers.on_callout_stored(sessions, at_once)

    async def answers() -> Mapping[str, int]:
        return {"moved": len(await poll_submitted(sessions, bridge.onec, catalog))}

    async def reconcile() -> Mapping[str, int]:
        return (await reconcile_requests(sessions, bridge.b24, bridge.onec, catalog, directory)).counts()

    scheduler.add_interval("processes", PROCESSES_MINUTES, processes)
    scheduler.add_interval("request_answers", ANSWERS_MINUTES, answers)
    scheduler.add_interval("process_reconcile", PROCESS_RECONCILE_MINUTES, reconcile)
