"""The fast path: snapshot pages and change batches read with lxml straight into the port's records.

GetSnapshotPage and GetChanges carry up to a thousand records per call; zeep's generic object building
is about nine times slower than this path (``extranet-bridge bench onec --zeep``), so they are read here,
element by element, against the contract's ``Record`` type (one optional child per entity). zeep still
builds the request envelopes and handles every other operation. A missing required field is an
OneCProtocolError. The value helpers are connectors/onec/normalise.py's rules, specialised to
text (what lxml gives) in connectors/onec/values.py, because they run a million times per snapshot.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import tzinfo
from typing import Any, cast

from lxml import etree

from connectors.onec import normalise as n
from connectors.onec.contract import NAMESPACE
from connectors.onec.errors import OneCProtocolError
from connectors.onec.port import (
    Absence,
    AbsenceRef,
    BusinessError,
    Change,
    ChangeBatch,
    ContactPhone,
    Department,
    DepartmentRef,
    Employee,
    EmploymentRef,
    HrEvent,
    Organization,
    OrgRef,
    Person,
    PersonRef,
    Placement,
    Position,
    PositionRef,
    Record,
    RequestStatus,
    TEntity,
)
from connectors.onec.values import flag as _b
from connectors.onec.values import opt_day as _d
from connectors.onec.values import opt_decimal as _dec
from connectors.onec.values import opt_ref as _r
from connectors.onec.values import opt_text as _s
from connectors.onec.values import req_day as _rd
from connectors.onec.values import req_ref as _rr

_NS = "{" + NAMESPACE + "}"
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=True, remove_comments=True, remove_pis=True
)
_ENTITIES: frozenset[str] = frozenset(
    ("Organization", "Department", "Position", "Person", "Employee", "Absence", "Request")
)
_STATUSES = frozenset(("Created", "InReview", "Approved", "Rejected", "Withdrawn", "Done"))
_EVENTS = frozenset(("Hire", "Transfer", "Dismissal", "Restore"))
_KINDS = frozenset(("Main", "PartTimeExternal", "PartTimeInternal"))

(
    RETURN, ITEMS, ITEM, ERRORS, LAST_REF, HAS_MORE, MESSAGE_NO, ENTITY, PAYLOAD, CODE, MESSAGE, FIELD,
    REF, NAME, FULL_NAME, INN, KPP, HEAD_ORG_REF, DELETED, ORG_REF, PARENT_REF, CREATED_ON, DISBANDED_ON,
    LAST_NAME, FIRST_NAME, MIDDLE_NAME, BIRTH_DATE, GENDER, EMAILS, PHONES, KIND, VALUE,
    DEPT_REF, POSITION_REF, EMPLOYMENT_KIND, HIRE_DATE, DISMISSAL_DATE, RATE, PERIOD, EVENT, VALID_UNTIL,
    PERSONNEL_NO, PERSON_REF, MAIN_EMPLOYEE_REF, ARCHIVED, CURRENT, HISTORY, EMPLOYEE_REF, DATE_FROM,
    DATE_TO, STATE, REQUEST_ID, STATUS, REASON, REVIEWED_BY, REVIEWED_AT, DOC_REF,
) = (_NS + name for name in (
    "return", "items", "item", "errors", "lastRef", "hasMore", "messageNo", "entity", "payload", "code",
    "message", "field", "ref", "name", "fullName", "inn", "kpp", "headOrgRef", "deleted", "orgRef",
    "parentRef", "createdOn", "disbandedOn", "lastName", "firstName", "middleName", "birthDate", "gender",
    "emails", "phones", "kind", "value", "deptRef", "positionRef", "employmentKind", "hireDate",
    "dismissalDate", "rate", "period", "event", "validUntil", "personnelNo", "personRef",
    "mainEmployeeRef", "archived", "current", "history", "employeeRef", "dateFrom", "dateTo", "state",
    "requestId", "status", "reason", "reviewedBy", "reviewedAt", "docRef",
))  # fmt: skip

Fields = dict[str, str | None]
_OptOrg = OrgRef | None
_OptDept = DepartmentRef | None
_OptPos = PositionRef | None
_OptEmp = EmploymentRef | None


def _leaves(element: Any) -> Fields:
    """Child tag → its text (for types whose children are all simple)."""
    return {child.tag: child.text for child in element}


# ---- one decoder per entity ----------------------------------------------------------------------------


def _organization(el: Any, _tz: tzinfo) -> Organization:
    f = _leaves(el)
    return Organization(
        ref=OrgRef(_rr(f.get(REF), "Organization.ref")),
        name=_s(f.get(NAME)) or "",
        full_name=_s(f.get(FULL_NAME)) or "",
        inn=_s(f.get(INN)),
        kpp=_s(f.get(KPP)),
        head_org_ref=cast(_OptOrg, _r(f.get(HEAD_ORG_REF))),
        deleted=_b(f.get(DELETED)),
    )


def _department(el: Any, _tz: tzinfo) -> Department:
    f = _leaves(el)
    return Department(
        ref=DepartmentRef(_rr(f.get(REF), "Department.ref")),
        org_ref=OrgRef(_rr(f.get(ORG_REF), "Department.orgRef")),
        parent_ref=cast(_OptDept, _r(f.get(PARENT_REF))),
        code=_s(f.get(CODE)) or "",
        name=_s(f.get(NAME)) or "",
        created_on=_d(f.get(CREATED_ON)),
        disbanded_on=_d(f.get(DISBANDED_ON)),
        deleted=_b(f.get(DELETED)),
    )


def _position(el: Any, _tz: tzinfo) -> Position:
    f = _leaves(el)
    return Position(
        ref=PositionRef(_rr(f.get(REF), "Position.ref")),
        name=_s(f.get(NAME)) or "",
        deleted=_b(f.get(DELETED)),
    )


def _interned(value: str | None) -> str | None:
    return sys.intern(value) if value else value


def _person(el: Any, _tz: tzinfo) -> Person:
    f: Fields = {}
    emails: tuple[str, ...] = ()
    phones: tuple[ContactPhone, ...] = ()
    for child in el:
        tag = child.tag
        if tag == EMAILS:
            emails = tuple(e for e in (_s(c.text) for c in child) if e)
        elif tag == PHONES:
            found = []
            for item in child:
                pf = _leaves(item)
                value = _s(pf.get(VALUE))
                if value:
                    kind = sys.intern(_s(pf.get(KIND)) or "Other")
                    found.append(ContactPhone(kind=kind, value=value))
            phones = tuple(found)
        else:
            f[tag] = child.text
    gender = _s(f.get(GENDER))
    return Person(
        ref=PersonRef(_rr(f.get(REF), "Person.ref")),
        # Names repeat across thousands of people: one string each is enough.
        last_name=sys.intern(_s(f.get(LAST_NAME)) or ""),
        first_name=sys.intern(_s(f.get(FIRST_NAME)) or ""),
        middle_name=_interned(_s(f.get(MIDDLE_NAME))),
        birth_date=_d(f.get(BIRTH_DATE)),
        gender="Male" if gender == "Male" else "Female" if gender == "Female" else None,
        emails=emails,
        phones=phones,
        deleted=_b(f.get(DELETED)),
    )


def _placement(el: Any) -> Placement | None:
    if el is None:
        return None
    f = {child.tag: child.text for child in el}
    org = _r(f.get(ORG_REF))
    if org is None:
        return None
    kind = _s(f.get(EMPLOYMENT_KIND)) or "Main"
    return Placement(
        org_ref=OrgRef(org),
        department_ref=cast(_OptDept, _r(f.get(DEPT_REF))),
        position_ref=cast(_OptPos, _r(f.get(POSITION_REF))),
        employment_kind=kind if kind in _KINDS else "Main",  # type: ignore[arg-type]
        hire_date=_d(f.get(HIRE_DATE)),
        dismissal_date=_d(f.get(DISMISSAL_DATE)),
        rate=_dec(f.get(RATE)),
    )


def _event(el: Any) -> HrEvent:
    f = {child.tag: child.text for child in el}
    event = _s(f.get(EVENT))
    if event not in _EVENTS:
        raise OneCProtocolError(f"1C sent an unknown HR event kind ({str(event)[:20]!r})")
    return HrEvent(
        period=_rd(f.get(PERIOD), "HrEvent.period"),
        event=event,  # type: ignore[arg-type]
        org_ref=OrgRef(_rr(f.get(ORG_REF), "HrEvent.orgRef")),
        department_ref=cast(_OptDept, _r(f.get(DEPT_REF))),
        position_ref=cast(_OptPos, _r(f.get(POSITION_REF))),
        valid_until=_d(f.get(VALID_UNTIL)),
    )


def _employee(el: Any, _tz: tzinfo) -> Employee:
    f: Fields = {}
    history = current = None
    for child in el:
        tag = child.tag
        if tag == HISTORY:
            history = child
        elif tag == CURRENT:
            current = child
        else:
            f[tag] = child.text
    return Employee(
        ref=EmploymentRef(_rr(f.get(REF), "Employee.ref")),
        personnel_no=_s(f.get(PERSONNEL_NO)) or "",
        person_ref=PersonRef(_rr(f.get(PERSON_REF), "Employee.personRef")),
        head_org_ref=OrgRef(_rr(f.get(HEAD_ORG_REF), "Employee.headOrgRef")),
        main_employee_ref=cast(_OptEmp, _r(f.get(MAIN_EMPLOYEE_REF))),
        archived=_b(f.get(ARCHIVED)),
        current=_placement(current),
        history=tuple([_event(item) for item in history]) if history is not None else (),
        deleted=_b(f.get(DELETED)),
    )


def _absence(el: Any, _tz: tzinfo) -> Absence:
    f = _leaves(el)
    return Absence(
        ref=AbsenceRef(_rr(f.get(REF), "Absence.ref")),
        employee_ref=EmploymentRef(_rr(f.get(EMPLOYEE_REF), "Absence.employeeRef")),
        kind=_s(f.get(KIND)) or "Other",
        date_from=_rd(f.get(DATE_FROM), "Absence.dateFrom"),
        date_to=_rd(f.get(DATE_TO), "Absence.dateTo"),
        state=_s(f.get(STATE)) or "",
        deleted=_b(f.get(DELETED)),
    )


def _request(el: Any, tz: tzinfo) -> RequestStatus:
    f = _leaves(el)
    status = _s(f.get(STATUS))
    if status not in _STATUSES:
        raise OneCProtocolError(f"1C sent an unknown request status ({str(status)[:20]!r})")
    request_id = _s(f.get(REQUEST_ID))
    if request_id is None:
        raise OneCProtocolError("1C sent a request status without requestId")
    return RequestStatus(
        request_id=request_id,
        status=status,  # type: ignore[arg-type]
        reason=_s(f.get(REASON)),
        reviewed_by=_s(f.get(REVIEWED_BY)),
        reviewed_at=n.to_datetime(f.get(REVIEWED_AT), tz),
        doc_ref=_r(f.get(DOC_REF)),
    )


_DECODERS: dict[str, Callable[[Any, tzinfo], Record]] = {
    _NS + "organization": _organization,
    _NS + "department": _department,
    _NS + "position": _position,
    _NS + "person": _person,
    _NS + "employee": _employee,
    _NS + "absence": _absence,
    _NS + "request": _request,
}


def record(element: Any, tz: tzinfo) -> Record | None:
    """One contract ``Record`` element (a wrapper with one entity child) → a port record, None if empty."""
    for child in element:
        decoder = _DECODERS.get(child.tag)
        if decoder is not None:
            return decoder(child, tz)
    return None


def _return(body: bytes, operation: str) -> Any:
    try:
        root = etree.fromstring(body, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise OneCProtocolError(f"1C answered {operation} with malformed XML (line {exc.lineno})") from exc
    for element in root.iter(RETURN):
        return element
    raise OneCProtocolError(f"1C answered {operation} without a 'return' element")


def errors(element: Any) -> tuple[BusinessError, ...]:
    if element is None:
        return ()
    out = []
    for item in element:
        f = _leaves(item)
        out.append(
            BusinessError(
                code=_s(f.get(CODE)) or "Error", message=_s(f.get(MESSAGE)) or "", field=_s(f.get(FIELD))
            )
        )
    return tuple(out)


def _items(ret: Any) -> list[Any]:
    container = ret.find(ITEMS)
    return [] if container is None else list(container)


def snapshot_page(
    body: bytes, tz: tzinfo
) -> tuple[list[Record], str | None, bool, tuple[BusinessError, ...]]:
    """GetSnapshotPage's answer → (records, lastRef, hasMore, business errors)."""
    ret = _return(body, "GetSnapshotPage")
    f = _leaves(ret)
    records: list[Record] = []
    decoders = _DECODERS
    for item in _items(ret):
        for child in item:
            decoder = decoders.get(child.tag)
            if decoder is not None:
                records.append(decoder(child, tz))
                break
    return records, _r(f.get(LAST_REF)), _b(f.get(HAS_MORE)), errors(ret.find(ERRORS))


