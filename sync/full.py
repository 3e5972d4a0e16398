"""The full run's reads and planning, a page of 1C and a chunk of persons at a time.

The snapshot goes into the replica page by page; only the reference data (organisations, departments,
positions) and the refs of what 1C sent are held. Persons are then mapped ``PERSON_CHUNK`` at a time, in
ref order, from the replica, and planned in a second pass: the plan's cross-person rules need what the
first pass learns — the owner of each e-mail (the other holders are parked as duplicates) and the unlinked
persons Bitrix24 is asked about (adoption). Between the passes each chunk's desired users wait pickled and
compressed in memory (a few hundred bytes a person; mapping them again would cost the phone parsing
twice). The second pass hands each chunk's plan to a sink: the run's ledger, or for a dry run one plan in
memory. So memory grows with the refs and those bytes, not with the persons' records.
"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from connectors.bitrix24 import directory
from connectors.bitrix24.port import Bitrix24Port
from connectors.onec.port import Department, Employee, OneCPort, Organization, Person, Position
from mappings import DesiredDepartment, DesiredGroup, DesiredState, DesiredUser
from mappings import Mapping as MappingRules
from sync import extract
from sync.map import map_groups, map_intranet, map_person
from sync.model import Link, Plan, link_key
from sync.plan import AdoptionIndex, EmailOwners, Memberships, plan_departments, plan_groups, plan_users
from sync.source import SourceData
from sync.uow import SyncUnitOfWork

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

GROUP_KINDS = ("organization", "department")
PERSON_CHUNK = 500
"""Persons mapped and planned at a time: their records, desired users and links are what a chunk holds
(a few MB; at 2,000 the chunk's own peak was the largest part of the run's)."""
REPORTED_OPERATIONS = 2000
"""Operations a stored run's report keeps in memory (the ledger holds all; the count is exact)."""

Chunk = tuple[list[str], dict[str, "DesiredUser"], dict[str, Link]]
"""A chunk of persons: their refs, their desired users, their person links (with state)."""
Sink = Callable[[Plan, list[str]], None]
"""Takes one part of the plan and the persons it covered (none for groups and member lists)."""


@dataclass
class Snapshot:
    """What a 1C snapshot sent, as far as planning needs it held in memory."""

    reference: SourceData = field(default_factory=SourceData)
    """Organisations, departments and positions (few)."""
    persons: set[str] = field(default_factory=set)
    employees: set[str] = field(default_factory=set)
    held: SourceData | None = None
    """A dry run writes nothing: everything it read is held here instead of in the replica."""

    def chunk(self, uow: SyncUnitOfWork, refs: list[str]) -> SourceData:
        """The 1C data of these persons: the replica's rows of what this snapshot sent, nothing older."""
        if self.held is not None:
            return self.held
        data = uow.replica.source(refs, reference=self.reference)
        data.persons = {ref: p for ref, p in data.persons.items() if ref in self.persons}
        data.employees = {ref: e for ref, e in data.employees.items() if ref in self.employees}
        data.employees_by_person = {
            person: kept
            for person, employments in data.employees_by_person.items()
            if (kept := [ref for ref in employments if ref in data.employees])
        }
        return data


async def take_snapshot(onec: OneCPort, sessions: sessionmaker[Session], *, store: bool) -> Snapshot:
    """Read every mirrored 1C entity page by page; each page goes to the replica (``store``) or is held."""
    found = Snapshot(held=None if store else SourceData())
    async for page in extract.snapshot(onec):
        for record in page:
            if isinstance(record, Person):
                found.persons.add(record.ref)
            elif isinstance(record, Employee):
                found.employees.add(record.ref)
            elif isinstance(record, Organization | Department | Position):
                found.reference.add(record)
            if found.held is not None:
                found.held.add(record)
        if store:
            with SyncUnitOfWork(sessions) as uow:
                uow.replica.save(page, uow.replica.hashes(page))
    return found


