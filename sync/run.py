"""Put the stages in order: extract → map → diff/plan → apply → commit. Nothing else lives here.

`sync` first finishes an unfinished run (dlt's rule), then asks 1C for more. The change feed is
acknowledged only by the next GetChanges call, after the run that carried it committed. Every entry
point that applies or resumes a run holds the sync lease (sync/lease.py) for its whole length.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from connectors.bitrix24 import directory
from connectors.bitrix24.port import Bitrix24Port
from connectors.onec.port import Employee, OneCPort, Person, Record
from core.errors import SyncError
from mappings import DesiredState, Mapping
from sync import extract
from sync import full as full_run
from sync import lease as sync_lease
from sync.apply import Applier, ApplyStats, RunAborted
from sync.ledger import TRunMode
from sync.map import desired_state
from sync.model import Plan, RunStatus, link_key
from sync.plan import AdoptionIndex, make_plan
from sync.reconcile import Drift
from sync.repair import plan_repair
from sync.source import SourceData, entity_of
from sync.uow import SyncUnitOfWork

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

GROUP_KINDS = ("organization", "department")


@dataclass
class SyncContext:
    onec: OneCPort
    b24: Bitrix24Port
    sessions: sessionmaker[Session]
    mapping: Mapping
    today: date | None
    """The business day; None = today in the 1C server's time zone (asked with GetInfo per run)."""
    batch_size: int = 50
    on_progress: Callable[[int], None] | None = None
    lease_wait: float = 0.0
    """Seconds to wait for another process's sync to finish before refusing (sync/lease.py)."""
    on_lease_wait: Callable[[str], None] | None = None


@asynccontextmanager
async def _lease(ctx: SyncContext) -> AsyncIterator[None]:
    """Hold the sync lease: every path that applies a plan or resumes a run goes through here."""
    async with sync_lease.holding(ctx.sessions, wait=ctx.lease_wait, on_wait=ctx.on_lease_wait):
        yield


@dataclass
class RunReport:
    mode: str
    run_id: int | None
    plan: Plan
    applied: ApplyStats | None = None
    resumed: list[int] = field(default_factory=list)
    message_no: int | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "run_id": self.run_id,
            "planned": self.plan.count(),
            "quarantined": len(self.plan.quarantined),
            "applied": vars(self.applied) if self.applied else None,
            "resumed_runs": self.resumed,
        }


async def business_day(ctx: SyncContext) -> date:
    """The day HR dates are compared with: 1C's dates are local to the 1C server (GetInfo's time zone)."""
    if ctx.today is not None:
        return ctx.today
    info = await ctx.onec.info()
    return datetime.now(ZoneInfo(info.time_zone)).date()


async def _dated(ctx: SyncContext) -> SyncContext:
    return ctx if ctx.today is not None else replace(ctx, today=await business_day(ctx))


def _today(ctx: SyncContext) -> date:
    if ctx.today is None:  # the public run functions date the context first
        raise SyncError("the sync context has no business day")
    return ctx.today


def _desired(ctx: SyncContext, data: SourceData, persons: Iterable[str]) -> DesiredState:
    return desired_state(data, ctx.mapping, _today(ctx), persons)


async def _plan(ctx: SyncContext, desired: DesiredState, scope: set[str]) -> Plan:
    with SyncUnitOfWork(ctx.sessions) as uow:
        links = uow.links.load((*GROUP_KINDS, "intranet"))
        links.update(uow.links.load(["person"], None if len(scope) > 5000 else scope))
        quarantined = uow.quarantine.open()
    unlinked = [
        (ref, user.email)
        for ref, user in desired.users.items()
        if link_key("person", ref) not in links and not user.problems
    ]
    index = AdoptionIndex(await extract.adoption_candidates(ctx.b24, unlinked))
    existing: dict[str, int] = {}
    if any(key not in links for key in desired.groups):
        linked_ids = {link.b24_id for link in links.values() if link.kind in GROUP_KINDS}
        existing = {g.name: g.id for g in await directory.all_groups(ctx.b24) if g.id not in linked_ids}
    return make_plan(desired, scope, links, index, quarantined, existing)


async def _apply(ctx: SyncContext, run_id: int) -> ApplyStats:
    with SyncUnitOfWork(ctx.sessions) as uow:  # persons' ids are read batch by batch (sync/apply.py)
        links = uow.links.load((*GROUP_KINDS, "intranet"), with_state=False)
    applier = Applier(ctx.b24, ctx.sessions, run_id, links, ctx.batch_size, ctx.on_progress)
    try:
        stats = await applier.run()
    except RunAborted:
        with SyncUnitOfWork(ctx.sessions) as uow:  # open still: the next sync resumes it once fixed
            uow.runs.set_status(run_id, RunStatus.ABORTED, **{"applied": vars(applier.stats)})
        raise
    with SyncUnitOfWork(ctx.sessions) as uow:
        uow.runs.set_status(run_id, RunStatus.COMMITTED, **{"applied": vars(stats)})
    return stats


