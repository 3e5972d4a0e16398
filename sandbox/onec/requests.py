"""The write side for employee requests: SubmitRequest, WithdrawRequest, GetDocument, and the simulated
HR review.

Owns idempotency by requestId (the register ВнешниеЗапросыExtranetBridge: a repeat returns the same
document and creates nothing), the mapping of request kinds to ZUP documents, validation errors inside
``return``, and the review an HR accountant does after a delay on the sandbox clock: InReview → Approved
or Rejected (with a reason); approved leave, sick notices and trips become absences; certificates
become Done with a PDF. A request still in review can be withdrawn (Отозвано, docs/onec-contract.md
WithdrawRequest); once HR decided it is too late. Every status change is registered in the change feed as
entity Request.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import date, timedelta
from typing import Any

from sandbox.onec import ids, render, soap
from sandbox.onec.gen_hr import ABSENCE_DOCS
from sandbox.onec.model import AbsenceRec, RequestDoc
from sandbox.onec.names import translit
from sandbox.onec.pdf import build_pdf
from sandbox.onec.state import SandboxState

TASK = "ЗадачаКадровику"
DOC_TYPES = {
    "Leave": "ЗаявкаНаОтпуск",
    "LeaveCancel": "ОтменаЗаявкиНаОтпуск",
    "LeaveTransfer": "ПереносОтпуска",
    "VacationWish": TASK,
    "SickNotice": "СообщениеОбОтсутствии",
    "Certificate": "ЗапросСправкиСотрудником",
    "IncomeCertificate": "ЗапросСправки2НДФЛСотрудником",
    "BusinessTrip": "ЗаявкаНаКомандировку",
    "Advance": TASK,
    "BankDetails": TASK,
    "TaxDeduction": TASK,
    "WorkBook": TASK,
    "Dismissal": TASK,
}
NEEDS_PERIOD = frozenset({"Leave", "LeaveTransfer", "SickNotice", "BusinessTrip", "VacationWish"})
MAKES_ABSENCE = {"Leave": "Vacation", "SickNotice": "SickLeave", "BusinessTrip": "BusinessTrip"}
CERTIFICATES = frozenset({"Certificate", "IncomeCertificate"})
Errors = list[tuple[str, str, str | None]]


def _result(q: RequestDoc | None, request_id: str, status: str, errors: Errors) -> str:
    return (
        f"<m:requestId>{render.esc(request_id)}</m:requestId><m:status>{status}</m:status>"
        f"{render.s('docType', q.doc_type if q else None)}"
        f"<m:docRef>{render.r(q.doc_ref if q else None)}</m:docRef>"
        f"{render.s('docNumber', q.doc_number if q else None)}{render.errors(errors)}"
    )


def _read(params: dict[str, Any]) -> tuple[dict[str, Any], Errors]:
    errors: Errors = []
    out: dict[str, Any] = {
        "request_id": soap.text(params.get("requestId")) or "",
        "kind": soap.text(params.get("kind")),
    }
    for name, key, reader in (
        ("personRef", "person_ref", soap.guid),
        ("employeeRef", "employee_ref", soap.guid),
        ("dateFrom", "date_from", soap.day),
        ("dateTo", "date_to", soap.day),
    ):
        try:
            out[key] = reader(params.get(name), name)
        except soap.BadParam as exc:
            errors.append(("INVALID_VALUE", str(exc), exc.field))
            out[key] = None
    out["details"] = {
        soap.text(soap.child(i, "key")) or "": soap.text(soap.child(i, "value")) or ""
        for i in soap.items(params.get("details"))
    }
    out["approvals"] = [
        {k: soap.text(soap.child(i, k)) for k in ("who", "role", "at", "decision", "comment")}
        for i in soap.items(params.get("approvals"))
    ]
    attachments = []
    for n, i in enumerate(soap.items(params.get("attachments"))):
        try:
            raw = base64.b64decode(soap.text(soap.child(i, "content")) or "", validate=True)
        except ValueError:
            errors.append(("INVALID_VALUE", "Вложение не в base64", f"attachments[{n}].content"))
            raw = b""
        attachments.append(
            {
                "name": soap.text(soap.child(i, "name")),
                "mime": soap.text(soap.child(i, "mime")),
                "size": len(raw),
                "sha256": hashlib.sha256(raw).hexdigest(),  # a test can check the exact bytes arrived
            }
        )
    out["attachments"] = attachments
    return out, errors


def _validate(state: SandboxState, a: dict[str, Any]) -> Errors:
    c = state.company
    errors: Errors = []
    if not soap._GUID.match(a["request_id"]):
        errors.append(("INVALID_REQUEST_ID", "Идентификатор заявки должен быть UUID", "requestId"))
    if a["kind"] not in DOC_TYPES:
        errors.append(("UNKNOWN_KIND", f"Неизвестный вид заявки: {a['kind']}", "kind"))
    if a["person_ref"] is None or a["person_ref"] not in c.persons:
        errors.append(("PERSON_NOT_FOUND", "Физическое лицо не найдено", "personRef"))
    emp = a["employee_ref"]
    if emp is not None:
        if emp not in c.employees:
            errors.append(("EMPLOYEE_NOT_FOUND", "Сотрудник не найден", "employeeRef"))
        elif c.employees[emp].person_ref != a["person_ref"]:
            errors.append(
                ("EMPLOYEE_MISMATCH", "Сотрудник относится к другому физическому лицу", "employeeRef")
            )
    if a["kind"] in NEEDS_PERIOD:
        for key, name in (("date_from", "dateFrom"), ("date_to", "dateTo")):
            if a[key] is None:
                errors.append(("REQUIRED", "Не заполнена дата", name))
    if a["date_from"] and a["date_to"] and a["date_to"] < a["date_from"]:
        errors.append(("INVALID_PERIOD", "Дата окончания раньше даты начала", "dateTo"))
    if a["kind"] == "LeaveCancel" and not a["details"].get("originalRequestId"):
        errors.append(("REQUIRED", "Не указана отменяемая заявка", "details.originalRequestId"))
    return errors


def submit_request(state: SandboxState, params: dict[str, Any]) -> str:
    a, errors = _read(params)
    c = state.company
    existing = c.requests_by_id.get(a["request_id"])
    if existing is not None:
        if existing.kind != a["kind"] or existing.person_ref != a["person_ref"]:
            conflict = (
                "REQUEST_ID_CONFLICT",
                "Заявка с этим идентификатором уже создана с другими данными",
                "requestId",
            )
            return _result(existing, a["request_id"], "Rejected", [conflict])
        return _result(existing, a["request_id"], "AlreadyExists", [])
    errors += _validate(state, a)
    if errors:
        return _result(None, a["request_id"], "Rejected", errors)
    now = state.now()
    doc_type = DOC_TYPES[a["kind"]]
    q = RequestDoc(
        request_id=a["request_id"],
        kind=a["kind"],
        person_ref=a["person_ref"],
        employee_ref=a["employee_ref"],
        date_from=a["date_from"],
        date_to=a["date_to"],
        details=a["details"],
        approvals=a["approvals"],
        attachments=a["attachments"],
        doc_type=doc_type,
        doc_ref=ids.new_ref(state.rng),
        doc_number=c.number(doc_type),
        submitted_at=now,
        decide_at=now + timedelta(seconds=state.review.delay_seconds),
    )
    c.requests_by_id[q.request_id] = q
    c.tables["Request"].add(q.doc_ref, q)
    state.register("Request", q.doc_ref)
    return _result(q, q.request_id, "Created", [])


def _withdrawal(request_id: str, status: str, errors: Errors) -> str:
    return (
        f"<m:requestId>{render.esc(request_id)}</m:requestId><m:status>{status}</m:status>"
        + render.errors(errors)
    )


def withdraw_request(state: SandboxState, params: dict[str, Any]) -> str:
    """Отозвать заявку: the document's Статус becomes Отозвано while HR has not decided it (the review
    that was due no longer decides it); a repeat answers AlreadyWithdrawn; a decided one is TooLate (a
    posted leave needs an ОтменаЗаявкиНаОтпуск, docs/onec-contract.md)."""
    request_id = soap.text(params.get("requestId")) or ""
    q = state.company.requests_by_id.get(request_id)
    if q is None:
        return _withdrawal(request_id, "NotFound", [("NOT_FOUND", "Заявка не найдена", "requestId")])
    if q.status == "Withdrawn":
        return _withdrawal(request_id, "AlreadyWithdrawn", [])
    if q.status not in ("Created", "InReview"):
        message = (
            "Отпуск уже оформлен: оформите отмену отпуска"
            if q.absence_ref
            else "Заявка уже рассмотрена кадровой службой"
        )
        return _withdrawal(request_id, "TooLate", [("TOO_LATE", message, None)])
    q.status, q.reason = "Withdrawn", soap.text(params.get("reason"))
    state.register("Request", q.doc_ref)
    return _withdrawal(request_id, "Withdrawn", [])


def _employment(state: SandboxState, q: RequestDoc, on: date) -> str | None:
    c = state.company
    if q.employee_ref:
        return q.employee_ref
    refs = c.employees_by_person.get(q.person_ref, [])
    active = [r for r in refs if c.employees[r].is_active_on(on)]
    mains = [r for r in active if c.employees[r].kind == "Main"]
    chosen = mains or active
    return chosen[0] if chosen else None


def _clash(state: SandboxState, employee_ref: str, start: date, end: date) -> AbsenceRec | None:
    c = state.company
    for ref in c.absences_by_employee.get(employee_ref, []):
        a = c.absences[ref]
        if a.date_from <= end and start <= a.date_to:
            return a
    return None


def _decide(state: SandboxState, q: RequestDoc) -> tuple[str, str | None]:
    if q.forced:
        return q.forced
    if state.review.decision in ("approve", "reject"):
        return (
            ("Approved", None)
            if state.review.decision == "approve"
            else ("Rejected", "Отклонено кадровой службой")
        )
    c = state.company
    if q.kind == "LeaveCancel":
        original = c.requests_by_id.get(q.details.get("originalRequestId", ""))
        if original is None or original.person_ref != q.person_ref:
            return "Rejected", "Отменяемая заявка не найдена"
        return "Approved", None
    if q.kind in MAKES_ABSENCE and q.date_from and q.date_to:
        emp = _employment(state, q, q.date_from)
        if emp is None:
            return "Rejected", "Нет действующего трудового договора на дату начала"
        clash = _clash(state, emp, q.date_from, q.date_to)
        if clash is not None:
            doc = ABSENCE_DOCS.get(clash.kind, "Отсутствие")
            return "Rejected", f"Период пересекается с документом «{doc} {clash.doc_number}»"
    return "Approved", None


def _apply(state: SandboxState, q: RequestDoc) -> None:
    """What the accountant posts after approving: an absence, a cancellation, or a certificate."""
    c = state.company
    if q.kind in MAKES_ABSENCE and q.date_from and q.date_to:
        emp = _employment(state, q, q.date_from)
        if emp is not None:
            kind = MAKES_ABSENCE[q.kind]
            a = AbsenceRec(ids.new_ref(state.rng), emp, kind, q.date_from, q.date_to, c.number(kind))
            c.tables["Absence"].add(a.ref, a)
            c.absences_by_employee.setdefault(emp, []).append(a.ref)
            q.absence_ref = a.ref
            state.register("Absence", a.ref)
            state.register("Employee", emp)
    elif q.kind == "LeaveCancel":
        original = c.requests_by_id[q.details["originalRequestId"]]
        if original.absence_ref and original.absence_ref in c.absences:
            cancel_absence(state, original.absence_ref)
        original.status = "Withdrawn"
        state.register("Request", original.doc_ref)
    if q.kind in CERTIFICATES:
        q.file = certificate_pdf(state, q)
        q.file_name = f"spravka-{q.doc_number}.pdf"
        q.status = "Done"


def cancel_absence(state: SandboxState, absence_ref: str) -> None:
    """Delete an absence document (unposted and deleted): registered as a deletion."""
    c = state.company
    a = c.absences[absence_ref]
    c.tables["Absence"].remove(absence_ref)
    refs = c.absences_by_employee.get(a.employee_ref, [])
    if absence_ref in refs:
        refs.remove(absence_ref)
    state.register("Absence", absence_ref)
    state.register("Employee", a.employee_ref)


def review_due(state: SandboxState) -> None:
    """Move every request whose review is due on the sandbox clock (called before each call)."""
    now = state.now()
    for q in state.company.requests_by_id.values():
        if q.status == "InReview" and q.decide_at <= now:
            q.status, q.reason = _decide(state, q)
            q.reviewed_by, q.reviewed_at = state.review.reviewer, now
            if q.status == "Approved":
                _apply(state, q)
            state.register("Request", q.doc_ref)


def certificate_pdf(state: SandboxState, q: RequestDoc) -> bytes:
    c = state.company
    p = c.persons[q.person_ref]
    emp_ref = _employment(state, q, state.today())
    emp = c.employees.get(emp_ref or "")
    place = emp.placement(state.today()) if emp else None
    org = c.orgs.get(place.org_ref) if place else None
    title = "SPRAVKA 2-NDFL" if q.kind == "IncomeCertificate" else "SPRAVKA S MESTA RABOTY"
    lines = [
        f"No {translit(q.doc_number)} ot {state.today():%d.%m.%Y}",
        f"Vydana: {translit(p.last_name).title()} {translit(p.first_name).title()}",
        f"Organizatsiya: {translit(org.name).title() if org else '-'} INN {org.inn if org else '-'}",
        f"Data priema: {place.hire_date:%d.%m.%Y}" if place and place.hire_date else "Data priema: -",
        f"Zapros: {q.request_id}",
        "Sformirovano v pesochnitse Extranet Bridge (ne yavlyaetsya dokumentom).",
    ]
    return build_pdf(title, lines)


def get_document(state: SandboxState, params: dict[str, Any]) -> str:
    request_id = soap.text(params.get("requestId")) or ""
    q = state.company.requests_by_id.get(request_id)
    if q is None:
        for ts in state.company.timesheets.values():
            if request_id in ts.request_ids:
                return (
                    f"<m:requestId>{render.esc(request_id)}</m:requestId><m:status>Posted</m:status>"
                    f"<m:docType>ТабельУчетаРабочегоВремени</m:docType><m:docRef>{ts.doc_ref}</m:docRef>"
                    f"{render.nil('fileName')}{render.nil('mime')}{render.nil('content')}{render.errors([])}"
                )
        return (
            f"<m:requestId>{render.esc(request_id)}</m:requestId><m:status>NotFound</m:status>"
            f"{render.nil('docType')}<m:docRef>{render.r(None)}</m:docRef>{render.nil('fileName')}"
            f"{render.nil('mime')}{render.nil('content')}"
            f"{render.errors([('NOT_FOUND', 'Заявка не найдена', 'requestId')])}"
        )
    content = (
        render.el("content", base64.b64encode(q.file).decode())
        if q.file is not None
        else render.nil("content")
    )
    return (
        f"<m:requestId>{render.esc(q.request_id)}</m:requestId><m:status>{q.status}</m:status>"
        f"<m:docType>{q.doc_type}</m:docType><m:docRef>{q.doc_ref}</m:docRef>"
        f"{render.s('fileName', q.file_name)}"
        f"{render.s('mime', 'application/pdf' if q.file else None)}{content}{render.errors([])}"
    )
