"""The timesheets' scheduled jobs: pre-fill, deadlines, and the submission of approved sheets to 1C.

- ``prefill``: the configured sites (portal.sites) get their portal rows from the 1C department replica;
  each active employee of a site without a sheet for the current period gets one, pre-filled from 1C's
  ``GetWorkSchedule`` and their closed Bitrix24 workday (``timeman.status``, bitrix24-rest.md §10.3: no
  history method outside REST 3.0, so each daily run adds the day just closed to the drafts — a day the
  employee edited keeps the employee's hours). A sheet's id is derived from its employee, site and
  period, so two runs never open two sheets.
- ``deadlines``: the reminder before an approval deadline and the escalation to the site's alternate
  approvers after it (timesheets/deadlines.py decides), each recorded once in the sheet's history.
- ``submit``: delivers the ``SubmitTimesheet`` rows that a provider approval wrote to the outbox in its own
  commit. 1C's answer moves each sheet of the period: accepted, conflicts (days owned by leave or sick
  leave — the sheet waits for the provider manager in ``conflict``) or failed; the row is settled in the
  same commit. While 1C is down a row waits with exponential backoff; a Terminal error dead-letters it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from config.settings import PortalSettings as PortalConfig
from config.wiring import Bridge
from connectors.bitrix24.port import Bitrix24Port
from connectors.errors import BridgeError, Transient
from connectors.onec.port import EmploymentRef, OneCPort, ScheduleDay
from core.clock import Clock, utcnow
from core.ids import B24UserId
from portal.data import TeamMember
from portal.notifications import send_digests
from portal.service import PortalService
from portal.store import ONEC_TARGET, ConcurrentChange, SqlPortalData
from processes.catalog import default_catalog
from processes.outbox_worker import DeliveryPolicy
from store.outbox import Pending
from store.uow import UnitOfWork
from timesheets.deadlines import due
from timesheets.lifecycle import AWAITING
from timesheets.model import MAX_HOURS, WORK, Day, Period, Timesheet, TimesheetError, period_of
from timesheets.onec import Submission, batch_from_data, merge, outcomes
from timesheets.prefill import ClockedDay, clocked_from_status, prefill
from webhooks.scheduler import JobScheduler

log = structlog.get_logger(__name__)

BRIDGE = "bridge"
TIMEMAN = "bridge:timeman"
SCHEDULE_BATCH = 1000
"""GetWorkSchedule takes at most 1000 employees per call (docs/onec-contract.md)."""
_SHEETS = uuid.UUID("0b6f3d2a-51c4-4e0b-9a57-7d2f8e1c6a90")


def sheet_id(employee_ref: str, site_ref: str, period: Period) -> str:
    """The first version's id: the same employee, site and period always give the same sheet."""
    return str(uuid.uuid5(_SHEETS, f"{employee_ref}|{site_ref}|{period.key()}"))


# ---- pre-fill --------------------------------------------------------------------------------------------


def configure_sites(sessions: sessionmaker[Session], config: PortalConfig) -> int:
    """The configured sites' portal rows (name and organisation from 1C); returns how many are known."""
    known = 0
    with UnitOfWork(sessions) as uow:
        data = SqlPortalData(uow.session, outbox=uow.outbox)
        for site in config.sites:
            settings = {
                "alternate_approvers": list(site.alternate_approvers),
                "provider_managers": list(config.provider_managers),
                "deadline_days": site.deadline_days,
                "remind_before_days": site.remind_before_days,
            }
            if data.configure_site(site.site, site.client, site.period, settings):
                known += 1
            else:
                log.warning("timesheets.site_unknown", site=site.site)
    return known


@dataclass(frozen=True)
class _Work:
    site_ref: str
    org_ref: str
    period: Period
    new: list[TeamMember]
    drafts: dict[str, str]
    """employee_ref → the sheet id of their draft for the period."""
    users: dict[str, B24UserId]


async def prefill_sites(
    sessions: sessionmaker[Session],
    onec: OneCPort,
    b24: Bitrix24Port,
    config: PortalConfig,
    today: date,
    *,
    clock: Clock = utcnow,
) -> dict[str, int]:
    sites = await asyncio.to_thread(configure_sites, sessions, config)
    counts = {"sites": sites, "opened": 0, "refreshed": 0, "timeman_skipped": 0}
    for work in await asyncio.to_thread(_plan, sessions, [s.site for s in config.sites], today):
        schedule = await _schedule(onec, [m.employee_ref for m in work.new], work.period)
        clocked, skipped = await _clocked(b24, work.users)
        counts["timeman_skipped"] += skipped
        opened, refreshed = await asyncio.to_thread(_write, sessions, work, schedule, clocked, clock)
        counts["opened"] += opened
        counts["refreshed"] += refreshed
    return counts


