"""The suite's log scan finds what it is meant to find (a scan that never fires proves nothing)."""

from __future__ import annotations

from datetime import date

from sandbox.onec.generator import GenerationSpec, generate
from tests.log_scan import Needles


def test_seeded_values_and_secrets_are_found_and_redacted_lines_are_clean() -> None:
    company = generate(GenerationSpec(seed=3, employees=30), date(2026, 11, 23))
    needles = Needles()
    needles.add_company(company)
    needles.add_secrets(["c0ffee00deadbeef"])
    person = next(p for p in company.tables["Person"].by_ref.values() if p.emails and p.phones)
    org = next(iter(company.orgs.values()))
    assert needles.find(f"user.add failed email={person.emails[0].upper()}") == ["e-mail"]
    assert needles.find(f"sms to {person.phones[0].value}") == ["phone"]
    assert needles.find(f"org inn={org.inn}") == ["INN/KPP/OGRN"]
    assert needles.find(f"for {person.last_name} {person.first_name} {person.middle_name}") == ["full name"]
    assert needles.find("POST /rest/1/c0ffee00deadbeef/user.add") == ["secret"]
    assert needles.find("POST /rest/1/***/user.add email=<email> phone=<phone> inn=***") == []
