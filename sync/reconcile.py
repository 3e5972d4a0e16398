"""Compare Bitrix24's actual users, groups and memberships with what the bridge mirrored; report drift
and plan its repair (the normal planner, run against the *actual* state instead of the stored one).

Bitrix24's users are compared as they are read, one batched request (2,500 users) at a time, against the
links the store holds for them, so memory does not grow with the portal; groups and member lists (far
fewer) are read whole first. Persons whose user never showed up, and persons with no link, are planned
last, with the users carrying their 1C refs as adoption candidates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from sqlalchemy.orm import Session, sessionmaker

from connectors.bitrix24 import directory
from connectors.bitrix24.port import Bitrix24Port
from mappings import DesiredState, DesiredUser
from mappings import Mapping as MappingRules
from sync import extract, state
from sync.map import map_groups, map_intranet, map_person
from sync.model import ExistingUser, Link, Plan
from sync.plan import AdoptionIndex, plan_departments, plan_groups, plan_users

TDrift = Literal[
    "deactivated",
    "reactivated",
    "fields_changed",
    "left_group",
    "group_missing",
    "group_renamed",
    "user_missing",
    "unknown_xml_id",
]


@dataclass(frozen=True, slots=True)
class Drift:
    kind: TDrift
    ref: str
    b24_id: int | None
    detail: str


@dataclass
class ActualState:
    users: dict[int, ExistingUser] = field(default_factory=dict)
    groups: dict[int, dict[str, Any]] = field(default_factory=dict)
    members: dict[int, set[int]] = field(default_factory=dict)
    """group id → user ids (owner, moderators and members)."""


def group_links(
    stored: Mapping[str, Link], actual: ActualState
) -> tuple[dict[str, Link], list[Drift], dict[int, str]]:
    """Group links as Bitrix24 holds them, group drift, and group id → key."""
    links: dict[str, Link] = {}
    drift: list[Drift] = []
    group_by_id: dict[int, str] = {}
    for key, link in stored.items():
        if link.kind == "person" or link.b24_id is None:
            continue
        row = actual.groups.get(link.b24_id)
        if row is None:
            drift.append(Drift("group_missing", key, link.b24_id, "the group is gone from Bitrix24"))
            continue
        group_by_id[link.b24_id] = key
        # sonet_group.get strips INITIATE_PERMS (bitrix24-rest.md §4.2): keep what we confirmed for it.
        confirmed_fields = link.state.get("fields", {})
        group_fields = {k: _blank(row[k]) if k in row else v for k, v in confirmed_fields.items()}
        if group_fields.get("NAME") != confirmed_fields.get("NAME"):
            drift.append(Drift("group_renamed", key, link.b24_id, "the group was renamed in Bitrix24"))
        links[key] = Link(link.kind, link.ref, link.b24_id, {"fields": group_fields})
    return links, drift, group_by_id


def member_index(actual: ActualState, group_by_id: Mapping[int, str]) -> dict[int, tuple[str, ...]]:
    """User id → keys of the mirrored groups Bitrix24 lists them in (tuples: one per person at scale)."""
    groups_of: dict[int, set[str]] = {}
    for group_id, members in actual.members.items():
        member_of = group_by_id.get(group_id)
        if member_of is None:
            continue
        for user_id in members:
            groups_of.setdefault(user_id, set()).add(member_of)
    return {user_id: tuple(sorted(keys)) for user_id, keys in groups_of.items()}


def person_links(
    stored: Mapping[str, Link],
    actual: ActualState,
    groups_of: Mapping[int, Iterable[str]],
    department_by_id: Mapping[int, str] | None = None,
) -> tuple[dict[str, Link], list[Drift]]:
    """Person links as Bitrix24 holds them (fields, groups, active) and the drift from what was confirmed."""
    links: dict[str, Link] = {}
    drift: list[Drift] = []
    for key, link in stored.items():
        if link.kind != "person" or link.b24_id is None:
            continue
        user = actual.users.get(link.b24_id)
        if user is None:
            drift.append(Drift("user_missing", link.ref, link.b24_id, "the user is not visible in Bitrix24"))
            continue
        confirmed = link.state
        fields: dict[str, Any] = {k: _blank(user.fields.get(k)) for k in confirmed.get("fields", {})}
        if "UF_DEPARTMENT" in fields:  # Bitrix24 holds department ids; the mirror keeps their keys
            ids = user.fields.get("UF_DEPARTMENT") or []
            fields["UF_DEPARTMENT"] = sorted((department_by_id or {}).get(int(i), f"id:{i}") for i in ids)
        if confirmed.get("active", True) and not user.active:
            drift.append(Drift("deactivated", link.ref, user.id, "deactivated by hand in Bitrix24"))
        elif not confirmed.get("active", True) and user.active:
            drift.append(Drift("reactivated", link.ref, user.id, "reactivated by hand in Bitrix24"))
        changed = sorted(k for k, v in fields.items() if _differs(v, confirmed["fields"].get(k)))
        if changed:
            drift.append(
                Drift("fields_changed", link.ref, user.id, "changed in Bitrix24: " + ", ".join(changed))
            )
        groups = set(groups_of.get(user.id, ()))
        if not user.active:
            # sonet_group.user.get lists active users only (bitrix24-rest.md §4.5): nothing to observe.
            groups = set(confirmed.get("groups", []))
        missing = set(confirmed.get("groups", [])) - groups
        if missing:
            drift.append(Drift("left_group", link.ref, user.id, f"not in {len(missing)} of its groups"))
        links[key] = Link(
            "person", link.ref, user.id, {"fields": fields, "groups": sorted(groups), "active": user.active}
        )
    return links, drift


def strays(
    actual: ActualState, linked_ids: Iterable[int], known_refs: Iterable[str]
) -> tuple[list[Drift], list[ExistingUser]]:
    """Users carrying a 1C ref that no link points to: drift, and those of known persons (to adopt)."""
    linked, known = set(linked_ids), set(known_refs)
    found = [u for u in actual.users.values() if u.xml_id and u.id not in linked]
    drift = [
        Drift(
            "unknown_xml_id",
            u.xml_id or "",
            u.id,
            "carries the 1C ref of a person it is not linked to"
            if u.xml_id in known
            else "carries an unknown 1C ref",
        )
        for u in found
    ]
    return drift, [u for u in found if u.xml_id in known]


def _blank(value: Any) -> Any:
    return "" if value is None else value


def _differs(actual: Any, confirmed: Any) -> bool:
    if isinstance(actual, str) and isinstance(confirmed, str):
        # Bitrix24 returns dates as ISO date-times (bitrix24-rest.md §2.3); compare the date part.
        return (
            actual[:10] != confirmed[:10]
            if len(confirmed) == 10 and len(actual) >= 10
            else actual != confirmed
        )
    return bool(actual != confirmed)


def drift_counts(drift: Iterable[Drift]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in drift:
        counts[item.kind] = counts.get(item.kind, 0) + 1
    return counts


@dataclass
class Repair:
    """What reconcile found and plans: the repair, the drift, and the persons it covered."""

    plan: Plan
    drift: list[Drift]
    scope: set[str]


GROUP_KINDS = ("organization", "department")
PLAN_CHUNK = 5000
"""Persons without a visible user planned at a time."""


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
        known = set(state.person_refs(session))
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
        planner.persons(refs, users, AdoptionIndex())
        drift, found = strays(ActualState(users=dict(users)), refs_of.keys(), known)
        stray_drift.extend(drift)
        adoptable.extend(found)
    rest = sorted({ref for ref, user_id in linked.items() if user_id not in seen} | (known - linked.keys()))
    index = AdoptionIndex(adoptable)
    for start in range(0, len(rest), PLAN_CHUNK):
        planner.persons(rest[start : start + PLAN_CHUNK], {}, index)
    return Repair(plan, planner.drift + stray_drift, known | linked.keys())
