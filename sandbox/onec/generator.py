"""The seeded generator of a realistic outsourcing company: ``generate(seed, employees, today)``.

Owns the order of generation and the sizes: organisations and department trees, positions, persons,
main employments, rehires and part-time second jobs up to exactly ``employees`` Employee records, then
absences. Each part draws from its own random stream, so the output is deterministic per (seed, today).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from sandbox.onec.gen_hr import HrGenerator, HrShares
from sandbox.onec.gen_org import generate_orgs
from sandbox.onec.gen_people import ContactShares, generate_persons
from sandbox.onec.model import AbsenceRec, Company, EmployeeRec


@dataclass(frozen=True)
class GenerationSpec:
    seed: int = 1
    employees: int = 1000
    contacts: ContactShares = field(default_factory=ContactShares)
    hr: HrShares = field(default_factory=HrShares)


def _stream(seed: int, part: str) -> random.Random:
    return random.Random(f"{seed}:{part}")


def generate(spec: GenerationSpec, today: date) -> Company:
    """A whole company with exactly ``spec.employees`` employments, dated relative to ``today``."""
    n = max(1, spec.employees)
    tree = generate_orgs(_stream(spec.seed, "orgs"), n, today)
    n_rehire = int(n * spec.hr.rehire)
    n_part = int(n * spec.hr.part_time)
    n_persons = n - n_rehire - n_part
    persons = generate_persons(_stream(spec.seed, "persons"), n_persons, today, spec.contacts)
    hr = HrGenerator(_stream(spec.seed, "hr"), tree, today, spec.hr)
    mains = [hr.employment(p, hr.hire_date()) for p in persons]
    employees: list[EmployeeRec] = list(mains)
    rng = hr.rng
    # Rehires: the person left earlier (dismissed at least a week ago) and came back as a new Employee.
    for i in rng.sample(range(n_persons), min(n_rehire, n_persons)):
        old, person = mains[i], persons[i]
        hired = old.hire_date() or today
        gone = old.dismissal_date()
        if gone is None or gone >= today - timedelta(days=7):
            if hired >= today - timedelta(days=30):
                old.history[0].period = hired = today - timedelta(days=400)
            left = hired + timedelta(days=rng.randint(1, max(1, (today - hired).days - 20)))
            old.history = [e for e in old.history if e.period < left and e.event in ("Hire", "Transfer")]
            h = old.history[-1]
            old.history.append(type(h)(left, "Dismissal", h.org_ref, h.dept_ref, h.position_ref))
        left = old.dismissal_date() or today
        back = left + timedelta(days=rng.randint(7, max(7, min(200, (today - left).days))))
        employees.append(hr.employment(person, min(back, today), allow_dismissal=False))
    # Part-time second jobs: internal ones (same organisation) point at the main employment.
    active = [
        i for i, e in enumerate(mains) if e.dismissal_date() is None and (e.hire_date() or today) < today
    ]
    for i in rng.sample(active, min(n_part, len(active))):
        main, person = mains[i], persons[i]
        main_org = main.history[0].org_ref
        internal = rng.random() < 0.6 or len(hr.orgs) < 2
        org_ref = main_org if internal else rng.choice([o.ref for o in hr.orgs if o.ref != main_org])
        hired = (main.hire_date() or today) + timedelta(days=rng.randint(0, 30))
        kind = "PartTimeInternal" if internal else "PartTimeExternal"
        employees.append(
            hr.employment(person, min(hired, today), kind, org_ref, main.ref if internal else None)
        )
    while len(employees) < n:  # not enough candidates at tiny sizes: top up with more people
        extra = generate_persons(_stream(spec.seed, f"extra{len(employees)}"), 1, today, spec.contacts)[0]
        persons.append(extra)
        employees.append(hr.employment(extra, hr.hire_date()))
    absences: list[AbsenceRec] = []
    numbers: dict[str, int] = {}
    for emp in employees:
        if rng.random() < spec.hr.absence:
            absences += hr.absences(emp, numbers)
    company = Company()
    company.tables["Organization"].load(tree.orgs)
    company.tables["Department"].load(tree.depts)
    company.tables["Position"].load(tree.positions)
    company.tables["Person"].load(persons)
    company.tables["Employee"].load(employees)
    company.tables["Absence"].load(absences)
    company.next_no.update(numbers)
    company.index()
    company.personnel = dict(hr.counters)
    return company