def _nothing_to_apply(ctx: SyncContext, run_id: int) -> ApplyStats:
    """A run without operations is committed at once: no links to load, no Bitrix24 to ask."""
    stats = ApplyStats()
    with SyncUnitOfWork(ctx.sessions) as uow:
        uow.runs.set_status(run_id, RunStatus.COMMITTED, **{"applied": vars(stats)})
    return stats


def _record_plan(uow: SyncUnitOfWork, plan: Plan, scope: Iterable[str]) -> None:
    for item in plan.quarantined:
        uow.quarantine.park(item)
    for kind, ref in plan.cleared:
        uow.quarantine.clear(kind, [ref])
    uow.quarantine.record_warnings(plan.warnings, scope)
    uow.replica.schedule_due(plan.due, scope)


async def resume(ctx: SyncContext) -> list[int]:
    """Finish runs a crash (or an abort) left open; their 1C messages are then committed as acknowledged."""
    async with _lease(ctx):
        return await _resume(ctx)


async def _resume(ctx: SyncContext) -> list[int]:
    finished: list[int] = []
    while True:
        with SyncUnitOfWork(ctx.sessions) as uow:
            run = uow.runs.unfinished()
            pending = (run.id, run.onec_message_no) if run else None
        if pending is None:
            return finished
        run_id, message_no = pending
        await _apply(ctx, run_id)
        if message_no is not None:
            with SyncUnitOfWork(ctx.sessions) as uow:
                uow.replica.save_cursor(message_no)
        finished.append(run_id)


async def _execute(
    ctx: SyncContext,
    mode: TRunMode,
    plan: Plan,
    scope: set[str],
    records: list[Record],
    message_no: int | None,
) -> RunReport:
    with SyncUnitOfWork(ctx.sessions) as uow:
        if records:
            uow.replica.save(records, uow.replica.hashes(records))
        _record_plan(uow, plan, scope)
        run_id = uow.runs.start(mode, plan.operations, message_no=message_no, stats={"planned": plan.count()})
    applied = await _apply(ctx, run_id) if plan.operations else _nothing_to_apply(ctx, run_id)
    if message_no is not None:
        with SyncUnitOfWork(ctx.sessions) as uow:
            uow.replica.save_cursor(message_no)
    return RunReport(mode, run_id, plan, applied, message_no=message_no)


async def full(ctx: SyncContext, *, dry_run: bool = False) -> RunReport:
    """Mirror everything from a 1C snapshot; persons gone from 1C are deactivated."""
    if dry_run:
        return await _full(ctx, dry_run=True)
    async with _lease(ctx):
        return await _full(ctx)


async def _full(ctx: SyncContext, *, dry_run: bool = False) -> RunReport:
    ctx = await _dated(ctx)
    resumed = [] if dry_run else await _resume(ctx)
    # docs/onec-contract.md, initial load: take the change feed's position before the snapshot (what was
    # registered earlier is in the snapshot). So a full run also recovers from a 1C base that no longer
    # knows the bridge's cursor (ACK_OUT_OF_RANGE after a restore or a new base).
    position = 0 if dry_run else (await extract.changes(ctx.onec, 0, 1)).message_no
    # Page by page into the replica, then planned a chunk of persons at a time (sync/full.py).
    snapshot = await full_run.take_snapshot(ctx.onec, ctx.sessions, store=not dry_run)
    prepared = await full_run.prepare(ctx.b24, ctx.sessions, ctx.mapping, _today(ctx), snapshot)
    plan = Plan()
    if dry_run:
        with SyncUnitOfWork(ctx.sessions) as uow:
            full_run.plan_chunks(uow, prepared, full_run.gather(plan))
        return RunReport("full", None, plan)
    with SyncUnitOfWork(ctx.sessions) as uow:  # the whole plan is stored in one commit, as for any run
        run_id = uow.runs.start("full", [], message_no=position, stats={})
        stored = 0

        def store(part: Plan, refs: list[str]) -> None:
            nonlocal stored
            uow.runs.add_items(run_id, part.operations, stored)
            stored += len(part.operations)
            _record_plan(uow, part, refs)
            full_run.keep_for_report(plan, part)

        full_run.plan_chunks(uow, prepared, store)
        uow.runs.set_status(run_id, RunStatus.PLANNED, planned=plan.count())
    del prepared, snapshot
    applied = await _apply(ctx, run_id) if stored else _nothing_to_apply(ctx, run_id)
    with SyncUnitOfWork(ctx.sessions) as uow:
        uow.replica.save_cursor(position)
    return RunReport("full", run_id, plan, applied, resumed, message_no=position)


