"""Reconcile's reads and planning: Bitrix24's users compared as they are read, never all held at once.

One batched request brings 2,500 users; they are compared (sync/reconcile.py) against the links the store
holds for them and their persons planned ``PLAN_CHUNK`` at a time, so memory does not grow with the
portal. Groups and member lists (far fewer; member rows turned into ids 200 groups at a time) are read
first. Persons whose user never showed up, and persons with no
link, are planned last, with the users carrying their 1C refs as adoption candidates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from connectors.bitrix24 import directory
from connectors.bitrix24.port import Bitrix24Port
from mappings import DesiredState, DesiredUser
from mappings import Mapping as MappingRules
from sync import extract, state
from sync.map import map_groups, map_intranet, map_person
from sync.model import ExistingUser, Link, Plan
from sync.plan import AdoptionIndex, plan_departments, plan_groups, plan_users
from sync.reconcile import ActualState, Drift, group_links, member_index, person_links, strays


@dataclass
class Repair:
    """What reconcile found and plans: the repair, the drift, and the persons it covered."""

    plan: Plan
    drift: list[Drift]
    scope: set[str]


GROUP_KINDS = ("organization", "department")
PLAN_CHUNK = 500
"""Persons planned at a time (their 1C records and links read, mapped, compared): the full run's chunk."""


class _Planner:
    """Plans persons chunk by chunk against the actual state of their users."""

    def __init__(
        self, sessions: sessionmaker[Session], mapping: MappingRules, today: date, plan: Plan
    ) -> None:
        self.sessions = sessions
        self.mapping = mapping
        self.today = today
        self.plan = plan
        self.drift: list[Drift] = []
        with sessions() as session:
            self.stored_groups = state.load_links(session, GROUP_KINDS)
            self.stored_departments = state.load_links(session, ["intranet"])
            self.quarantined = state.load_quarantine(session)
            self.reference = state.load_source(session, [])
        self.desired_groups = map_groups(self.reference, mapping, today)
        departments = map_intranet(self.reference, mapping, today)
        self.intranet = frozenset(departments)
        self.department_by_id = {
            link.b24_id: key for key, link in self.stored_departments.items() if link.b24_id
        }
        plan_departments(DesiredState(departments=departments), self.stored_departments, plan)
        self.group_links: dict[str, Link] = {}
        self.groups_of: Mapping[int, Iterable[str]] = {}

    def set_groups(self, actual: ActualState) -> None:
        self.group_links, drift, group_by_id = group_links(self.stored_groups, actual)
        self.drift.extend(drift)
        self.groups_of = member_index(actual, group_by_id)
        plan_groups(DesiredState(groups=self.desired_groups), self.group_links, self.plan)

    def persons(self, refs: list[str], users: Mapping[int, ExistingUser], index: AdoptionIndex) -> None:
        with self.sessions() as session:
            data = state.load_source(session, refs, reference=self.reference)
            stored = state.load_links(session, ["person"], refs)
        desired: dict[str, DesiredUser] = {}
        for ref in refs:
            user = map_person(data, self.mapping, ref, self.today, self.desired_groups, self.intranet)
            if user is not None:
                desired[ref] = user
        actual = ActualState(users=dict(users))
        plinks, drift = person_links(stored, actual, self.groups_of, self.department_by_id)
        self.drift.extend(drift)
        links = {**self.group_links, **self.stored_departments, **plinks}
        wanted = DesiredState(groups=self.desired_groups, users=desired)
        plan_users(wanted, refs, links, index, self.quarantined, self.plan)


async def plan_repair(
    b24: Bitrix24Port,
    sessions: sessionmaker[Session],
    mapping: MappingRules,
    today: date,
    *,
    users_per_chunk: int = extract.USER_CHUNK,
) -> Repair:
    """Read Bitrix24 (groups and members whole, users a batch at a time) and plan the repair of drift."""
    plan = Plan()
    planner = _Planner(sessions, mapping, today, plan)
    with sessions() as session:
        linked = state.linked_persons(session)
        known = set(state.person_ref_stream(session))
    actual = ActualState()
    for group in await directory.all_groups(b24):
        actual.groups[group.id] = group.fields
    mirrored = [link.b24_id for link in planner.stored_groups.values() if link.b24_id in actual.groups]
    actual.members = await extract.group_members(b24, [g for g in mirrored if g is not None])
    planner.set_groups(actual)
    del actual
    refs_of: dict[int, list[str]] = {}
    for ref, user_id in linked.items():
        refs_of.setdefault(user_id, []).append(ref)
    seen: set[int] = set()
    adoptable: list[ExistingUser] = []
    stray_drift: list[Drift] = []
    async for users in extract.user_chunks(b24, users_per_chunk):
        seen.update(users)
        refs = sorted(ref for user_id in users for ref in refs_of.get(user_id, ()))
        for start in range(0, len(refs), PLAN_CHUNK):
            planner.persons(refs[start : start + PLAN_CHUNK], users, AdoptionIndex())
        drift, found = strays(ActualState(users=dict(users)), refs_of.keys(), known)
        stray_drift.extend(drift)
        adoptable.extend(found)
    rest = sorted({ref for ref, user_id in linked.items() if user_id not in seen} | (known - linked.keys()))
    index = AdoptionIndex(adoptable)
    for start in range(0, len(rest), PLAN_CHUNK):
        planner.persons(rest[start : start + PLAN_CHUNK], {}, index)
    return Repair(plan, planner.drift + stray_drift, known | linked.keys())
