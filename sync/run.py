"""Put the stages in order: extract → map → diff/plan → apply → commit. Nothing else lives here.

`sync` first finishes an unfinished run (dlt's rule), then asks 1C for more. The change feed is
acknowledged only by the next GetChanges call, after the run that carried it committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from connectors.bitrix24 import directory
from connectors.bitrix24.port import Bitrix24Port
from connectors.errors import SyncError
from connectors.onec.port import Employee, OneCPort, Person, Record
from mappings import DesiredState, Mapping
from sync import commit, extract, ledger, state
from sync.apply import Applier, ApplyStats
from sync.map import map_groups, map_intranet, map_person
from sync.model import Plan, link_key
from sync.plan import AdoptionIndex, make_plan, plan_departments, plan_groups, plan_users
from sync.reconcile import ActualState, Drift, group_links, member_index, person_links, strays
from sync.source import SourceData, entity_of

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
    groups = map_groups(data, ctx.mapping, _today(ctx))
    departments = map_intranet(data, ctx.mapping, _today(ctx))
    intranet = frozenset(departments)
    users = {}
    for ref in persons:
        user = map_person(data, ctx.mapping, ref, _today(ctx), groups, intranet)
        if user is not None:
            users[ref] = user
    return DesiredState(groups=groups, users=users, departments=departments)


async def _plan(ctx: SyncContext, desired: DesiredState, scope: set[str]) -> Plan:
    with ctx.sessions() as session:
        links = state.load_links(session, (*GROUP_KINDS, "intranet"))
        links.update(state.load_links(session, ["person"], None if len(scope) > 5000 else scope))
        quarantined = state.load_quarantine(session)
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
    with ctx.sessions() as session:
        links = state.load_links(session, with_state=False)
    stats = await Applier(ctx.b24, ctx.sessions, run_id, links, ctx.batch_size, ctx.on_progress).run()
    with ctx.sessions.begin() as session:
        ledger.set_status(session, run_id, "committed", **{"applied": vars(stats)})
    return stats


def _record_plan(session: Session, plan: Plan, scope: Iterable[str]) -> None:
    for item in plan.quarantined:
        commit.park(session, item)
    for kind, ref in plan.cleared:
        commit.clear_quarantine(session, kind, [ref])
    commit.record_warnings(session, plan.warnings, scope)
    commit.schedule_due(session, plan.due, scope)


async def resume(ctx: SyncContext) -> list[int]:
    """Finish runs a crash left open; their 1C messages are then committed as acknowledged."""
    finished: list[int] = []
    while True:
        with ctx.sessions() as session:
            run = ledger.unfinished_run(session)
            pending = (run.id, run.onec_message_no) if run else None
        if pending is None:
            return finished
        run_id, message_no = pending
        await _apply(ctx, run_id)
        if message_no is not None:
            with ctx.sessions.begin() as session:
                commit.save_cursor(session, message_no)
        finished.append(run_id)


async def _execute(
    ctx: SyncContext,
    mode: ledger.TRunMode,
    plan: Plan,
    scope: set[str],
    records: list[Record],
    message_no: int | None,
) -> RunReport:
    with ctx.sessions.begin() as session:
        if records:
            commit.save_replica(session, records, state.replica_hashes(session, records))
        _record_plan(session, plan, scope)
        run_id = ledger.start_run(
            session, mode, plan.operations, message_no=message_no, stats={"planned": plan.count()}
        )
    applied = await _apply(ctx, run_id)
    if message_no is not None:
        with ctx.sessions.begin() as session:
            commit.save_cursor(session, message_no)
    return RunReport(mode, run_id, plan, applied, message_no=message_no)


async def full(ctx: SyncContext, *, dry_run: bool = False) -> RunReport:
    """Mirror everything from a 1C snapshot; persons gone from 1C are deactivated."""
    ctx = await _dated(ctx)
    resumed = [] if dry_run else await resume(ctx)
    records = await extract.snapshot(ctx.onec)
    data = SourceData()
    for record in records:
        data.add(record)
    if not dry_run:
        with ctx.sessions.begin() as session:
            commit.save_replica(session, records, state.replica_hashes(session))
    with ctx.sessions() as session:
        linked = {link.ref for link in state.load_links(session, ["person"], with_state=False).values()}
    scope = set(data.persons) | linked
    desired = _desired(ctx, data, scope)
    del records, data  # the records are in the replica now; only the desired state is needed from here
    plan = await _plan(ctx, desired, scope)
    del desired
    if dry_run:
        return RunReport("full", None, plan)
    report = await _execute(ctx, "full", plan, scope, [], None)
    report.resumed = resumed
    return report


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
    ctx = await _dated(ctx)
    resumed = [] if dry_run else await resume(ctx)
    reports: list[RunReport] = []
    while True:
        with ctx.sessions() as session:
            ack = state.committed_message_no(session)
        batch = await extract.changes(ctx.onec, ack, max_items)
        records = [
            c.record for c in batch.items if c.record is not None and entity_of(c.record) != "RequestStatus"
        ]
        deleted_persons = {c.ref for c in batch.items if c.deleted and c.entity == "Person"}
        scope = _affected_persons(records) | deleted_persons
        with ctx.sessions() as session:
            data = state.load_source(session, scope)
        for record in records:
            data.add(record)
        for ref in deleted_persons:
            data.persons.pop(ref, None)
        plan = await _plan(ctx, _desired(ctx, data, scope), scope)
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
    ctx = await _dated(ctx)
    with ctx.sessions() as session:
        refs = set(state.due_persons(session, _today(ctx)))
        data = state.load_source(session, refs)
    plan = await _plan(ctx, _desired(ctx, data, refs), refs)
    if dry_run:
        return RunReport("due", None, plan)
    report = await _execute(ctx, "due", plan, refs, [], None)
    with ctx.sessions.begin() as session:
        commit.mark_due_applied(session, refs, _today(ctx))
    return report


@dataclass
class ReconcileReport(RunReport):
    drift: list[Drift] = field(default_factory=list)


async def _actual_state(ctx: SyncContext, group_ids: Iterable[int]) -> ActualState:
    actual = ActualState()
    for user in await extract.all_users(ctx.b24):
        actual.users[user.id] = user
    for group in await directory.all_groups(ctx.b24):
        actual.groups[group.id] = group.fields
    wanted = [g for g in group_ids if g in actual.groups]
    calls = [directory.group_members(g, label=f"g{g}") for g in wanted]
    for group_id, outcome in zip(wanted, await ctx.b24.batch(calls) if calls else [], strict=True):
        rows = outcome.result if outcome.ok and isinstance(outcome.result, list) else []
        actual.members[group_id] = {int(r["USER_ID"]) for r in rows}
    return actual


RECONCILE_CHUNK = 5000
"""Persons compared at a time, so reconciling 50,000 people stays within a few hundred MB."""


async def reconcile(ctx: SyncContext, *, dry_run: bool = False) -> ReconcileReport:
    """Repair drift between Bitrix24 and the mirrored state (dry run: only report it).

    Bitrix24's actual state is read once; persons are then compared and planned in chunks.
    """
    ctx = await _dated(ctx)
    resumed = [] if dry_run else await resume(ctx)
    with ctx.sessions() as session:
        stored_groups = state.load_links(session, GROUP_KINDS)
        stored_departments = state.load_links(session, ["intranet"])
        linked = state.linked_persons(session)
        quarantined = state.load_quarantine(session)
        known = state.person_refs(session)
        reference = state.load_source(session, [])
    group_ids = [link.b24_id for link in stored_groups.values() if link.b24_id]
    actual = await _actual_state(ctx, group_ids)
    glinks, drift, group_by_id = group_links(stored_groups, actual)
    groups_of = member_index(actual, group_by_id)
    stray_drift, adoptable = strays(actual, linked.values(), known)
    desired_groups = map_groups(reference, ctx.mapping, _today(ctx))
    departments = map_intranet(reference, ctx.mapping, _today(ctx))
    intranet = frozenset(departments)
    department_by_id = {link.b24_id: key for key, link in stored_departments.items() if link.b24_id}
    plan = Plan()
    plan_departments(DesiredState(departments=departments), stored_departments, plan)
    plan_groups(DesiredState(groups=desired_groups), glinks, plan)
    index = AdoptionIndex(adoptable)
    scope = sorted(set(known) | set(linked))
    for start in range(0, len(scope), RECONCILE_CHUNK):
        chunk = scope[start : start + RECONCILE_CHUNK]
        with ctx.sessions() as session:
            data = state.load_source(session, chunk, reference=reference)
            stored = state.load_links(session, ["person"], chunk)
        users = {}
        for ref in chunk:
            user = map_person(data, ctx.mapping, ref, _today(ctx), desired_groups, intranet)
            if user is not None:
                users[ref] = user
        plinks, person_drift = person_links(stored, actual, groups_of, department_by_id)
        drift.extend(person_drift)
        desired = DesiredState(groups=desired_groups, users=users)
        plan_users(desired, chunk, {**glinks, **stored_departments, **plinks}, index, quarantined, plan)
    drift.extend(stray_drift)
    del actual
    if dry_run:
        return ReconcileReport("reconcile", None, plan, drift=drift)
    report = await _execute(ctx, "reconcile", plan, set(scope), [], None)
    return ReconcileReport("reconcile", report.run_id, plan, report.applied, resumed, drift=drift)


async def auto(ctx: SyncContext) -> list[RunReport]:
    """Full until a full mirror has committed (the feed only carries what changed since), then incremental."""
    with ctx.sessions() as session:
        mirrored = state.has_committed_full_run(session)
    if not mirrored:
        return [await full(ctx)]
    return await incremental(ctx)
