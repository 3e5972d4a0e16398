"""The seeded company generator: tax ids, grammatical gender, rehires, part-time jobs, planted defects."""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import asdict
from datetime import date

import pytest

from sandbox.onec import ids
from sandbox.onec.gen_people import ContactShares
from sandbox.onec.generator import GenerationSpec, generate
from sandbox.onec.model import Company
from sandbox.onec.names import FEMALE, feminine_surname

TODAY = date(2026, 3, 16)
EMAIL = re.compile(r"^[a-z0-9._-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$")


@pytest.fixture(scope="module")
def company() -> Company:
    return generate(GenerationSpec(seed=5, employees=3000), TODAY)


def test_exact_size_and_entities(company: Company) -> None:
    assert len(company.employees) == 3000
    assert 3 + 1 <= len(company.orgs) <= 5 + 1
    assert len(company.persons) < 3000  # rehires and second jobs share persons
    assert len(company.absences) > 0 and len(company.positions) > 10


def test_tax_ids_have_valid_check_digits(company: Company) -> None:
    for org in company.orgs.values():
        assert ids.valid_inn(org.inn), org.inn
        assert ids.valid_ogrn(org.ogrn), org.ogrn
        assert len(org.kpp) == 9 and org.kpp.isdigit()
        assert org.kpp[:4] == org.inn[:4] or org.head_org_ref is not None
    branches = [o for o in company.orgs.values() if o.head_org_ref]
    assert len(branches) == 1 and branches[0].kpp[4:6] == "43"
    assert branches[0].inn == company.orgs[branches[0].head_org_ref].inn  # type: ignore[index]


def test_known_real_tax_ids_validate() -> None:
    assert ids.valid_inn("7707083893") and not ids.valid_inn("7707083894")
    assert ids.valid_ogrn("1027700132195") and not ids.valid_ogrn("1027700132196")
    assert ids.valid_inn("500100732259") and not ids.valid_inn("500100732250")


def test_department_trees_belong_to_their_org(company: Company) -> None:
    for dept in company.depts.values():
        if dept.parent_ref:
            assert company.depts[dept.parent_ref].org_ref == dept.org_ref
    assert any(d.disbanded_on for d in company.depts.values())


def test_names_agree_in_gender(company: Company) -> None:
    for person in company.persons.values():
        if person.gender == "Female":
            assert person.first_name in FEMALE or person.middle_name is None
            if person.middle_name:
                assert person.middle_name.endswith("на"), person.middle_name
        elif person.gender == "Male":
            assert person.first_name not in FEMALE
            if person.middle_name:
                assert person.middle_name.endswith("ич"), person.middle_name
            assert feminine_surname(person.last_name) != person.last_name or person.last_name[-1] not in "аая"
    assert any(p.middle_name is None for p in company.persons.values())
    assert 0 < sum(1 for p in company.persons.values() if p.gender is None) < 0.02 * len(company.persons)


@pytest.mark.parametrize(
    ("male", "female"),
    [("Иванов", "Иванова"), ("Никитин", "Никитина"), ("Островский", "Островская"), ("Толстой", "Толстая"),
     ("Черных", "Черных"), ("Шевченко", "Шевченко"), ("Ким", "Ким")],
)  # fmt: skip
def test_feminine_surname(male: str, female: str) -> None:
    assert feminine_surname(male) == female


def test_rehires_and_part_time_jobs_share_the_person(company: Company) -> None:
    by_person = Counter(e.person_ref for e in company.employees.values())
    multi = [ref for ref, n in by_person.items() if n > 1]
    assert multi
    rehired = 0
    for ref in multi:
        jobs = [company.employees[r] for r in company.employees_by_person[ref]]
        mains = [j for j in jobs if j.kind == "Main"]
        if len(mains) > 1:
            first, second = sorted(mains, key=lambda j: j.hire_date() or TODAY)
            left = first.dismissal_date()
            assert left is not None and left < (second.hire_date() or TODAY)
            assert first.ref != second.ref
            rehired += 1
    assert rehired >= 3000 * 0.03 * 0.8
    internal = [e for e in company.employees.values() if e.kind == "PartTimeInternal"]
    assert internal
    for job in internal:
        main = company.employees[job.main_employee_ref]  # type: ignore[index]
        assert main.person_ref == job.person_ref and main.kind == "Main"
        assert main.history[0].org_ref == job.history[0].org_ref
    assert any(
        e.kind == "PartTimeExternal" and e.main_employee_ref is None for e in company.employees.values()
    )


