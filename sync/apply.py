"""Apply a stored plan to Bitrix24 in batches of up to 50 calls, committing state after each batch.

Per batch: mark the items started (commit), send one ``batch``, then record every outcome and the
confirmed state it implies (commit). An item found "started" after a crash is checked first — a user
by ``XML_ID``, a group by name — and only re-sent if Bitrix24 does not have it (style brief §1).
Refusals (bad e-mail, e-mail taken, …) quarantine the person; transient failures leave the item
failed for the next run; configuration failures (auth, scope) abort the run (it ends ``aborted``).

Each typed operation (sync/operations.py) has one entry in ``HANDLERS``: its REST call, what a success
confirms, and for creations how to look the object up. Every write goes through a ``SyncUnitOfWork``;
before each batch the sync lease is checked, so a process that lost it writes nothing more.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from connectors.bitrix24 import directory
from connectors.bitrix24.port import Bitrix24Port, Call, CallError, CallOutcome
from core.errors import Action, SyncError
from core.ids import B24UserId
from sync import lease as sync_lease
from sync.ledger import Item
from sync.model import STAGES, Link, Quarantine, RunStatus, link_key
from sync.operations import (
    AddMembers,
    AdoptUser,
    CreateDepartment,
    CreateGroup,
    CreateUser,
    Fields,
    Operation,
    RemoveMembers,
    UpdateDepartment,
    UpdateGroup,
    UpdateUser,
)
from sync.uow import SyncUnitOfWork

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

BATCH_LIMIT = 50  # bitrix24-rest.md §7: at most 50 commands per batch
ITEM_CHUNK = 2000
"""Plan items read from the ledger at a time."""
NOTHING_TO_SEND = Call("")
"""An item left with no one to act on (every person of a member list was parked): done without a call."""
UNKNOWN_PASSES = 3
"""How often a stage re-checks and re-sends writes whose answer was lost before giving up on them."""


class RunAborted(SyncError):
    """Bitrix24 refused the bridge itself (credentials, scope, portal): nothing more can be applied."""


@dataclass
class ApplyStats:
    done: int = 0
    failed: int = 0
    quarantined: int = 0
    calls: int = 0
    by_op: dict[str, int] = field(default_factory=dict)


REFUSED = frozenset({Action.QUARANTINE, Action.FAIL})
"""Actions that refuse this item's data: a person is parked in quarantine, anything else fails."""


def _reason(error: CallError) -> tuple[str, str]:
    code = error.code or "refused"
    description = error.description or error.operator_message or str(error)
    return code, f"Bitrix24 refused: {code} {description}".strip()


def _levels(items: Sequence[Item]) -> list[list[Item]]:
    """Consecutive runs of items of the same department depth (other items have none: one run)."""
    runs: list[list[Item]] = []
    for item in items:
        depth = getattr(item.operation, "depth", None)
        if runs and getattr(runs[-1][0].operation, "depth", None) == depth:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


