"""Map 1C master data to the desired Bitrix24 state as of a date. Pure: values in, values out.

Rules (product brief §2): one group per legal entity and per department; one user per *person*
(not per employment); the person's active employments decide their groups and whether the account
is active; a dismissal counts from the day after the last working day; the next future-dated HR event
is reported so that it can wait as a due-at row.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Set
from collections.abc import Mapping as MappingType
from dataclasses import dataclass
from datetime import date, timedelta

from connectors.bitrix24 import directory
from connectors.onec.port import Department, Employee, HrEvent
from mappings import (
    DesiredDepartment,
    DesiredGroup,
    DesiredState,
    DesiredUser,
    Mapping,
    PersonView,
    Problem,
    TransformError,
    department_key,
    group_key,
)
from sync.source import SourceData


@dataclass(frozen=True)
class Standing:
    """Where one employment stands on a date."""

    employee_ref: str
    org_ref: str
    department_ref: str | None
    position_ref: str | None
    main: bool


def _events(employee: Employee) -> list[HrEvent]:
    if employee.history:
        return sorted(employee.history, key=lambda e: e.period)
    placement = employee.current
    if placement is None or placement.hire_date is None:
        return []
    events = [
        HrEvent(
            placement.hire_date, "Hire", placement.org_ref, placement.department_ref, placement.position_ref
        )
    ]
    if placement.dismissal_date:
        events.append(
            HrEvent(
                placement.dismissal_date,
                "Dismissal",
                placement.org_ref,
                placement.department_ref,
                placement.position_ref,
            )
        )
    return events


def _effective(event: HrEvent) -> date:
    """The day an event takes effect: a dismissal's date is the last working day."""
    return event.period + timedelta(days=1) if event.event == "Dismissal" else event.period


def standing(employee: Employee, on: date) -> tuple[Standing | None, date | None]:
    """The employment's placement on ``on`` (None if not employed then) and its next change date.

    A temporary transfer (``valid_until``) stands until that date, then the placement before it returns.
    """
    if employee.deleted:
        return None, None
    current: HrEvent | None = None
    base: HrEvent | None = None
    upcoming: date | None = None

    def sooner(day: date) -> None:
        nonlocal upcoming
        if day > on and (upcoming is None or day < upcoming):
            upcoming = day

    for event in _events(employee):
        if _effective(event) > on:
            sooner(_effective(event))
            continue
        if event.valid_until is not None:
            sooner(event.valid_until + timedelta(days=1))
            if event.valid_until < on:
                continue  # an expired temporary move
            base, current = current, event
        else:
            current = base = event
    if current is not None and current.valid_until is not None and current.valid_until < on:
        current = base
    if current is None or current.event == "Dismissal":
        return None, upcoming
    main = employee.current is None or employee.current.employment_kind == "Main"
    found = Standing(employee.ref, current.org_ref, current.department_ref, current.position_ref, main)
    return found, upcoming


def department_path(data: SourceData, department: Department, separator: str) -> str:
    names: list[str] = []
    seen: set[str] = set()
    node: Department | None = department
    while node is not None and node.ref not in seen:
        seen.add(node.ref)
        names.append(node.name)
        node = data.departments.get(node.parent_ref) if node.parent_ref else None
    return separator.join(reversed(names))


def map_groups(data: SourceData, mapping: Mapping, on: date) -> dict[str, DesiredGroup]:
    groups: dict[str, DesiredGroup] = {}
    for org in data.organizations.values():
        if org.deleted:
            continue
        values = {"org_name": org.name, "org_full_name": org.full_name, "org_inn": org.inn}
        group = mapping.group("organization", org.ref, values)
        groups[group.key] = group
    for dept in data.departments.values():
        owner = data.organizations.get(dept.org_ref)
        if owner is None:
            continue
        org = owner
        if dept.deleted or org.deleted or (dept.disbanded_on and dept.disbanded_on <= on):
            continue
        values = {
            "org_name": org.name,
            "org_full_name": org.full_name,
            "org_inn": org.inn,
            "department_name": dept.name,
            "department_path": department_path(data, dept, mapping.path_separator),
            "department_code": dept.code,
        }
        group = mapping.group("department", dept.ref, values)
        groups[group.key] = group
    return groups