def _plan(sessions: sessionmaker[Session], site_refs: Sequence[str], today: date) -> list[_Work]:
    plans = []
    with UnitOfWork(sessions) as uow:
        data = SqlPortalData(uow.session, outbox=uow.outbox)
        for site_ref in site_refs:
            site = data.site(site_ref)
            if site is None:
                continue
            period = period_of(site.settings.period_kind, today)
            sheets = [r for r in data.sheets(site_ref) if r.sheet.period == period]
            have = {r.sheet.employee_ref for r in sheets}
            team = data.team(site_ref)
            plans.append(
                _Work(
                    site_ref,
                    site.settings.org_ref,
                    period,
                    [m for m in team if m.employee_ref not in have],
                    {r.sheet.employee_ref: r.sheet.sheet_id for r in sheets if r.state == "draft"},
                    {m.employee_ref: m.b24_user_id for m in team if m.b24_user_id is not None},
                )
            )
    return plans


async def _schedule(onec: OneCPort, refs: Sequence[str], period: Period) -> dict[str, list[ScheduleDay]]:
    found: dict[str, list[ScheduleDay]] = {}
    for start in range(0, len(refs), SCHEDULE_BATCH):
        chunk = [EmploymentRef(r) for r in refs[start : start + SCHEDULE_BATCH]]
        answer = await onec.work_schedule(chunk, period.start, period.end)
        found.update({str(ref): days for ref, days in answer.items()})
    return found


async def _clocked(b24: Bitrix24Port, users: Mapping[str, B24UserId]) -> tuple[dict[str, ClockedDay], int]:
    """Each employee's last closed workday; people time tracking does not know (an extranet user, a
    refused permission) keep the plan."""
    found: dict[str, ClockedDay] = {}
    skipped = 0
    for employee_ref, user_id in users.items():
        try:
            status = await b24.call("timeman.status", {"USER_ID": user_id})
        except BridgeError as exc:
            skipped += 1
            log.info("timesheets.timeman_skipped", error=type(exc).__name__)
            continue
        day = clocked_from_status(status if isinstance(status, Mapping) else None)
        if day is not None:
            found[employee_ref] = day
    return found, skipped


def _write(
    sessions: sessionmaker[Session],
    work: _Work,
    schedule: Mapping[str, list[ScheduleDay]],
    clocked: Mapping[str, ClockedDay],
    clock: Clock,
) -> tuple[int, int]:
    opened = refreshed = 0
    with UnitOfWork(sessions) as uow:
        service = PortalService(SqlPortalData(uow.session, outbox=uow.outbox), clock)
        for member in work.new:
            if member.employee_ref not in schedule:
                log.warning("timesheets.no_schedule", employee=member.employee_ref)
                continue
            own = [clocked[member.employee_ref]] if member.employee_ref in clocked else []
            try:
                days = prefill(work.period, schedule[member.employee_ref], own).days
            except TimesheetError as exc:
                log.warning("timesheets.prefill_refused", employee=member.employee_ref, error=str(exc))
                continue
            sheet = Timesheet(
                sheet_id(member.employee_ref, work.site_ref, work.period),
                member.employee_ref,
                work.site_ref,
                work.org_ref,
                work.period,
                days,
                employee_name=member.name,
                position=member.position,
            )
            try:
                with uow.session.begin_nested():
                    service.open_sheet(sheet, BRIDGE)
            except (ConcurrentChange, IntegrityError):
                continue  # another run opened it meanwhile
            opened += 1
        for employee_ref, draft in work.drafts.items():
            day = clocked.get(employee_ref)
            if day is None:
                continue
            hours = _hours(day)
            if service.refresh_days(draft, [Day(day.day, WORK, hours)], TIMEMAN) is not None:
                refreshed += 1
    return opened, refreshed


def _hours(day: ClockedDay) -> Decimal:
    return min(MAX_HOURS, (Decimal(day.worked_seconds) / 3600).quantize(Decimal("0.01"), ROUND_HALF_UP))


# ---- deadlines -------------------------------------------------------------------------------------------


def chase_deadlines(
    sessions: sessionmaker[Session], now: datetime, holidays: Sequence[date] = ()
) -> dict[str, int]:
    """Record the reminders and escalations due now (each once: the history says who was chased)."""
    counts = {"remind": 0, "escalate": 0}
    with UnitOfWork(sessions) as uow:
        data = SqlPortalData(uow.session, outbox=uow.outbox)
        service = PortalService(data, lambda: now)
        for site in data.sites():
            for current in data.sheets(site.site_ref):
                if not current.state.startswith(AWAITING):
                    continue
                event = due(current.history, site.settings, now, holidays)
                if event is None:
                    continue
                service.chase(current.sheet.sheet_id, event)
                counts[event.name] += 1
                log.info(
                    "timesheets.chased", sheet=current.sheet.sheet_id, chased=event.name, step=event.step
                )
    return counts


