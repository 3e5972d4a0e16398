"""What the bridge sends to 1C (zeep keyword arguments), and zeep's answers read into the port's results.

Only the small operations pass through here (GetInfo, SubmitRequest, WithdrawRequest, SubmitTimesheet,
GetWorkSchedule, GetDocument): zeep validates and builds them; the bulky ones are read by
connectors/onec/records.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, tzinfo
from typing import Any

from connectors.onec import normalise as n
from connectors.onec.errors import OneCProtocolError
from connectors.onec.port import (
    Approval,
    BusinessError,
    DocumentStatus,
    EmploymentRef,
    RequestSubmission,
    ScheduleDay,
    ServiceInfo,
    SubmitResult,
    TimesheetConflict,
    TimesheetResult,
    TimesheetSubmission,
    WithdrawResult,
)

_SUBMIT = ("Created", "AlreadyExists", "Rejected")
_WITHDRAW = ("Withdrawn", "AlreadyWithdrawn", "TooLate", "NotFound")
_TIMESHEET = ("Created", "Replaced", "AlreadyExists", "Rejected")


def _wrap(values: list[dict[str, Any]] | list[str]) -> dict[str, Any]:
    return {"item": values}


def _approvals(approvals: Sequence[Approval], tz: tzinfo) -> dict[str, Any]:
    return _wrap(
        [
            {
                "who": a.who,
                "role": a.role,
                "at": n.out_datetime(a.at, tz),
                "decision": a.decision,
                "comment": a.comment,
            }
            for a in approvals
        ]
    )


def submit_request_args(request: RequestSubmission, tz: tzinfo) -> dict[str, Any]:
    return {
        "requestId": request.request_id,
        "kind": request.kind,
        "personRef": n.out_ref(request.person_ref),
        "employeeRef": n.out_ref(request.employee_ref),
        "dateFrom": n.out_date(request.date_from),
        "dateTo": n.out_date(request.date_to),
        "details": _wrap([{"key": k, "value": v} for k, v in sorted(request.details.items())]),
        "approvals": _approvals(request.approvals, tz),
        "attachments": _wrap(
            [{"name": a.name, "mime": a.mime, "content": a.content} for a in request.attachments]
        ),
    }


def submit_timesheet_args(timesheet: TimesheetSubmission, tz: tzinfo) -> dict[str, Any]:
    rows = [
        {
            "employeeRef": n.out_ref(row.employee_ref),
            "days": _wrap(
                [{"date": n.out_date(d.day), "timeKind": d.time_kind, "hours": d.hours} for d in row.days]
            ),
        }
        for row in timesheet.rows
    ]
    return {
        "requestId": timesheet.request_id,
        "orgRef": n.out_ref(timesheet.org_ref),
        "deptRef": n.out_ref(timesheet.department_ref),
        "periodFrom": n.out_date(timesheet.period_from),
        "periodTo": n.out_date(timesheet.period_to),
        "rows": _wrap(rows),
        "approvals": _approvals(timesheet.approvals, tz),
    }


def work_schedule_args(refs: Sequence[str], period_from: date, period_to: date) -> dict[str, Any]:
    return {
        "employeeRefs": _wrap(n.out_refs(refs)),
        "periodFrom": n.out_date(period_from),
        "periodTo": n.out_date(period_to),
    }


# ---- answers ------------------------------------------------------------------------------------------


def _get(obj: Any, name: str) -> Any:
    return None if obj is None else getattr(obj, name, None)


def _returned(result: Any, operation: str) -> Any:
    if result is None:
        raise OneCProtocolError(f"1C answered {operation} with an empty 'return'")
    return result


def business_errors(wrapper: Any) -> tuple[BusinessError, ...]:
    return tuple(
        BusinessError(
            code=n.text(_get(e, "code")) or "Error",
            message=n.text(_get(e, "message")) or "",
            field=n.text(_get(e, "field")),
        )
        for e in n.items(wrapper)
    )


def service_info(result: Any) -> ServiceInfo:
    r = _returned(result, "GetInfo")
    zone_name = n.text(r.timeZone) or n.DEFAULT_TIME_ZONE
    tz = n.time_zone(zone_name)
    server_time = n.to_datetime(r.serverTime, tz)
    if server_time is None:
        raise OneCProtocolError("1C answered GetInfo without a server time")
    return ServiceInfo(
        contract_version=n.text(r.contractVersion) or "",
        config_name=n.text(r.configName) or "",
        config_version=n.text(r.configVersion) or "",
        server_time=server_time,
        time_zone=zone_name,
        node_code=n.text(r.nodeCode) or "",
    )


def submit_result(result: Any, request_id: str) -> SubmitResult:
    r = _returned(result, "SubmitRequest")
    status = n.text(r.status)
    if status not in _SUBMIT:
        raise OneCProtocolError(f"1C answered SubmitRequest with an unknown status ({str(status)[:20]!r})")
    return SubmitResult(
        request_id=n.text(r.requestId) or request_id,
        status=status,  # type: ignore[arg-type]
        doc_type=n.text(r.docType),
        doc_ref=n.ref(r.docRef),
        doc_number=n.text(r.docNumber),
        errors=business_errors(r.errors),
    )


def withdraw_result(result: Any, request_id: str) -> WithdrawResult:
    r = _returned(result, "WithdrawRequest")
    status = n.text(r.status)
    if status not in _WITHDRAW:
        raise OneCProtocolError(f"1C answered WithdrawRequest with an unknown status ({str(status)[:20]!r})")
    return WithdrawResult(
        request_id=n.text(r.requestId) or request_id,
        status=status,  # type: ignore[arg-type]
        errors=business_errors(r.errors),
    )


def timesheet_result(result: Any, request_id: str) -> TimesheetResult:
    r = _returned(result, "SubmitTimesheet")
    status = n.text(r.status)
    if status not in _TIMESHEET:
        raise OneCProtocolError(f"1C answered SubmitTimesheet with an unknown status ({str(status)[:20]!r})")
    conflicts = tuple(
        TimesheetConflict(
            employee_ref=EmploymentRef(n.required_ref(c.employeeRef, "TimesheetConflict.employeeRef")),
            day=n.required_date(c.date, "TimesheetConflict.date"),
            owned_by=n.text(c.ownedBy) or "",
        )
        for c in n.items(r.conflicts)
    )
    return TimesheetResult(
        request_id=n.text(r.requestId) or request_id,
        status=status,  # type: ignore[arg-type]
        doc_ref=n.ref(r.docRef),
        conflicts=conflicts,
        errors=business_errors(r.errors),
    )


def work_schedule(result: Any) -> tuple[dict[EmploymentRef, list[ScheduleDay]], tuple[BusinessError, ...]]:
    r = _returned(result, "GetWorkSchedule")
    out: dict[EmploymentRef, list[ScheduleDay]] = {}
    for item in n.items(r.items):
        ref = EmploymentRef(n.required_ref(item.employeeRef, "EmployeeSchedule.employeeRef"))
        days = [
            ScheduleDay(
                day=n.required_date(d.date, "ScheduleDay.date"), hours=n.to_decimal(d.hours) or n.ZERO
            )
            for d in n.items(item.days)
        ]
        out[ref] = days
    return out, business_errors(r.errors)


def document_status(result: Any, request_id: str) -> tuple[DocumentStatus, tuple[BusinessError, ...]]:
    r = _returned(result, "GetDocument")
    errors = business_errors(r.errors)
    status = n.text(r.status) or (errors[0].code if errors else "Unknown")
    content = r.content if isinstance(r.content, bytes | bytearray) and r.content else None
    return (
        DocumentStatus(
            request_id=n.text(r.requestId) or request_id,
            status=status,
            file_name=n.text(r.fileName),
            content=bytes(content) if content is not None else None,
        ),
        errors,
    )
