"""Rendering sandbox records as the XML 1C writes for the ExtranetBridge types (pre-built strings, fast).

Owns the wire conventions of 1C (onec-zup.md §1.2): the ``m:`` prefix on every element of the service
namespace, ``xsi:nil`` declared on ``return``, the empty date ``0001-01-01T00:00:00`` and the all-zero
GUID instead of nulls, datetimes without offset, ``true``/``false``. Empty lists come back both ways 1C
sends them: an empty wrapper for e-mails and a nil wrapper for phones and history.
No parsing here and no HTTP.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from connectors.onec.contract import EMPTY_DATE, EMPTY_REF, NAMESPACE
from sandbox.onec.model import AbsenceRec, Dept, EmployeeRec, Org, PersonRec, Pos, RequestDoc

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ENTITY_TAG = {
    "Organization": "organization",
    "Department": "department",
    "Position": "position",
    "Person": "person",
    "Employee": "employee",
    "Absence": "absence",
    "Request": "request",
}


def esc(text: str) -> str:
    if "&" in text or "<" in text or ">" in text:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


def d(value: date | None) -> str:
    return f"{value.isoformat()}T00:00:00" if value else EMPTY_DATE


def ts(value: datetime | None) -> str:
    return value.replace(microsecond=0).isoformat() if value else EMPTY_DATE


def r(ref: str | None) -> str:
    return ref or EMPTY_REF


def b(value: bool) -> str:
    return "true" if value else "false"


def num(value: Decimal | int) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def el(name: str, text: str) -> str:
    return f"<m:{name}>{text}</m:{name}>"


def s(name: str, value: str | None) -> str:
    """A nillable string element: ``xsi:nil`` for None (1C's Неопределено)."""
    return f'<m:{name} xsi:nil="true"/>' if value is None else f"<m:{name}>{esc(value)}</m:{name}>"


def nil(name: str) -> str:
    return f'<m:{name} xsi:nil="true"/>'


def organization(o: Org, _today: date) -> str:
    return (
        f"<m:ref>{o.ref}</m:ref><m:name>{esc(o.name)}</m:name><m:fullName>{esc(o.full_name)}</m:fullName>"
        f"{s('inn', o.inn)}{s('kpp', o.kpp)}{s('ogrn', o.ogrn)}"
        f"<m:headOrgRef>{r(o.head_org_ref)}</m:headOrgRef><m:deleted>{b(o.deleted)}</m:deleted>"
    )


def department(x: Dept, _today: date) -> str:
    return (
        f"<m:ref>{x.ref}</m:ref><m:orgRef>{x.org_ref}</m:orgRef><m:parentRef>{r(x.parent_ref)}</m:parentRef>"
        f"<m:code>{x.code}</m:code><m:name>{esc(x.name)}</m:name><m:createdOn>{d(x.created_on)}</m:createdOn>"
        f"<m:disbandedOn>{d(x.disbanded_on)}</m:disbandedOn><m:deleted>{b(x.deleted)}</m:deleted>"
    )


def position(p: Pos, _today: date) -> str:
    return f"<m:ref>{p.ref}</m:ref><m:name>{esc(p.name)}</m:name><m:deleted>{b(p.deleted)}</m:deleted>"


def person(p: PersonRec, _today: date) -> str:
    emails = "".join(f"<m:item>{esc(e)}</m:item>" for e in p.emails)
    phones = (
        "<m:phones>"
        + "".join(
            f"<m:item><m:kind>{ph.kind}</m:kind><m:value>{esc(ph.value)}</m:value></m:item>"
            for ph in p.phones
        )
        + "</m:phones>"
        if p.phones
        else nil("phones")
    )
    return (
        f"<m:ref>{p.ref}</m:ref><m:lastName>{esc(p.last_name)}</m:lastName>"
        f"<m:firstName>{esc(p.first_name)}</m:firstName>{s('middleName', p.middle_name)}"
        f"<m:birthDate>{d(p.birth_date)}</m:birthDate>{s('gender', p.gender)}"
        f"<m:emails>{emails}</m:emails>{phones}<m:deleted>{b(p.deleted)}</m:deleted>"
    )


def employee(e: EmployeeRec, today: date) -> str:
    pl = e.placement(today)
    if pl is None:
        current = nil("current")
    else:
        rate = nil("rate") if pl.rate is None else el("rate", num(pl.rate))
        current = (
            f"<m:current><m:orgRef>{pl.org_ref}</m:orgRef><m:deptRef>{r(pl.dept_ref)}</m:deptRef>"
            f"<m:positionRef>{r(pl.position_ref)}</m:positionRef><m:employmentKind>{pl.kind}</m:employmentKind>"
            f"<m:hireDate>{d(pl.hire_date)}</m:hireDate><m:dismissalDate>{d(pl.dismissal_date)}</m:dismissalDate>"
            f"{rate}</m:current>"
        )
    if e.history:
        history = (
            "<m:history>"
            + "".join(
                f"<m:item><m:period>{d(h.period)}</m:period><m:event>{h.event}</m:event>"
                f"<m:orgRef>{h.org_ref}</m:orgRef><m:deptRef>{r(h.dept_ref)}</m:deptRef>"
                f"<m:positionRef>{r(h.position_ref)}</m:positionRef>"
                f"<m:validUntil>{d(h.valid_until)}</m:validUntil></m:item>"
                for h in e.history
            )
            + "</m:history>"
        )
    else:
        history = nil("history")
    return (
        f"<m:ref>{e.ref}</m:ref><m:personnelNo>{esc(e.personnel_no)}</m:personnelNo>"
        f"<m:personRef>{e.person_ref}</m:personRef><m:headOrgRef>{e.head_org_ref}</m:headOrgRef>"
        f"<m:mainEmployeeRef>{r(e.main_employee_ref)}</m:mainEmployeeRef>"
        f"<m:archived>{b(e.archived(today))}</m:archived>{current}{history}<m:deleted>{b(e.deleted)}</m:deleted>"
    )


def absence(a: AbsenceRec, _today: date) -> str:
    return (
        f"<m:ref>{a.ref}</m:ref><m:employeeRef>{a.employee_ref}</m:employeeRef><m:kind>{a.kind}</m:kind>"
        f"<m:dateFrom>{d(a.date_from)}</m:dateFrom><m:dateTo>{d(a.date_to)}</m:dateTo>"
        f"<m:state>{a.state}</m:state><m:deleted>{b(a.deleted)}</m:deleted>"
    )


def request(q: RequestDoc, _today: date) -> str:
    return (
        f"<m:requestId>{esc(q.request_id)}</m:requestId><m:status>{q.status}</m:status>"
        f"{s('reason', q.reason)}"
        f"{s('reviewedBy', q.reviewed_by)}<m:reviewedAt>{ts(q.reviewed_at)}</m:reviewedAt>"
        f"{s('docType', q.doc_type)}<m:docRef>{q.doc_ref}</m:docRef>"
    )


RENDER = {
    "Organization": organization,
    "Department": department,
    "Position": position,
    "Person": person,
    "Employee": employee,
    "Absence": absence,
    "Request": request,
}


def record(entity: str, obj: object, today: date) -> str:
    """The children of a ``Record``: one element named after the entity."""
    tag = ENTITY_TAG[entity]
    return f"<m:{tag}>{RENDER[entity](obj, today)}</m:{tag}>"  # type: ignore[operator]


def errors(items: list[tuple[str, str, str | None]]) -> str:
    """An ``ErrorList``: an empty wrapper when there is none."""
    if not items:
        return "<m:errors/>"
    body = "".join(
        f"<m:item><m:code>{code}</m:code><m:message>{esc(msg)}</m:message>{s('field', fld)}</m:item>"
        for code, msg, fld in items
    )
    return f"<m:errors>{body}</m:errors>"


def envelope(soap_ns: str, operation: str, inner: str) -> bytes:
    """A whole response: ``<OpResponse><return>…</return></OpResponse>`` in a SOAP 1.1 or 1.2 envelope."""
    return (
        f'<soap:Envelope xmlns:soap="{soap_ns}"><soap:Header/><soap:Body>'
        f'<m:{operation}Response xmlns:m="{NAMESPACE}"><m:return xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        f'xmlns:xsi="{XSI}">{inner}</m:return></m:{operation}Response></soap:Body></soap:Envelope>'
    ).encode()