# ---- submission to 1C ------------------------------------------------------------------------------------


async def submit_approved(
    sessions: sessionmaker[Session],
    onec: OneCPort,
    *,
    policy: DeliveryPolicy = DeliveryPolicy(),
    clock: Clock = utcnow,
) -> dict[str, int]:
    """One pass over the due ``SubmitTimesheet`` rows; safe to run in several processes at once."""
    counts = {"sent": 0, "retrying": 0, "dead": 0, "stale": 0, "conflicts": 0}
    with UnitOfWork(sessions) as uow:
        claimed = uow.outbox.claim(ONEC_TARGET, lease=policy.lease, limit=policy.batch, now=clock())
    for row in claimed:
        await _deliver(sessions, onec, row, policy, clock, counts)
    return counts


async def _deliver(
    sessions: sessionmaker[Session],
    onec: OneCPort,
    row: Pending,
    policy: DeliveryPolicy,
    clock: Clock,
    counts: dict[str, int],
) -> None:
    try:
        batch = batch_from_data(row.payload)
    except (KeyError, TypeError, ValueError) as exc:
        _settle_failed(sessions, row, f"unreadable payload: {type(exc).__name__}", counts)
        return
    answered: list[tuple[Submission, Any]] = []
    try:
        for submission in batch:
            answered.append((submission, await onec.submit_timesheet(submission.value)))
    except Exception as error:
        name = type(error).__name__
        if not isinstance(error, Transient) or row.attempts >= policy.max_attempts:
            _settle_failed(sessions, row, name, counts)
            return
        with UnitOfWork(sessions) as uow:
            settled = uow.outbox.retry_later(row, clock() + policy.backoff(row.attempts), name)
        counts["retrying" if settled else "stale"] += 1
        log.warning("timesheets.submit_retry", message_id=row.id, attempt=row.attempts, error=name)
        return
    merged = merge([o for submission, result in answered for o in outcomes(submission, result)])
    with UnitOfWork(sessions) as uow:
        if not uow.outbox.settle_sent(row):
            counts["stale"] += 1
            return
        data = SqlPortalData(uow.session, outbox=uow.outbox)
        service = PortalService(data, clock)
        for outcome in merged:
            current = data.sheet(outcome.sheet_id)
            if current is None or current.state != "approved":
                continue  # answered by an earlier submission of the period, or replaced since
            service.record_onec(outcome)
            counts["conflicts" if outcome.event == "onec_conflicts" else "sent"] += 1


def _settle_failed(sessions: sessionmaker[Session], row: Pending, error: str, counts: dict[str, int]) -> None:
    with UnitOfWork(sessions) as uow:
        dead = uow.outbox.dead_letter(row, error)
    counts["dead" if dead else "stale"] += 1
    if dead:  # ids and the error class only: the payload holds people's hours
        log.error("outbox.dead_letter", message_id=row.id, target=row.target, kind=row.kind, error=error)


# ---- scheduling ------------------------------------------------------------------------------------------


def schedule_timesheet_jobs(scheduler: JobScheduler, bridge: Bridge) -> None:
    """Register the three jobs when the portal is configured (a session secret or a site)."""
    config = bridge.settings.portal
    if not (config.session_secret.get_secret_value() or config.sites):
        return
    sessions = bridge.store.sessions
    zone = ZoneInfo(bridge.settings.schedule.timezone)

    async def prefill_job() -> Mapping[str, int]:
        today = utcnow().astimezone(zone).date()
        return await prefill_sites(sessions, bridge.onec, bridge.b24, config, today)

    async def deadlines_job() -> Mapping[str, int]:
        sites = await asyncio.to_thread(configure_sites, sessions, config)  # sites a sync has just brought
        return {"sites": sites, **await asyncio.to_thread(chase_deadlines, sessions, utcnow())}

    async def submit_job() -> Mapping[str, int]:
        return await submit_approved(sessions, bridge.onec)

    async def digest_job() -> Mapping[str, int]:
        managers = [B24UserId(m) for m in config.provider_managers]
        report = await send_digests(
            sessions,
            lambda session: SqlPortalData(session, provider_managers=managers),
            bridge.messaging,
            catalog=default_catalog(),
        )
        return {"digests": report.digests, "skipped": report.skipped, **dict(report.delivered)}

    scheduler.add_cron("timesheet_prefill", config.prefill_cron, prefill_job)
    scheduler.add_cron("notification_digest", config.digest_cron, digest_job)
    scheduler.add_interval("timesheet_deadlines", config.deadlines_minutes, deadlines_job)
    scheduler.add_interval("timesheet_submit", config.submit_seconds / 60, submit_job)
