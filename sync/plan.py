"""Turn desired state + links (+ Bitrix24 users found for adoption) into ordered operations. Pure.

Identity rules (product brief §2, issue 5): one Bitrix24 user per person, ``XML_ID`` = person ref.
Before creating, adopt an existing user by ``XML_ID``, then by e-mail — never create a duplicate.
A person whose data cannot be mirrored goes to quarantine with the reason and is skipped until its
1C data change (same desired hash → stays quarantined without a retry).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.bitrix24 import directory
from core.ids import B24DepartmentId, B24GroupId, B24UserId, PersonRef
from mappings import DesiredState, DesiredUser
from sync.diff import (
    WARNING_KIND,
    changed_fields,
    field_warnings,
    group_state,
    membership_changes,
    state_hash,
    user_state,
)
from sync.model import ExistingUser, Link, Plan, Quarantine, link_key
from sync.operations import (
    AddMembers,
    AdoptUser,
    CreateDepartment,
    CreateGroup,
    CreateUser,
    RemoveMembers,
    UpdateDepartment,
    UpdateGroup,
    UpdateUser,
)

MEMBERS_PER_CALL = 250
"""User ids per sonet_group.user.add/delete call (USER_ID accepts an array, bitrix24-rest.md §4.5);
250 keeps the command short enough to travel inside a batch (connectors/bitrix24 MAX_COMMAND_CHARS)."""


class AdoptionIndex:
    """Existing Bitrix24 users by XML_ID and by e-mail (lower-case)."""

    def __init__(self, users: Iterable[ExistingUser] = ()) -> None:
        self.by_xml_id: dict[str, ExistingUser] = {}
        self.by_email: dict[str, ExistingUser] = {}
        for user in users:
            if user.xml_id:
                self.by_xml_id.setdefault(user.xml_id, user)
            if user.email:
                self.by_email.setdefault(user.email.lower(), user)


class EmailOwners:
    """E-mail → the person who keeps it: the one already mirrored with it, else the lowest ref.

    Persons are noted in ref order (a chunk at a time is fine): only this map is held, not the persons.
    """

    def __init__(self) -> None:
        self.owners: dict[str, str] = {}

    def note(self, user: DesiredUser, link: Link | None) -> None:
        email = user.email
        if not email:
            return
        mirrored = link is not None and link.state.get("fields", {}).get(directory.EMAIL) == email
        if email not in self.owners or mirrored:
            self.owners[email] = user.person_ref


def _email_owners(users: Mapping[str, DesiredUser], links: Mapping[str, Link]) -> dict[str, str]:
    found = EmailOwners()
    for ref in sorted(users):
        found.note(users[ref], links.get(link_key("person", ref)))
    return found.owners


@dataclass
class Memberships:
    """Joins and leaves gathered over the persons planned (one chunk or many), planned as member lists."""

    joins: dict[str, list[str]] = field(default_factory=dict)
    leaves: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    def plan(self, plan: Plan) -> None:
        for key in sorted(self.joins):
            refs = sorted(self.joins[key])
            for start in range(0, len(refs), MEMBERS_PER_CALL):
                chunk = [PersonRef(r) for r in refs[start : start + MEMBERS_PER_CALL]]
                plan.operations.append(AddMembers(key, key, chunk))
        for key in sorted(self.leaves):
            pairs = sorted(self.leaves[key])
            for start in range(0, len(pairs), MEMBERS_PER_CALL):
                part = pairs[start : start + MEMBERS_PER_CALL]
                person_refs = [PersonRef(r) for r, _ in part]
                plan.operations.append(RemoveMembers(key, key, person_refs, [B24UserId(u) for _, u in part]))


def plan_departments(desired: DesiredState, links: Mapping[str, Link], plan: Plan) -> None:
    """Intranet departments to create or rename/move, parents first (ordered by depth)."""
    for dept in sorted(desired.departments.values(), key=lambda d: (d.depth, d.key)):
        fields = {directory.NAME: dept.name, "PARENT_KEY": dept.parent_key, "PARENT_ID": dept.parent_id}
        link = links.get(dept.key)
        if link is None or link.b24_id is None:
            plan.operations.append(CreateDepartment(dept.source_ref, dept.key, fields, dept.depth))
        elif changed_fields(fields, link.state.get("fields", {})):
            department_id = B24DepartmentId(link.b24_id)
            plan.operations.append(
                UpdateDepartment(dept.source_ref, dept.key, fields, dept.depth, department_id)
            )


def plan_groups(
    desired: DesiredState, links: Mapping[str, Link], plan: Plan, existing: Mapping[str, int] | None = None
) -> None:
    """Groups to create, adopt (an unlinked group of the same name exists) or update."""
    for key in sorted(desired.groups):
        group = desired.groups[key]
        state = group_state(group)
        link = links.get(key)
        found = (existing or {}).get(group.fields.get(directory.NAME, ""))
        if (link is None or link.b24_id is None) and found is not None:
            adopted = UpdateGroup(group.kind, group.source_ref, key, B24GroupId(found), group.fields, state)
            plan.operations.append(adopted)
        elif link is None or link.b24_id is None:
            plan.operations.append(CreateGroup(group.kind, group.source_ref, key, group.fields))
        else:
            changes = changed_fields(group.fields, link.state.get("fields", {}))
            if changes:
                group_id = B24GroupId(link.b24_id)
                plan.operations.append(
                    UpdateGroup(group.kind, group.source_ref, key, group_id, changes, state)
                )


def _quarantine(plan: Plan, ref: str, code: str, reason: str, digest: str) -> None:
    plan.quarantined.append(Quarantine("person", ref, code, reason, digest))


def plan_users(
    desired: DesiredState,
    scope: Iterable[str],
    links: Mapping[str, Link],
    index: AdoptionIndex,
    quarantined: Mapping[str, str | None],
    plan: Plan,
    owners: Mapping[str, str] | None = None,
    memberships: Memberships | None = None,
) -> None:
    """Plan every person in ``scope``; ``quarantined`` maps person ref → the hash it was parked with.

    A caller planning chunk by chunk passes the ``owners`` of every e-mail (``EmailOwners``) and one
    ``memberships`` it plans after the last chunk; otherwise both come from ``desired`` alone.
    """
    if owners is None:
        owners = _email_owners(desired.users, links)
    pending = memberships if memberships is not None else Memberships()
    joins, leaves = pending.joins, pending.leaves
    for ref in sorted(set(scope)):
        link = links.get(link_key("person", ref))
        user = desired.users.get(ref)
        if user is None:
            # 1C no longer knows the person: deactivate what we mirrored.
            if link is not None and link.b24_id is not None and link.state.get("active", True):
                state = {**link.state, "active": False}
                gone = UpdateUser(
                    PersonRef(ref), B24UserId(link.b24_id), {directory.ACTIVE: directory.flag(False)}, state
                )
                plan.operations.append(gone)
            continue
        if user.next_change_on is not None:
            plan.due[ref] = user.next_change_on
        state = user_state(user)
        digest = state_hash(state)
        if ref in quarantined and quarantined[ref] == digest:
            continue  # parked, and its 1C data has not changed since
        problem = _problem(user, owners, index, link)
        if problem is not None:
            _quarantine(plan, ref, problem[0], problem[1], digest)
            continue
        if ref in quarantined:
            plan.cleared.append(("person", ref))
        for warning in field_warnings(user)[:1]:  # one row per person (the table keys on kind and ref)
            plan.warnings.append(Quarantine(WARNING_KIND, ref, warning.code, warning.reason, digest))
        if link is None or link.b24_id is None:
            _plan_new_user(user, state, digest, index, plan, joins)
            continue
        _plan_known_user(user, state, digest, link, plan, joins, leaves)
    if memberships is None:
        pending.plan(plan)


def _problem(
    user: DesiredUser, owners: Mapping[str, str], index: AdoptionIndex, link: Link | None
) -> tuple[str, str] | None:
    if user.problems:
        return user.problems[0].code, user.problems[0].reason
    if user.email and owners.get(user.email) != user.person_ref:
        return "duplicate_email", "another person in 1C has the same e-mail"
    if link is None and user.email:
        holder = index.by_email.get(user.email)
        if holder is not None and holder.xml_id and holder.xml_id != user.person_ref:
            return "email_taken", "a Bitrix24 user belonging to another person already has this e-mail"
    return None


def _plan_new_user(
    user: DesiredUser,
    state: dict[str, Any],
    digest: str,
    index: AdoptionIndex,
    plan: Plan,
    joins: dict[str, list[str]],
) -> None:
    found = index.by_xml_id.get(user.person_ref) or (index.by_email.get(user.email) if user.email else None)
    if found is not None:
        fields = changed_fields(user.fields, found.fields) if found.fields else dict(user.fields)
        if found.active != user.active:
            fields[directory.ACTIVE] = directory.flag(user.active)
        ref, user_id = PersonRef(user.person_ref), B24UserId(found.id)
        plan.operations.append(AdoptUser(ref, user_id, fields, {**state, "groups": []}, digest))
    elif user.active and user.groups:
        # No "state" here: a created user's state is its fields, no groups yet, active (see apply).
        created = CreateUser(PersonRef(user.person_ref), user.fields, sorted(user.groups), digest)
        plan.operations.append(created)
    else:
        return  # nobody to invite yet: not employed today (a future hire waits as a due row)
    for key in user.groups:
        joins.setdefault(key, []).append(user.person_ref)


def _plan_known_user(
    user: DesiredUser,
    state: dict[str, Any],
    digest: str,
    link: Link,
    plan: Plan,
    joins: dict[str, list[str]],
    leaves: dict[str, list[tuple[str, int]]],
) -> None:
    confirmed = link.state
    fields = changed_fields(user.fields, confirmed.get("fields", {}))
    if bool(confirmed.get("active", True)) != user.active:
        fields[directory.ACTIVE] = directory.flag(user.active)
    if fields:
        new_state = {**state, "groups": confirmed.get("groups", [])}
        ref, user_id = PersonRef(user.person_ref), B24UserId(int(link.b24_id or 0))
        plan.operations.append(UpdateUser(ref, user_id, fields, new_state, digest))
    add, remove = membership_changes(user.groups, list(confirmed.get("groups", [])))
    for key in add:
        joins.setdefault(key, []).append(user.person_ref)
    for key in remove:
        leaves.setdefault(key, []).append((user.person_ref, int(link.b24_id or 0)))


def make_plan(
    desired: DesiredState,
    persons_in_scope: Iterable[str],
    links: Mapping[str, Link],
    index: AdoptionIndex | None = None,
    quarantined: Mapping[str, str | None] | None = None,
    existing_groups: Mapping[str, int] | None = None,
) -> Plan:
    """The whole plan: groups, then users, memberships and removals (see sync.model.STAGES).

    ``existing_groups`` maps the names of Bitrix24 groups the bridge has no link for to their ids.
    """
    plan = Plan()
    plan_departments(desired, links, plan)
    plan_groups(desired, links, plan, existing_groups)
    plan_users(desired, persons_in_scope, links, index or AdoptionIndex(), quarantined or {}, plan)
    return plan
