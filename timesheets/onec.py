"""Approved timesheets as ``SubmitTimesheet`` values, and 1C's answer mapped back to each sheet (pure).

1C keeps one ТабельУчетаРабочегоВремени per (organisation, department, period) and the period lies in one
month (docs/onec-contract.md, SubmitTimesheet), so the sheets of a site and period become one submission
per calendar month they touch (a week across a month end becomes two). The ``requestId`` is derived from
the sheet versions it carries: a retry sends the same id (1C answers ``AlreadyExists``), a correction
sends a new one (1C answers ``Replaced``). The outbox delivers the value; nothing here calls 1C.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from connectors.onec.port import (
    Approval,
    DepartmentRef,
    EmploymentRef,
    OrgRef,
    TimesheetConflict,
    TimesheetDay,
    TimesheetResult,
    TimesheetRow,
    TimesheetSubmission,
)
from timesheets.model import Period, Timesheet, TimesheetError

OneCEvent = Literal["onec_accepted", "onec_conflicts", "onec_failed"]
_NAMESPACE = uuid.UUID("6f1d2c4e-8b1a-4c55-9d0e-3a7b5e2f9c10")


@dataclass(frozen=True, slots=True)
class Submission:
    """One ``SubmitTimesheet`` call and the sheets it carries (to map 1C's answer back)."""

    value: TimesheetSubmission
    sheet_ids: dict[EmploymentRef, str]


def _months(period: Period) -> list[Period]:
    """The period cut at month ends."""
    parts: list[Period] = []
    start = period.start
    for day in period.days():
        following = day + timedelta(days=1)
        if day == period.end or following.month != day.month:
            parts.append(Period(start, day))
            start = following
    return parts


def submissions(sheets: Sequence[Timesheet], approvals: Sequence[Approval] = ()) -> list[Submission]:
    """The 1C submissions of approved sheets of one site and one period (one per month touched)."""
    if not sheets:
        return []
    first = sheets[0]
    for sheet in sheets:
        if (sheet.site_ref, sheet.org_ref, sheet.period) != (first.site_ref, first.org_ref, first.period):
            raise TimesheetError("в одну передачу в 1С попадают табели одного объекта и одного периода")
    employees = [s.employee_ref for s in sheets]
    if len(set(employees)) != len(employees):
        raise TimesheetError("в передаче две версии табеля одного сотрудника")
    ordered = sorted(sheets, key=lambda s: s.employee_ref)
    result: list[Submission] = []
    for month in _months(first.period):
        rows = tuple(
            TimesheetRow(
                EmploymentRef(s.employee_ref),
                tuple(TimesheetDay(d.day, d.time_kind, d.hours) for d in s.days if d.day in month),
            )
            for s in ordered
        )
        versions = "|".join(f"{s.sheet_id}:{s.version}" for s in ordered)
        key = f"{first.org_ref}|{first.site_ref}|{month.key()}|{versions}"
        value = TimesheetSubmission(
            request_id=str(uuid.uuid5(_NAMESPACE, key)),
            org_ref=OrgRef(first.org_ref),
            department_ref=DepartmentRef(first.site_ref),
            period_from=month.start,
            period_to=month.end,
            rows=rows,
            approvals=tuple(approvals),
        )
        result.append(Submission(value, {EmploymentRef(s.employee_ref): s.sheet_id for s in ordered}))
    return result


@dataclass(frozen=True, slots=True)
class SheetOutcome:
    """What 1C's answer means for one sheet: the lifecycle event to apply and its data."""

    sheet_id: str
    event: OneCEvent
    reason: str | None
    conflicts: tuple[TimesheetConflict, ...] = ()


def outcomes(submission: Submission, result: TimesheetResult) -> list[SheetOutcome]:
    """1C's ``TimesheetResult`` → one outcome per sheet; conflicts go to the sheet of their employee."""
    if result.status == "Rejected":
        reason = "; ".join(f"{e.code}: {e.message}" for e in result.errors) or "1С отклонила табель"
        return [SheetOutcome(sid, "onec_failed", reason) for sid in submission.sheet_ids.values()]
    by_employee: dict[EmploymentRef, list[TimesheetConflict]] = defaultdict(list)
    for conflict in result.conflicts:
        by_employee[conflict.employee_ref].append(conflict)
    answers = []
    for employee, sheet_id in submission.sheet_ids.items():
        found = tuple(by_employee.get(employee, ()))
        if found:
            owned = ", ".join(f"{c.day:%d.%m} — {c.owned_by}" for c in found)
            answers.append(
                SheetOutcome(sheet_id, "onec_conflicts", f"дни заняты документами 1С: {owned}", found)
            )
        else:
            answers.append(SheetOutcome(sheet_id, "onec_accepted", None))
    return answers


def conflicts_to_data(conflicts: Sequence[TimesheetConflict]) -> list[list[str]]:
    return [[c.day.isoformat(), c.owned_by] for c in conflicts]
