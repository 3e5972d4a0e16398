"""A tiny 1C company for the pure sync tests."""

from __future__ import annotations

from datetime import date

from connectors.onec.port import (
    ContactPhone,
    Department,
    DepartmentRef,
    Employee,
    EmploymentRef,
    HrEvent,
    Organization,
    OrgRef,
    Person,
    PersonRef,
    Placement,
    Position,
    PositionRef,
)
from sync.source import SourceData

TODAY = date(2026, 11, 23)
ORG = OrgRef("org-1")
SITE_A = DepartmentRef("dep-a")
SITE_B = DepartmentRef("dep-b")
WELDER = PositionRef("pos-1")


def person(ref: str, email: str | None = "a@example.ru", phone: str | None = "+79161234567") -> Person:
    return Person(
        ref=PersonRef(ref),
        last_name="Иванова",
        first_name="Мария",
        middle_name="Петровна",
        birth_date=date(1990, 5, 17),
        gender="Female",
        emails=(email,) if email else (),
        phones=(ContactPhone("Mobile", phone),) if phone else (),
    )


def employee(ref: str, person_ref: str, *events: HrEvent, kind: str = "Main") -> Employee:
    first = events[0]
    placement = Placement(first.org_ref, first.department_ref, first.position_ref, kind, first.period, None)  # type: ignore[arg-type]
    return Employee(
        ref=EmploymentRef(ref),
        personnel_no=ref.upper(),
        person_ref=PersonRef(person_ref),
        head_org_ref=ORG,
        main_employee_ref=None,
        archived=False,
        current=placement,
        history=events,
    )


def hire(on: date, site: DepartmentRef = SITE_A) -> HrEvent:
    return HrEvent(on, "Hire", ORG, site, WELDER)


def transfer(on: date, site: DepartmentRef) -> HrEvent:
    return HrEvent(on, "Transfer", ORG, site, WELDER)


def dismissal(on: date, site: DepartmentRef = SITE_A) -> HrEvent:
    return HrEvent(on, "Dismissal", ORG, site, WELDER)


def company() -> SourceData:
    data = SourceData()
    data.add(Organization(ORG, "Ромашка", 'ООО "Ромашка"', "7707083893", "770701001"))
    data.add(Department(SITE_A, ORG, None, "001", "Склад Север"))
    data.add(Department(SITE_B, ORG, None, "002", "Склад Юг"))
    data.add(Position(WELDER, "Сварщик"))
    return data