def test_history_is_dated_and_has_future_events(company: Company) -> None:
    future: Counter[str] = Counter()
    for emp in company.employees.values():
        periods = [h.period for h in emp.history]
        assert periods == sorted(periods) and emp.history[0].event == "Hire"
        for h in emp.history:
            if h.period > TODAY:
                future[h.event] += 1
    assert future["Transfer"] > 0 and future["Dismissal"] > 0
    assert any(h.valid_until for e in company.employees.values() for h in e.history)


def test_absences_lie_inside_the_employment(company: Company) -> None:
    for a in company.absences.values():
        emp = company.employees[a.employee_ref]
        assert a.date_from <= a.date_to
        assert emp.is_active_on(a.date_from) and emp.is_active_on(a.date_to)


def test_contact_defects_at_their_shares() -> None:
    shares = ContactShares(missing_email=0.05, duplicate_email=0.03, malformed_email=0.03,
                           missing_phone=0.05, duplicate_phone=0.03, malformed_phone=0.03)  # fmt: skip
    persons = list(generate(GenerationSpec(seed=9, employees=2000, contacts=shares), TODAY).persons.values())
    n = len(persons)
    no_email = sum(1 for p in persons if not p.emails)
    assert 0.02 * n < no_email < 0.09 * n
    emails = Counter(e for p in persons for e in p.emails)
    assert sum(1 for c in emails.values() if c > 1) > 0.01 * n
    malformed = sum(1 for p in persons for e in p.emails if not EMAIL.match(e))
    assert 0.01 * n < malformed < 0.06 * n
    phones = Counter(ph.value for p in persons for ph in p.phones if ph.kind == "Mobile")
    assert sum(1 for c in phones.values() if c > 1) > 0.01 * n
    assert sum(1 for p in persons if not any(ph.kind == "Mobile" for ph in p.phones)) > 0.02 * n


def test_clean_contacts_when_shares_are_zero() -> None:
    clean = ContactShares(missing_email=0, duplicate_email=0, malformed_email=0, missing_phone=0,
                          duplicate_phone=0, malformed_phone=0)  # fmt: skip
    persons = list(generate(GenerationSpec(seed=9, employees=1500, contacts=clean), TODAY).persons.values())
    emails = [e for p in persons for e in p.emails]
    assert all(EMAIL.match(e) for e in emails) and len(emails) == len(set(emails))
    assert all(p.emails and p.phones for p in persons)


def test_deterministic_per_seed() -> None:
    a = generate(GenerationSpec(seed=3, employees=500), TODAY)
    b = generate(GenerationSpec(seed=3, employees=500), TODAY)
    c = generate(GenerationSpec(seed=4, employees=500), TODAY)
    assert [asdict(e) for e in a.employees.values()] == [asdict(e) for e in b.employees.values()]
    assert [asdict(p) for p in a.persons.values()] == [asdict(p) for p in b.persons.values()]
    assert set(a.employees) != set(c.employees)


def test_tiny_company_still_has_exact_size() -> None:
    for n in (1, 7, 30):
        assert len(generate(GenerationSpec(seed=2, employees=n), TODAY).employees) == n


@pytest.mark.slow
def test_fifty_thousand_employees_generate_quickly() -> None:
    started = time.perf_counter()
    company = generate(GenerationSpec(seed=1, employees=50_000), TODAY)
    took = time.perf_counter() - started
    assert len(company.employees) == 50_000
    assert took < 30  # a loose ceiling for slow CI machines; measured ~1.1 s on the dev box