class Applier:
    """Applies the open items of one run.

    ``links`` holds the groups and intranet departments (few; the ones confirmed are added as it goes).
    Persons' user ids are read from the store only for the batch that needs them (member lists), so
    memory does not grow with the portal.
    """

    def __init__(
        self,
        port: Bitrix24Port,
        sessions: sessionmaker[Session],
        run_id: int,
        links: dict[str, Link],
        batch_size: int = BATCH_LIMIT,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        self.port = port
        self.sessions = sessions
        self.run_id = run_id
        self.links = links
        self.batch_size = min(batch_size, BATCH_LIMIT)
        self.on_progress = on_progress
        self.stats = ApplyStats()
        self._unknown: list[Item] = []
        """Items whose write may have run although no answer came: checked, then re-sent if absent."""
        self._user_ids: dict[str, int | None] = {}
        """Person ref → Bitrix24 user id, read from the store for the batch at hand (member lists)."""
        self._links_due: dict[tuple[str, str], tuple[int | None, dict[str, Any]]] = {}
        self._invitations_due: dict[str, B24UserId] = {}
        """person ref → user id created (user.add sent the first invitation itself)."""
        self._done_due: list[int] = []
        self._memberships_due: dict[str, dict[str, bool]] = {}
        """person ref → {group key: joined (True) or left (False)} confirmed in this batch."""

    async def run(self) -> ApplyStats:
        with SyncUnitOfWork(self.sessions) as uow:
            uow.runs.set_status(self.run_id, RunStatus.APPLYING)
        for stage in STAGES:
            after = -1
            while True:  # a chunk of items at a time keeps memory flat on large plans
                with SyncUnitOfWork(self.sessions) as uow:
                    items = uow.runs.open_items(self.run_id, stage, after_seq=after, limit=ITEM_CHUNK)
                if not items:
                    break
                after = items[-1].seq
                settled = await self._verify_started([i for i in items if i.started_before])
                items = [i for i in items if i.id not in settled]
                for level in _levels(items):  # a department's parent is created before it
                    for start in range(0, len(level), self.batch_size):
                        await self._apply_batch(level[start : start + self.batch_size])
            for _ in range(UNKNOWN_PASSES):
                if not self._unknown:
                    break
                unknown, self._unknown = self._unknown, []
                settled = await self._verify_started(unknown)
                again = [i for i in unknown if i.id not in settled]
                for start in range(0, len(again), self.batch_size):
                    await self._apply_batch(again[start : start + self.batch_size])
            if self._unknown:
                with SyncUnitOfWork(self.sessions) as uow:
                    uow.runs.mark([i.id for i in self._unknown], "failed", error="outcome unknown")
                self.stats.failed += len(self._unknown)
                self._unknown = []
        return self.stats

    # -- one batch ---------------------------------------------------------------------------------
    async def _apply_batch(self, items: Sequence[Item]) -> None:
        held = sync_lease.current()
        if held is not None:
            held.check()  # a process that lost the lease writes nothing more
        calls: list[Call] = []
        sendable: list[Item] = []
        skipped: list[Item] = []
        self._read_user_ids(items)
        for item in items:
            call = self._call_for(item, label=f"i{item.id}")
            if call is None:
                skipped.append(item)
            elif call is NOTHING_TO_SEND:
                self._done_due.append(item.id)  # marked done with the batch's outcomes
                self.stats.done += 1
            else:
                calls.append(call)
                sendable.append(item)
        with SyncUnitOfWork(self.sessions) as uow:
            uow.runs.mark([i.id for i in sendable], "started")
            for item in skipped:
                uow.runs.mark([item.id], "failed", error="a group or user it needs is not in Bitrix24 yet")
                self.stats.failed += 1
        outcomes = await self.port.batch(calls) if calls else []
        self.stats.calls += len(calls)
        refused_users: list[tuple[Item, CallOutcome]] = []
        with SyncUnitOfWork(self.sessions) as uow:
            for item, outcome in zip(sendable, outcomes, strict=True):
                refused = outcome.error is not None and outcome.error.action in REFUSED
                if isinstance(item.operation, CreateUser) and refused:
                    refused_users.append((item, outcome))
                else:
                    self._record(uow, item, outcome)
            self._flush(uow)
        if refused_users:
            # A user.add refused as a duplicate may be our own from a retried batch whose answer was
            # lost (the portal ran it): look for the person's XML_ID before parking anyone.
            settled = await self._verify_started([item for item, _ in refused_users])
            with SyncUnitOfWork(self.sessions) as uow:
                for item, outcome in refused_users:
                    if item.id not in settled:
                        self._record(uow, item, outcome)
                self._flush(uow)
        if self.on_progress:
            self.on_progress(len(items))

    def _call_for(self, item: Item, label: str) -> Call | None:
        return HANDLERS[type(item.operation)].call(self, item.operation, label)

    # -- the calls, one per kind of operation ------------------------------------------------------
    def _parent_id(self, fields: Fields) -> int | None:
        parent = fields.get("PARENT_KEY")
        return int(fields["PARENT_ID"]) if parent is None else self._group_id(str(parent))

    def _create_department(self, op: CreateDepartment, label: str) -> Call | None:
        parent = self._parent_id(op.fields)
        return (
            None if parent is None else directory.create_department(op.fields[directory.NAME], parent, label)
        )

    def _update_department(self, op: UpdateDepartment, label: str) -> Call | None:
        parent = self._parent_id(op.fields)
        if parent is None:
            return None
        return directory.update_department(op.department_id, op.fields[directory.NAME], parent, label)

    def _create_group(self, op: CreateGroup, label: str) -> Call:
        return directory.create_group(op.fields, label)

    def _update_group(self, op: UpdateGroup, label: str) -> Call:
        return directory.update_group(op.group_id, op.fields, label)

    def _create_user(self, op: CreateUser, label: str) -> Call | None:
        if directory.DEPARTMENTS in op.fields:
            departments = self._department_ids(op.fields[directory.DEPARTMENTS])
            return directory.create_employee(op.fields, departments, label) if departments else None
        group_ids = [g for g in (self._group_id(k) for k in op.groups) if g is not None]
        return directory.create_user(op.fields, group_ids, label) if group_ids else None

    def _update_user(self, op: AdoptUser | UpdateUser, label: str) -> Call:
        fields = dict(op.fields)
        if isinstance(fields.get(directory.DEPARTMENTS), list):
            fields[directory.DEPARTMENTS] = self._department_ids(fields[directory.DEPARTMENTS])
        if isinstance(op, AdoptUser):
            fields.setdefault(directory.XML_ID, op.ref)
        return directory.update_user(op.user_id, fields, label)

    def _add_members(self, op: AddMembers, label: str) -> Call | None:
        group_id = self._group_id(op.group_key)
        if group_id is None:
            return None
        user_ids = [u for u in (self._user_id(r) for r in op.person_refs) if u is not None]
        return directory.add_members(group_id, user_ids, label) if user_ids else NOTHING_TO_SEND

    def _remove_members(self, op: RemoveMembers, label: str) -> Call | None:
        group_id = self._group_id(op.group_key)
        return None if group_id is None else directory.remove_members(group_id, op.user_ids, label)

    def _department_ids(self, keys: list[str]) -> list[int]:
        return [d for d in (self._group_id(k) for k in keys) if d is not None]

    def _group_id(self, key: str) -> int | None:
        link = self.links.get(key)
        return link.b24_id if link else None

    def _user_id(self, person_ref: str) -> int | None:
        return self._user_ids.get(person_ref)

    def _read_user_ids(self, items: Sequence[Item]) -> None:
        """The user ids the batch's member lists name (confirmed by earlier batches: committed)."""
        refs = {r for i in items if isinstance(i.operation, AddMembers) for r in i.operation.person_refs}
        if not refs:
            self._user_ids = {}
            return
        with SyncUnitOfWork(self.sessions) as uow:
            found = uow.links.user_ids(refs)
        self._user_ids = {ref: found.get(ref) for ref in refs}

    # -- outcomes ----------------------------------------------------------------------------------
    def _flush(self, uow: SyncUnitOfWork) -> None:
        """Write what the batch confirmed in a few statements (links, invitations, done items)."""
        uow.links.save(self._links_due)
        uow.links.apply_memberships(self._memberships_due)
        uow.invitations.record_sent_by_bitrix24(self._invitations_due)
        uow.runs.mark(self._done_due, "done")
        self._links_due, self._invitations_due, self._done_due = {}, {}, []
        self._memberships_due = {}

    def _record(self, uow: SyncUnitOfWork, item: Item, outcome: CallOutcome) -> None:
        error = outcome.error
        if error is None:
            HANDLERS[type(item.operation)].confirm(self, item.operation, outcome.result)
            self._done_due.append(item.id)
            self.stats.done += 1
            self.stats.by_op[item.op] = self.stats.by_op.get(item.op, 0) + 1
            return
        code, reason = _reason(error)
        if error.outcome_unknown:
            self._unknown.append(item)  # stays "started": checked before it is sent again
            return
        if error.action is Action.FAIL_CONFIG:
            uow.runs.mark([item.id], "failed", error=reason)
            raise RunAborted(f"Bitrix24 refused the bridge's credentials or scope ({code})")
        if error.action in REFUSED and item.kind == "person":
            # Parked with the planner's hash of the desired state: it is retried when 1C changes it.
            digest = getattr(item.operation, "digest", None)
            uow.quarantine.park(Quarantine("person", item.ref, code, reason, digest))
            uow.runs.mark([item.id], "quarantined", error=reason)
            self.stats.quarantined += 1
            return
        uow.runs.mark([item.id], "failed", error=reason)
        self.stats.failed += 1

    # -- what a confirmed call leaves behind, one per kind of operation ----------------------------
    def _department_done(self, op: CreateDepartment | UpdateDepartment, result: Any) -> None:
        department_id = int(result) if isinstance(op, CreateDepartment) else int(op.department_id)
        self._save("intranet", op.ref, department_id, {"fields": op.fields}, key=op.key)

    def _group_done(self, op: CreateGroup | UpdateGroup, result: Any) -> None:
        if isinstance(op, CreateGroup):
            self._save(op.kind, op.ref, int(result), {"fields": op.fields}, key=op.key)
        else:
            self._save(op.kind, op.ref, int(op.group_id), op.state or {"fields": op.fields}, key=op.key)

    def _user_created(self, op: CreateUser, result: Any) -> None:
        self._save("person", op.ref, int(result), {"fields": op.fields, "groups": [], "active": True})
        # user.add itself e-mails the first invitation (bitrix24-rest.md §2.1): record it.
        self._invitations_due[op.ref] = B24UserId(int(result))

    def _user_updated(self, op: AdoptUser | UpdateUser, _result: Any) -> None:
        self._save("person", op.ref, int(op.user_id), op.state)

    def _members_done(self, op: AddMembers | RemoveMembers, _result: Any) -> None:
        joined = isinstance(op, AddMembers)
        for ref in op.person_refs:
            self._memberships_due.setdefault(ref, {})[op.group_key] = joined

    def _save(
        self,
        kind: str,
        ref: str,
        b24_id: int | None,
        state: dict[str, Any],
        key: str | None = None,
    ) -> None:
        self._links_due[(kind, ref)] = (b24_id, state)
        if kind != "person":  # groups and departments stay at hand; persons are read when needed
            self.links[key or link_key(kind, ref)] = Link(kind, ref, b24_id, {})

    # -- resume after a crash ----------------------------------------------------------------------
    async def _verify_started(self, items: Sequence[Item]) -> set[int]:
        """For items whose outcome a crash left unknown, look in Bitrix24 before re-sending.

        Returns the ids of the items found done; the others are re-sent as usual.
        """
        lookups: list[tuple[Item, Call]] = []
        for item in items:
            lookup = HANDLERS[type(item.operation)].lookup
            call = lookup(item.operation, f"v{item.id}") if lookup is not None else None
            if call is not None:
                lookups.append((item, call))
        settled: set[int] = set()
        if not lookups:
            return settled
        outcomes = await self.port.batch([call for _, call in lookups])
        with SyncUnitOfWork(self.sessions) as uow:
            for (item, _call), outcome in zip(lookups, outcomes, strict=True):
                found_id = directory.found_id(outcome.result) if outcome.ok else None
                if found_id is None:
                    continue  # not there: the item is re-sent as usual
                HANDLERS[type(item.operation)].confirm(self, item.operation, found_id)
                self._done_due.append(item.id)
                self.stats.done += 1
                settled.add(item.id)
            self._flush(uow)
        return settled


@dataclass(frozen=True)
class Handler:
    """How apply carries out one kind of operation."""

    call: Callable[[Applier, Any, str], Call | None]
    """The REST call (None: something it needs is not in Bitrix24 yet; NOTHING_TO_SEND: done as is)."""
    confirm: Callable[[Applier, Any, Any], None]
    """Record what a successful call (or a lookup that found the object) leaves behind."""
    lookup: Callable[[Any, str], Call] | None = None
    """For creations: how to find the object when a crash or a lost answer left the outcome unknown."""


HANDLERS: dict[type[Operation], Handler] = {
    CreateDepartment: Handler(
        Applier._create_department,
        Applier._department_done,
        lambda op, label: directory.find_department_by_name(op.fields[directory.NAME], label),
    ),
    UpdateDepartment: Handler(Applier._update_department, Applier._department_done),
    CreateGroup: Handler(
        Applier._create_group,
        Applier._group_done,
        lambda op, label: directory.find_group_by_name(op.fields[directory.NAME], label),
    ),
    UpdateGroup: Handler(Applier._update_group, Applier._group_done),
    CreateUser: Handler(
        Applier._create_user,
        Applier._user_created,
        lambda op, label: directory.find_users(xml_id=op.ref, label=label),
    ),
    AdoptUser: Handler(Applier._update_user, Applier._user_updated),
    UpdateUser: Handler(Applier._update_user, Applier._user_updated),
    AddMembers: Handler(Applier._add_members, Applier._members_done),
    RemoveMembers: Handler(Applier._remove_members, Applier._members_done),
}
"""One entry per operation class; sync.operations.decode refuses an op it does not know."""