async def _feed_plan(ctx: SyncContext, records: list[Record], deleted: set[str], scope: set[str]) -> Plan:
    """The plan for what one change-feed batch carried (an empty batch needs none: nothing is read)."""
    with SyncUnitOfWork(ctx.sessions) as uow:
        data = uow.replica.source(scope)
    for record in records:
        data.add(record)
    for ref in deleted:
        data.persons.pop(ref, None)
    return await _plan(ctx, _desired(ctx, data, scope), scope)


def _affected_persons(records: Iterable[Record]) -> set[str]:
    persons: set[str] = set()
    for record in records:
        if isinstance(record, Person):
            persons.add(record.ref)
        elif isinstance(record, Employee):
            persons.add(record.person_ref)
    return persons


async def incremental(ctx: SyncContext, *, dry_run: bool = False, max_items: int = 500) -> list[RunReport]:
    """Apply the 1C change feed batch by batch until it is drained."""
    if dry_run:
        return await _incremental(ctx, dry_run=True, max_items=max_items)
    async with _lease(ctx):
        return await _incremental(ctx, max_items=max_items)


async def _incremental(ctx: SyncContext, *, dry_run: bool = False, max_items: int = 500) -> list[RunReport]:
    ctx = await _dated(ctx)
    resumed = [] if dry_run else await _resume(ctx)
    reports: list[RunReport] = []
    while True:
        with SyncUnitOfWork(ctx.sessions) as uow:
            ack = uow.replica.committed_message_no()
        batch = await extract.changes(ctx.onec, ack, max_items)
        records = [
            c.record for c in batch.items if c.record is not None and entity_of(c.record) != "RequestStatus"
        ]
        deleted_persons = {c.ref for c in batch.items if c.deleted and c.entity == "Person"}
        scope = _affected_persons(records) | deleted_persons
        plan = (
            await _feed_plan(ctx, records, deleted_persons, scope) if records or deleted_persons else Plan()
        )
        if dry_run:
            reports.append(RunReport("incremental", None, plan, message_no=batch.message_no))
            return reports
        reports.append(await _execute(ctx, "incremental", plan, scope, records, batch.message_no))
        if not batch.has_more:
            break
    if reports:
        reports[0].resumed = resumed
    return reports


async def due(ctx: SyncContext, *, dry_run: bool = False) -> RunReport:
    """Apply future-dated changes whose day has come (transfers, dismissals, hires)."""
    if dry_run:
        return await _due(ctx, dry_run=True)
    async with _lease(ctx):
        return await _due(ctx)


async def _due(ctx: SyncContext, *, dry_run: bool = False) -> RunReport:
    ctx = await _dated(ctx)
    with SyncUnitOfWork(ctx.sessions) as uow:
        refs = set(uow.replica.due_persons(_today(ctx)))
        data = uow.replica.source(refs)
    plan = await _plan(ctx, _desired(ctx, data, refs), refs)
    if dry_run:
        return RunReport("due", None, plan)
    report = await _execute(ctx, "due", plan, refs, [], None)
    with SyncUnitOfWork(ctx.sessions) as uow:
        uow.replica.mark_due_applied(refs, _today(ctx))
    return report


@dataclass
class ReconcileReport(RunReport):
    drift: list[Drift] = field(default_factory=list)


async def reconcile(ctx: SyncContext, *, dry_run: bool = False) -> ReconcileReport:
    """Repair drift between Bitrix24 and the mirrored state (dry run: only report it).

    Bitrix24's users are compared a batched read at a time (sync/reconcile.py), never held all at once.
    """
    if dry_run:
        return await _reconcile(ctx, dry_run=True)
    async with _lease(ctx):
        return await _reconcile(ctx)


async def _reconcile(ctx: SyncContext, *, dry_run: bool = False) -> ReconcileReport:
    ctx = await _dated(ctx)
    resumed = [] if dry_run else await _resume(ctx)
    repair = await plan_repair(ctx.b24, ctx.sessions, ctx.mapping, _today(ctx))
    if dry_run:
        return ReconcileReport("reconcile", None, repair.plan, drift=repair.drift)
    report = await _execute(ctx, "reconcile", repair.plan, repair.scope, [], None)
    return ReconcileReport(
        "reconcile", report.run_id, repair.plan, report.applied, resumed, drift=repair.drift
    )


async def auto(ctx: SyncContext) -> list[RunReport]:
    """Full until a full mirror has committed (the feed only carries what changed since), then incremental."""
    async with _lease(ctx):
        with SyncUnitOfWork(ctx.sessions) as uow:
            mirrored = uow.runs.has_committed_full_run()
        if not mirrored:
            return [await full(ctx)]
        return await incremental(ctx)
