"""The leave balance from 1C's records in the replica: 28 days a year per full month since the hire date,
less the employee's own registered vacations since then (not another's, not a cancelled one)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from config.wiring import Store
from connectors.onec.port import (
    Absence,
    AbsenceRef,
    DepartmentRef,
    Employee,
    EmploymentRef,
    OrgRef,
    PersonRef,
    Placement,
)
from processes.leave_balance import leave_balance
from store.db import utcnow
from store.models import SourceRecord
from sync.source import to_json


def _employee(ref: str, hired: date) -> Employee:
    placement = Placement(OrgRef("org"), DepartmentRef("site"), None, "Main", hired, None)
    return Employee(EmploymentRef(ref), "1", PersonRef("p-" + ref), OrgRef("org"), None, False, placement)


def _absence(ref: str, employee: str, start: date, end: date, *, deleted: bool = False) -> Absence:
    return Absence(AbsenceRef(ref), EmploymentRef(employee), "Vacation", start, end, "Posted", deleted)


def test_balance_is_earned_months_less_own_vacations(store: Store) -> None:
    now = utcnow()
    records: list[tuple[str, str, Employee | Absence]] = [
        ("Employee", "e1", _employee("e1", date(2025, 1, 15))),
        ("Employee", "e2", _employee("e2", date(2025, 1, 15))),
        ("Absence", "a1", _absence("a1", "e1", date(2025, 7, 1), date(2025, 7, 14))),
        ("Absence", "a2", _absence("a2", "e2", date(2025, 8, 1), date(2025, 8, 28))),
        ("Absence", "a3", _absence("a3", "e1", date(2025, 9, 1), date(2025, 9, 3), deleted=True)),
        ("Absence", "a4", _absence("a4", "e1", date(2024, 9, 1), date(2024, 9, 3))),  # before the hire
    ]
    with store.sessions.begin() as session:
        for entity, ref, record in records:
            session.add(SourceRecord(entity=entity, ref=ref, parent_ref=None, payload=to_json(record),
                                     content_hash=ref, updated_at=now))  # fmt: skip
    with store.sessions() as session:
        # 2025-01-15 → 2026-03-02: 13 full months → 28 × 13 / 12 = 30.33; less 14 days taken in July.
        assert leave_balance(session, "e1", date(2026, 3, 2)) == Decimal("16.33")
        assert leave_balance(session, "e2", date(2026, 3, 2)) == Decimal("2.33")
        assert leave_balance(session, "unknown", date(2026, 3, 2)) is None