def change_batch(body: bytes, tz: tzinfo) -> tuple[ChangeBatch, tuple[BusinessError, ...]]:
    """GetChanges' answer → a ChangeBatch (and business errors, if 1C refused the call)."""
    ret = _return(body, "GetChanges")
    f = _leaves(ret)
    raw_no = _s(f.get(MESSAGE_NO))
    try:
        message_no = int(raw_no or "0")
    except ValueError as exc:
        raise OneCProtocolError(f"1C sent a message number the contract cannot read ({raw_no!r})") from exc
    changes = []
    for item in _items(ret):
        cf = _leaves(item)
        entity = _s(cf.get(ENTITY))
        if entity not in _ENTITIES:
            raise OneCProtocolError(f"1C sent a change of an unknown entity ({str(entity)[:20]!r})")
        deleted = _b(cf.get(DELETED))
        payload = None if deleted else item.find(PAYLOAD)
        rec = record(payload, tz) if payload is not None and len(payload) else None
        key = _s(cf.get(REF)) or ""
        changes.append(Change(entity=cast(TEntity, entity), ref=_r(key) or key, deleted=deleted, record=rec))
    batch = ChangeBatch(message_no=message_no, items=tuple(changes), has_more=_b(f.get(HAS_MORE)))
    return batch, errors(ret.find(ERRORS))