def map_intranet(data: SourceData, mapping: Mapping, on: date) -> dict[str, DesiredDepartment]:
    """The intranet department tree for provider staff: the configured 1C departments and all below."""
    roots = mapping.intranet_roots
    found: dict[str, DesiredDepartment] = {}
    if not roots:
        return found
    for dept in data.departments.values():
        if dept.deleted or (dept.disbanded_on and dept.disbanded_on <= on):
            continue
        chain: list[str] = []
        node: Department | None = dept
        while node is not None and node.ref not in chain:
            chain.append(node.ref)
            if node.ref in roots:
                break
            node = data.departments.get(node.parent_ref) if node.parent_ref else None
        if node is None or node.ref not in roots:
            continue
        depth = len(chain) - 1
        parent = department_key(chain[1]) if depth else None
        found[department_key(dept.ref)] = DesiredDepartment(
            department_key(dept.ref),
            dept.ref,
            dept.name,
            parent,
            None if depth else mapping.intranet_parent_id,
            depth,
        )
    return found


def map_person(
    data: SourceData,
    mapping: Mapping,
    person_ref: str,
    on: date,
    live_groups: Iterable[str],
    intranet: Collection[str] = (),
) -> DesiredUser | None:
    """The desired user for one person on ``on``; None if 1C no longer knows the person.

    ``intranet`` holds the keys of mirrored intranet departments: a person whose main employment is in
    one becomes an intranet employee (``UF_DEPARTMENT``, resolved to ids when applied).
    """
    person = data.persons.get(person_ref)
    if person is None or person.deleted:
        return None
    # Planning passes the desired groups (a dict): looked up as is, not copied for every person.
    live = live_groups if isinstance(live_groups, Set | MappingType) else set(live_groups)
    standings: list[Standing] = []
    next_change: date | None = None
    for employee_ref in data.employees_by_person.get(person_ref, ()):
        found, upcoming = standing(data.employees[employee_ref], on)
        if found is not None:
            standings.append(found)
        if upcoming is not None and (next_change is None or upcoming < next_change):
            next_change = upcoming
    standings.sort(key=lambda s: (not s.main, s.employee_ref))
    problems: list[Problem] = []
    groups: set[str] = set()
    for item in standings:
        if "organization" in mapping.memberships:
            groups.add(group_key("organization", item.org_ref))
        if "department" in mapping.memberships and item.department_ref:
            key = group_key("department", item.department_ref)
            if key in live:
                groups.add(key)
            else:
                problems.append(
                    Problem("unknown_department", "the employment's department is not in 1C's data")
                )
    primary = standings[0] if standings else None
    position = data.positions.get(primary.position_ref) if primary and primary.position_ref else None
    org = data.organizations.get(primary.org_ref) if primary else None
    department = data.departments.get(primary.department_ref) if primary and primary.department_ref else None
    view = PersonView(
        person_ref=person.ref,
        first_name=person.first_name,
        last_name=person.last_name,
        middle_name=person.middle_name,
        birth_date=person.birth_date,
        gender=person.gender,
        emails=person.emails,
        phones=person.phones,
        position_name=position.name if position else None,
        org_name=org.name if org else None,
        department_name=department.name if department else None,
        personnel_no=data.employees[primary.employee_ref].personnel_no if primary else None,
    )
    try:
        fields = mapping.user_fields(view)
    except TransformError as exc:
        fields = {}
        problems.insert(0, Problem(exc.code, exc.reason))
    home = department_key(primary.department_ref) if primary and primary.department_ref else None
    if fields and home is not None and home in intranet:
        fields[directory.DEPARTMENTS] = [home]
    return DesiredUser(
        person_ref=person.ref,
        fields=fields,
        groups=frozenset(key for key in groups if key in live),
        active=bool(standings),
        email=fields.get(directory.EMAIL) or None,
        problems=tuple(problems),
        next_change_on=next_change,
    )


def desired_state(data: SourceData, mapping: Mapping, on: date, persons: Iterable[str]) -> DesiredState:
    """Groups, the intranet tree and the desired user of each of ``persons`` (those 1C still employs)."""
    groups = map_groups(data, mapping, on)
    departments = map_intranet(data, mapping, on)
    intranet = frozenset(departments)
    users = {}
    for ref in persons:
        user = map_person(data, mapping, ref, on, groups, intranet)
        if user is not None:
            users[ref] = user
    return DesiredState(groups=groups, users=users, departments=departments)
