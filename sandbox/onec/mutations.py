"""HR mutations the knobs apply, each registered in the change feed as the 1C documents would be.

Owns hire, transfer, dismiss, rehire, person edits, absences and department changes. Each one writes the
dated HR history (effective date = ``date``, default today on the sandbox clock, may lie in the future)
and registers what a posting registers: the Employee (and the Person on a hire), the Absence and its
Employee, the Department. Raises ``MutationError`` (→ HTTP 400/404) on bad input.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sandbox.onec import ids, schedules
from sandbox.onec.gen_people import random_person
from sandbox.onec.model import AbsenceRec, Dept, EmployeeRec, Event, PersonRec, Phone
from sandbox.onec.state import SandboxState


class MutationError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _date(value: Any, default: date) -> date:
    if value in (None, ""):
        return default
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise MutationError(f"bad date {value!r}") from None


def _get(table: dict[str, Any], ref: Any, what: str) -> Any:
    if not isinstance(ref, str) or ref not in table:
        raise MutationError(f"{what} {ref!r} not found", 404)
    return table[ref]


def _site(state: SandboxState, org_ref: str | None) -> tuple[str, str]:
    c = state.company
    orgs = [o for o in c.orgs.values() if org_ref in (None, o.ref)]
    if not orgs:
        raise MutationError(f"organisation {org_ref!r} not found", 404)
    org = state.rng.choice(orgs)
    sites = [d.ref for d in c.depts.values() if d.org_ref == org.ref and d.is_site and d.disbanded_on is None]
    if not sites:
        raise MutationError("the organisation has no open department")
    return org.ref, state.rng.choice(sites)


def hire(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    """A new employment of an existing person (rehire, second job) or of a new one (random if not given)."""
    c, today = state.company, state.today()
    when = _date(body.get("date"), today)
    if body.get("personRef"):
        person = _get(c.persons, body["personRef"], "person")
        new_person = False
    else:
        person = random_person(state.rng, today)
        for key, attr in (
            ("lastName", "last_name"),
            ("firstName", "first_name"),
            ("middleName", "middle_name"),
        ):
            if key in body:
                setattr(person, attr, body[key])
        if "gender" in body:
            person.gender = body["gender"]
        if "emails" in body:
            person.emails = list(body["emails"])
        if "phones" in body:
            person.phones = [Phone("Mobile", p) for p in body["phones"]]
        c.tables["Person"].add(person.ref, person)
        new_person = True
    org_ref, dept_ref = body.get("orgRef"), body.get("deptRef")
    if dept_ref:
        dept = _get(c.depts, dept_ref, "department")
        org_ref = dept.org_ref
    else:
        org_ref, dept_ref = _site(state, org_ref)
    org = c.orgs[org_ref]
    position = body.get("positionRef") or state.rng.choice(sorted(c.positions))
    _get(c.positions, position, "position")
    kind = body.get("employmentKind", "Main")
    main_ref = body.get("mainEmployeeRef") if kind == "PartTimeInternal" else None
    rate = Decimal(str(body.get("rate", "1" if kind == "Main" else "0.5")))
    head = org.head_org_ref or org.ref
    c.personnel[head] = c.personnel.get(head, 0) + 1
    emp = EmployeeRec(
        ref=ids.new_ref(state.rng),
        personnel_no=f"{org.prefix}-{c.personnel[head]:07d}",
        person_ref=person.ref,
        head_org_ref=head,
        main_employee_ref=main_ref,
        kind=kind,
        rate=rate,
        schedule=schedules.FULL_TIME if rate >= 1 else schedules.HALF_TIME,
        history=[Event(when, "Hire", org_ref, dept_ref, position)],
    )
    c.tables["Employee"].add(emp.ref, emp)
    c.employees_by_person.setdefault(person.ref, []).append(emp.ref)
    if new_person:
        state.register("Person", person.ref)
    state.register("Employee", emp.ref)
    return {"employeeRef": emp.ref, "personRef": person.ref, "personnelNo": emp.personnel_no}


def rehire(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    """A new Employee for the person of a dismissed employment (never the same Employee again)."""
    c = state.company
    old: EmployeeRec = _get(c.employees, body.get("employeeRef"), "employee")
    if old.dismissal_date() is None:
        raise MutationError("the employment is not dismissed")
    return hire(state, {**body, "personRef": old.person_ref, "employmentKind": "Main"})


def transfer(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    c = state.company
    emp: EmployeeRec = _get(c.employees, body.get("employeeRef"), "employee")
    when = _date(body.get("date"), state.today())
    last = [e for e in emp.history if e.event != "Dismissal"][-1]
    dept_ref = body.get("deptRef") or _site(state, last.org_ref)[1]
    dept: Dept = _get(c.depts, dept_ref, "department")
    position = body.get("positionRef") or last.position_ref
    until = _date(body["validUntil"], when) if body.get("validUntil") else None
    emp.history.append(Event(when, "Transfer", dept.org_ref, dept.ref, position, valid_until=until))
    emp.history.sort(key=lambda e: e.period)
    state.register("Employee", emp.ref)
    return {"employeeRef": emp.ref, "deptRef": dept.ref, "date": when.isoformat()}


def dismiss(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    c = state.company
    emp: EmployeeRec = _get(c.employees, body.get("employeeRef"), "employee")
    if emp.dismissal_date() is not None:
        raise MutationError("the employment is already dismissed")
    when = _date(body.get("date"), state.today())
    last = [e for e in emp.history if e.period <= when][-1]
    emp.history.append(Event(when, "Dismissal", last.org_ref, last.dept_ref, last.position_ref))
    emp.history.sort(key=lambda e: e.period)
    state.register("Employee", emp.ref)
    return {"employeeRef": emp.ref, "date": when.isoformat()}


def edit_person(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    person: PersonRec = _get(state.company.persons, body.get("personRef"), "person")
    for key, attr in (
        ("lastName", "last_name"),
        ("firstName", "first_name"),
        ("middleName", "middle_name"),
        ("gender", "gender"),
    ):
        if key in body:
            setattr(person, attr, body[key])
    if "birthDate" in body:
        person.birth_date = _date(body["birthDate"], state.today()) if body["birthDate"] else None
    if "emails" in body:
        person.emails = [str(e) for e in body["emails"]]
    if "phones" in body:
        person.phones = [
            Phone(p.get("kind", "Mobile"), p["value"]) if isinstance(p, dict) else Phone("Mobile", str(p))
            for p in body["phones"]
        ]
    if "deleted" in body:
        person.deleted = bool(body["deleted"])
    state.register("Person", person.ref)
    return {"personRef": person.ref}


def add_absence(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    c, today = state.company, state.today()
    emp: EmployeeRec = _get(c.employees, body.get("employeeRef"), "employee")
    kind = body.get("kind", "Vacation")
    start = _date(body.get("dateFrom"), today)
    end = _date(body.get("dateTo"), start)
    if end < start:
        raise MutationError("dateTo before dateFrom")
    a = AbsenceRec(ids.new_ref(state.rng), emp.ref, kind, start, end, c.number(kind))
    c.tables["Absence"].add(a.ref, a)
    c.absences_by_employee.setdefault(emp.ref, []).append(a.ref)
    state.register("Absence", a.ref)
    state.register("Employee", emp.ref)
    return {"absenceRef": a.ref, "docNumber": a.doc_number}


def add_department(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    c = state.company
    org = _get(c.orgs, body.get("orgRef"), "organisation")
    parent = body.get("parentRef")
    if parent:
        _get(c.depts, parent, "department")
    number = sum(1 for d in c.depts.values() if d.org_ref == org.ref) + 1
    d = Dept(ids.new_ref(state.rng), org.ref, parent, f"00-{number:06d}", body.get("name", "Новый объект"),
             _date(body.get("date"), state.today()))  # fmt: skip
    c.tables["Department"].add(d.ref, d)
    state.register("Department", d.ref)
    return {"deptRef": d.ref}


def disband_department(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    d: Dept = _get(state.company.depts, body.get("deptRef"), "department")
    d.disbanded_on = _date(body.get("date"), state.today())
    state.register("Department", d.ref)
    return {"deptRef": d.ref, "disbandedOn": d.disbanded_on.isoformat()}


def churn(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    """Many random mutations in one call (deterministic per seed), to drive incremental sync at scale.

    ``{hires, transfers, dismissals, rehires, personEdits, absences, date?}``; returns the refs touched.
    """
    c, rng, today = state.company, state.rng, state.today()
    when = _date(body.get("date"), today)
    touched: dict[str, list[str]] = {
        "hired": [],
        "transferred": [],
        "dismissed": [],
        "rehired": [],
        "edited": [],
    }
    touched["absences"] = []
    active = [e for e in c.employees.values() if e.is_active_on(today) and e.dismissal_date() is None]
    rng.shuffle(active)
    for _ in range(int(body.get("hires", 0))):
        touched["hired"].append(hire(state, {"date": when.isoformat()})["employeeRef"])
    for emp in active[: int(body.get("transfers", 0))]:
        touched["transferred"].append(
            transfer(state, {"employeeRef": emp.ref, "date": when.isoformat()})["employeeRef"]
        )
    start = int(body.get("transfers", 0))
    for emp in active[start : start + int(body.get("dismissals", 0))]:
        touched["dismissed"].append(
            dismiss(state, {"employeeRef": emp.ref, "date": when.isoformat()})["employeeRef"]
        )
    gone = [e for e in c.employees.values() if e.archived(today)]
    for emp in rng.sample(gone, min(len(gone), int(body.get("rehires", 0)))):
        touched["rehired"].append(
            rehire(state, {"employeeRef": emp.ref, "date": when.isoformat()})["employeeRef"]
        )
    persons = list(c.persons.values())
    for person in rng.sample(persons, min(len(persons), int(body.get("personEdits", 0)))):
        fresh = random_person(rng, today)
        edit_person(
            state,
            {"personRef": person.ref, "emails": fresh.emails, "phones": [p.value for p in fresh.phones]},
        )
        touched["edited"].append(person.ref)
    still = [e for e in active if e.dismissal_date() is None]
    for emp in still[: int(body.get("absences", 0))]:
        start_day = today.toordinal() + rng.randint(1, 60)
        span = {"dateFrom": date.fromordinal(start_day).isoformat(),
                "dateTo": date.fromordinal(start_day + rng.randint(0, 13)).isoformat()}  # fmt: skip
        touched["absences"].append(
            add_absence(state, {"employeeRef": emp.ref, "kind": "Vacation", **span})["absenceRef"]
        )
    return touched
