"""The write side for timesheets (SubmitTimesheet) and the planned hours (GetWorkSchedule).

Owns the rule "one ТабельУчетаРабочегоВремени per (organisation, department, period)": a new requestId
for the same key replaces its rows (status Replaced, same document), a repeated requestId changes nothing
(AlreadyExists). Days owned by an absence document are never written; they come back as conflicts.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sandbox.onec import ids, render, schedules, soap
from sandbox.onec.gen_hr import ABSENCE_DOCS
from sandbox.onec.model import TimesheetDoc
from sandbox.onec.state import SandboxState

# The time-kind codes (БуквенныйКод) an absence of each kind writes itself.
OWN_CODES = {"Vacation": {"ОТ"}, "SickLeave": {"Б"}, "BusinessTrip": {"К"}, "Unpaid": {"ДО", "НА"}}
MAX_SCHEDULE_EMPLOYEES = 1000
MAX_SCHEDULE_DAYS = 366
Errors = list[tuple[str, str, str | None]]


def _result(
    request_id: str, status: str, doc: TimesheetDoc | None, conflicts: list[Any], errors: Errors
) -> str:
    if conflicts:
        body = "".join(
            f"<m:item><m:employeeRef>{emp}</m:employeeRef><m:date>{render.d(day)}</m:date>"
            f"<m:ownedBy>{render.esc(owner)}</m:ownedBy></m:item>"
            for emp, day, owner in conflicts
        )
        conflicts_xml = f"<m:conflicts>{body}</m:conflicts>"
    else:
        conflicts_xml = "<m:conflicts/>"
    return (
        f"<m:requestId>{render.esc(request_id)}</m:requestId><m:status>{status}</m:status>"
        f"<m:docRef>{render.r(doc.doc_ref if doc else None)}</m:docRef>"
        f"{render.s('docNumber', doc.doc_number if doc else None)}{conflicts_xml}{render.errors(errors)}"
    )


def _read_rows(params: dict[str, Any], errors: Errors) -> list[tuple[str, list[tuple[date, str, Decimal]]]]:
    rows = []
    for i, row in enumerate(soap.items(params.get("rows"))):
        try:
            emp = soap.guid(soap.child(row, "employeeRef"), f"rows[{i}].employeeRef")
        except soap.BadParam as exc:
            errors.append(("INVALID_VALUE", str(exc), exc.field))
            continue
        days = []
        for j, item in enumerate(soap.items(soap.child(row, "days"))):
            where = f"rows[{i}].days[{j}]"
            try:
                day = soap.day(soap.child(item, "date"), f"{where}.date")
                hours = soap.decimal(soap.child(item, "hours"), f"{where}.hours")
            except soap.BadParam as exc:
                errors.append(("INVALID_VALUE", str(exc), exc.field))
                continue
            if day is None:
                errors.append(("REQUIRED", "Не заполнена дата", f"{where}.date"))
                continue
            if not Decimal(0) <= hours <= Decimal(24):
                errors.append(("INVALID_HOURS", "Часов в дне должно быть от 0 до 24", f"{where}.hours"))
            days.append((day, soap.text(soap.child(item, "timeKind")) or "", hours))
        rows.append((emp or "", days))
    return rows


def submit_timesheet(state: SandboxState, params: dict[str, Any]) -> str:
    c = state.company
    errors: Errors = []
    request_id = soap.text(params.get("requestId")) or ""
    try:
        org = soap.guid(params.get("orgRef"), "orgRef")
        dept = soap.guid(params.get("deptRef"), "deptRef")
        start = soap.day(params.get("periodFrom"), "periodFrom")
        end = soap.day(params.get("periodTo"), "periodTo")
    except soap.BadParam as exc:
        return _result(request_id, "Rejected", None, [], [("INVALID_VALUE", str(exc), exc.field)])
    if not request_id:
        errors.append(("REQUIRED", "Не указан идентификатор запроса", "requestId"))
    for doc in c.timesheets.values():
        if request_id and request_id in doc.request_ids:
            if (doc.org_ref, doc.dept_ref, doc.period_from, doc.period_to) != (org, dept, start, end):
                msg = "Запрос с этим идентификатором относится к другому табелю"
                return _result(request_id, "Rejected", doc, [], [("REQUEST_ID_CONFLICT", msg, "requestId")])
            return _result(request_id, "AlreadyExists", doc, doc.conflicts, [])
    if org is None or org not in c.orgs:
        errors.append(("ORG_NOT_FOUND", "Организация не найдена", "orgRef"))
    if dept is None or dept not in c.depts or c.depts[dept].org_ref != org:
        errors.append(("DEPARTMENT_NOT_FOUND", "Подразделение не найдено в организации", "deptRef"))
    if start is None or end is None or end < start or (start.year, start.month) != (end.year, end.month):
        errors.append(("INVALID_PERIOD", "Период табеля должен лежать в одном месяце", "periodFrom"))
    rows = _read_rows(params, errors)
    for i, (emp, days) in enumerate(rows):
        if emp not in c.employees:
            errors.append(("EMPLOYEE_NOT_FOUND", "Сотрудник не найден", f"rows[{i}].employeeRef"))
        elif all(ev.org_ref != org for ev in c.employees[emp].history):
            errors.append(
                (
                    "EMPLOYEE_NOT_IN_ORGANIZATION",
                    "Сотрудник не работает в организации",
                    f"rows[{i}].employeeRef",
                )
            )
        for j, (day, _kind, _hours) in enumerate(days):
            if start and end and not start <= day <= end:
                errors.append(("DAY_OUTSIDE_PERIOD", "День вне периода табеля", f"rows[{i}].days[{j}].date"))
    if errors:
        return _result(request_id, "Rejected", None, [], errors)
    assert org and dept and start and end
    conflicts: list[tuple[str, date, str]] = []
    written: dict[str, list[tuple[date, str, Decimal]]] = {}
    for emp, days in rows:
        owned = {}
        for ref in c.absences_by_employee.get(emp, []):
            a = c.absences[ref]
            owner = f"{ABSENCE_DOCS.get(a.kind, 'Отсутствие')} {a.doc_number} от {a.date_from:%d.%m.%Y}"
            day = max(a.date_from, start)
            while day <= min(a.date_to, end):
                owned[day] = (owner, OWN_CODES.get(a.kind, set()))
                day += timedelta(days=1)
        kept = written.setdefault(emp, [])
        for day, kind, hours in days:
            if day in owned:
                owner, codes = owned[day]
                if kind not in codes:
                    conflicts.append((emp, day, owner))
                continue
            kept.append((day, kind, hours))
    key = (org, dept, start, end)
    found = c.timesheets.get(key)
    if found is None:
        doc = TimesheetDoc(
            ids.new_ref(state.rng), c.number("ТабельУчетаРабочегоВремени"), org, dept, start, end,
            [request_id], written, conflicts, state.now(),
        )  # fmt: skip
        c.timesheets[key] = doc
        status = "Created"
    else:
        doc = found
        doc.request_ids.append(request_id)
        doc.rows, doc.conflicts = written, conflicts
        doc.replaced += 1
        status = "Replaced"
    return _result(request_id, status, doc, conflicts, [])


def work_schedule(state: SandboxState, params: dict[str, Any]) -> str:
    c = state.company
    errors: Errors = []
    try:
        start = soap.day(params.get("periodFrom"), "periodFrom")
        end = soap.day(params.get("periodTo"), "periodTo")
        refs = [soap.guid(i, "employeeRefs") for i in soap.items(params.get("employeeRefs"))]
    except soap.BadParam as exc:
        errors.append(("INVALID_VALUE", str(exc), exc.field))
        start = end = None
        refs = []
    if not errors and (
        start is None or end is None or end < start or (end - start).days >= MAX_SCHEDULE_DAYS
    ):
        errors.append(("INVALID_PERIOD", f"Период от 1 до {MAX_SCHEDULE_DAYS} дней", "periodFrom"))
    if len(refs) > MAX_SCHEDULE_EMPLOYEES:
        errors.append(("TOO_MANY", f"Не более {MAX_SCHEDULE_EMPLOYEES} сотрудников за вызов", "employeeRefs"))
    if errors:
        return f"{render.nil('items')}{render.errors(errors)}"
    assert start and end
    out = []
    for ref in refs:
        emp = c.employees.get(ref or "")
        if emp is None:
            errors.append(("EMPLOYEE_NOT_FOUND", f"Сотрудник не найден: {ref}", "employeeRefs"))
            continue
        name = schedules.SCHEDULES[emp.schedule][0]
        phase = schedules.phase_of(emp.ref)
        days = []
        day = start
        while day <= end:
            hours = schedules.planned_hours(emp.schedule, day, phase) if emp.is_active_on(day) else Decimal(0)
            days.append(
                f"<m:item><m:date>{render.d(day)}</m:date><m:hours>{render.num(hours)}</m:hours></m:item>"
            )
            day += timedelta(days=1)
        out.append(
            f"<m:item><m:employeeRef>{emp.ref}</m:employeeRef><m:scheduleName>{name}</m:scheduleName>"
            f"<m:days>{''.join(days)}</m:days></m:item>"
        )
    return f"<m:items>{''.join(out)}</m:items>{render.errors(errors)}"