@dataclass
class Prepared:
    """What every chunk is planned against: groups, links of groups, the cross-person maps, Bitrix24's."""

    snapshot: Snapshot
    mapping: MappingRules
    today: date
    scope: list[str]
    """Persons in the snapshot and persons linked (those gone from 1C are deactivated), sorted."""
    groups: dict[str, DesiredGroup]
    departments: dict[str, DesiredDepartment]
    links: dict[str, Link]
    """Links of groups and intranet departments."""
    quarantined: dict[str, str | None]
    owners: dict[str, str] = field(default_factory=dict)
    index: AdoptionIndex = field(default_factory=AdoptionIndex)
    existing_groups: dict[str, int] = field(default_factory=dict)
    mapped_chunks: list[bytes] = field(default_factory=list)
    """Each chunk's refs and desired users from the first pass, pickled and compressed (our own bytes)."""

    def map_chunks(self, uow: SyncUnitOfWork) -> Iterator[Chunk]:
        """Each chunk of the scope mapped: its refs, their desired users, their person links (with state)."""
        intranet = frozenset(self.departments)
        for start in range(0, len(self.scope), PERSON_CHUNK):
            refs = self.scope[start : start + PERSON_CHUNK]
            data = self.snapshot.chunk(uow, refs)
            links = uow.links.load(["person"], refs)
            users: dict[str, DesiredUser] = {}
            for ref in refs:
                user = map_person(data, self.mapping, ref, self.today, self.groups, intranet)
                if user is not None:
                    users[ref] = user
            self.mapped_chunks.append(zlib.compress(pickle.dumps((refs, users), pickle.HIGHEST_PROTOCOL), 1))
            yield refs, users, links

    def planned_chunks(self, uow: SyncUnitOfWork) -> Iterator[Chunk]:
        """The first pass's chunks again, each with its person links read afresh; each freed once used."""
        while self.mapped_chunks:
            refs, users = pickle.loads(zlib.decompress(self.mapped_chunks.pop(0)))  # our own bytes
            yield refs, users, uow.links.load(["person"], refs)


async def prepare(
    b24: Bitrix24Port,
    sessions: sessionmaker[Session],
    mapping: MappingRules,
    today: date,
    snapshot: Snapshot,
) -> Prepared:
    """The first pass (e-mail owners, unlinked persons) and Bitrix24's reads (adoption, unlinked groups)."""
    with SyncUnitOfWork(sessions) as uow:
        links = uow.links.load((*GROUP_KINDS, "intranet"))
        quarantined = uow.quarantine.open()
        linked = uow.links.linked_refs()
    prepared = Prepared(
        snapshot,
        mapping,
        today,
        sorted(snapshot.persons | linked),
        map_groups(snapshot.reference, mapping, today),
        map_intranet(snapshot.reference, mapping, today),
        links,
        quarantined,
    )
    del linked
    owners = EmailOwners()
    unlinked: list[tuple[str, str | None]] = []
    with SyncUnitOfWork(sessions) as uow:
        for refs, users, person_links in prepared.map_chunks(uow):
            for ref in refs:
                user = users.get(ref)
                if user is None:
                    continue
                key = link_key("person", ref)
                owners.note(user, person_links.get(key))
                if (
                    key not in person_links
                    and not user.problems
                    and len(unlinked) <= extract.TARGETED_LOOKUP_LIMIT
                ):
                    unlinked.append((ref, user.email))  # past the limit every user is read: no need for more
    prepared.owners = owners.owners
    prepared.index = AdoptionIndex(await extract.adoption_candidates(b24, unlinked))
    if any(key not in links for key in prepared.groups):
        linked_ids = {link.b24_id for link in links.values() if link.kind in GROUP_KINDS}
        prepared.existing_groups = {
            g.name: g.id for g in await directory.all_groups(b24) if g.id not in linked_ids
        }
    return prepared


def plan_chunks(uow: SyncUnitOfWork, prepared: Prepared, sink: Sink) -> None:
    """The second pass: departments and groups, each chunk of persons, then the member lists, to ``sink``."""
    head = Plan()
    desired = DesiredState(groups=prepared.groups, departments=prepared.departments)
    plan_departments(desired, prepared.links, head)
    plan_groups(desired, prepared.links, head, prepared.existing_groups)
    sink(head, [])
    memberships = Memberships()
    for refs, users, person_links in prepared.planned_chunks(uow):
        part = Plan()
        chunk = DesiredState(groups=prepared.groups, users=users)
        plan_users(
            chunk,
            refs,
            person_links,
            prepared.index,
            prepared.quarantined,
            part,
            prepared.owners,
            memberships,
        )
        sink(part, refs)
    tail = Plan()
    memberships.plan(tail)
    sink(tail, [])


def gather(plan: Plan) -> Sink:
    """A sink that keeps every part in one plan (a dry run)."""

    def take(part: Plan, _refs: list[str]) -> None:
        plan.operations.extend(part.operations)
        plan.quarantined.extend(part.quarantined)
        plan.warnings.extend(part.warnings)
        plan.cleared.extend(part.cleared)
        plan.due.update(part.due)

    return take


def keep_for_report(plan: Plan, part: Plan) -> None:
    """Keep what the report shows of a stored part: quarantine, and operations up to the limit."""
    plan.quarantined.extend(part.quarantined)
    room = max(0, REPORTED_OPERATIONS - len(plan.operations))
    plan.operations.extend(part.operations[:room])
    for operation in part.operations[room:]:
        plan.stored_only[operation.op] = plan.stored_only.get(operation.op, 0) + 1
