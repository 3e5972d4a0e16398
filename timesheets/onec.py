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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

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


# ---- the outbox payload: the submissions of one approval as JSON -----------------------------------------


def batch_to_data(batch: Sequence[Submission]) -> dict[str, Any]:
    """What the outbox row carries: every ``SubmitTimesheet`` of one approval, in order."""
    return {"submissions": [_submission_to_data(s) for s in batch]}


def batch_from_data(data: Mapping[str, Any]) -> list[Submission]:
    return [_submission_from_data(s) for s in data["submissions"]]


def batch_key(batch: Sequence[Submission]) -> str:
    """The outbox dedup key: the same sheets' versions queue one row, however often they are approved."""
    return "onec:SubmitTimesheet:" + "+".join(s.value.request_id for s in batch)


def _submission_to_data(s: Submission) -> dict[str, Any]:
    v = s.value
    return {
        "request_id": v.request_id,
        "org_ref": v.org_ref,
        "department_ref": v.department_ref,
        "period": [v.period_from.isoformat(), v.period_to.isoformat()],
        "rows": [
            {
                "employee_ref": r.employee_ref,
                "days": [[d.day.isoformat(), d.time_kind, str(d.hours)] for d in r.days],
            }
            for r in v.rows
        ],
        "approvals": [a.as_json() for a in v.approvals],
        "sheet_ids": dict(s.sheet_ids),
    }


def _submission_from_data(data: Mapping[str, Any]) -> Submission:
    value = TimesheetSubmission(
        request_id=data["request_id"],
        org_ref=OrgRef(data["org_ref"]),
        department_ref=DepartmentRef(data["department_ref"]),
        period_from=date.fromisoformat(data["period"][0]),
        period_to=date.fromisoformat(data["period"][1]),
        rows=tuple(
            TimesheetRow(
                EmploymentRef(r["employee_ref"]),
                tuple(TimesheetDay(date.fromisoformat(d), kind, Decimal(h)) for d, kind, h in r["days"]),
            )
            for r in data["rows"]
        ),
        approvals=tuple(Approval.from_json(a) for a in data.get("approvals") or ()),
    )
    return Submission(value, {EmploymentRef(k): v for k, v in data["sheet_ids"].items()})


def merge(outcomes_of_months: Sequence[SheetOutcome]) -> list[SheetOutcome]:
    """One outcome per sheet from the outcomes of every month it touched: failed wins, then conflicts."""
    by_sheet: dict[str, list[SheetOutcome]] = defaultdict(list)
    for outcome in outcomes_of_months:
        by_sheet[outcome.sheet_id].append(outcome)
    merged = []
    for sheet_id, found in by_sheet.items():
        failed = [o for o in found if o.event == "onec_failed"]
        conflicts = tuple(c for o in found for c in o.conflicts)
        if failed:
            merged.append(SheetOutcome(sheet_id, "onec_failed", "; ".join(o.reason or "" for o in failed)))
        elif conflicts:
            reasons = "; ".join(o.reason or "" for o in found if o.event == "onec_conflicts")
            merged.append(SheetOutcome(sheet_id, "onec_conflicts", reasons, conflicts))
        else:
            merged.append(SheetOutcome(sheet_id, "onec_accepted", None))
    return merged
