"""An employee's annual-leave balance from the 1C records the bridge keeps (the replica of the mirror).

The 1C contract (docs/onec-contract.md) has no balance operation, so the balance is derived from what 1C
reports: 28 calendar days per working year (Трудовой кодекс РФ ст. 115), earned per full month worked
since the hire date of the current employment (ст. 121, Правила об очередных и дополнительных отпусках
п. 35), less the days of every ``Vacation`` absence 1C has registered since then. None when 1C's records
of the employment are not there (the employee is told to try later).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.onec.port import Employee
from store.models import SourceRecord
from sync.source import from_json

DAYS_PER_YEAR = Decimal(28)


def _months(start: date, end: date) -> int:
    months = (end.year - start.year) * 12 + end.month - start.month
    return max(months - (1 if end.day < start.day else 0), 0)


def leave_balance(session: Session, employee_ref: str, on: date) -> Decimal | None:
    row = session.scalar(
        select(SourceRecord).where(SourceRecord.entity == "Employee", SourceRecord.ref == employee_ref)
    )
    employee = from_json("Employee", row.payload) if row is not None else None
    if not isinstance(employee, Employee) or employee.current is None or employee.current.hire_date is None:
        return None
    hired = employee.current.hire_date
    earned = DAYS_PER_YEAR * _months(hired, on) / 12
    used = 0
    absences = select(SourceRecord.payload).where(
        SourceRecord.entity == "Absence", SourceRecord.payload["employee_ref"].as_string() == employee_ref
    )
    for payload in session.scalars(absences):  # read as stored (sync.source.from_json keeps its dates text)
        start, end = date.fromisoformat(payload["date_from"]), date.fromisoformat(payload["date_to"])
        if payload.get("kind") == "Vacation" and not payload.get("deleted") and start >= hired:
            used += (end - start).days + 1
    return (earned - used).quantize(Decimal("0.01"))
