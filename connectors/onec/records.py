"""The fast path: snapshot pages and change batches read with lxml straight into the port's records.

GetSnapshotPage and GetChanges carry up to thousands of records per call; zeep's generic object
building costs several times the XML parse itself, so these two answers are read here, element by
element, against the contract's ``Record`` type (one optional child per entity). zeep still builds the
request envelopes and handles every other operation. A missing required field is an OneCProtocolError.
"""

from __future__ import annotations

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

_NS = "{" + NAMESPACE + "}"
_CUT = len(_NS)
_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
_ENTITIES: frozenset[str] = frozenset(
    ("Organization", "Department", "Position", "Person", "Employee", "Absence", "Request")
)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_blank_text=True)

Fields = dict[str, Any]


def _fields(element: Any) -> Fields:
    """Child local name → text (or the element itself when it has children)."""
    out: Fields = {}
    for child in element:
        tag = child.tag
        if isinstance(tag, str) and tag.startswith(_NS):
            out[tag[_CUT:]] = child if len(child) else child.text
    return out


def _children(element: Any) -> list[Any]:
    return (
        [] if element is None or isinstance(element, str) else [c for c in element if isinstance(c.tag, str)]
    )


def _organization(f: Fields, _tz: tzinfo) -> Organization:
    return Organization(
        ref=OrgRef(n.required_ref(f.get("ref"), "Organization.ref")),
        name=n.text(f.get("name")) or "",
        full_name=n.text(f.get("fullName")) or "",
        inn=n.text(f.get("inn")),
        kpp=n.text(f.get("kpp")),
        head_org_ref=cast(OrgRef | None, n.ref(f.get("headOrgRef"))),
        deleted=n.to_bool(f.get("deleted")),
    )


def _department(f: Fields, _tz: tzinfo) -> Department:
    return Department(
        ref=DepartmentRef(n.required_ref(f.get("ref"), "Department.ref")),
        org_ref=OrgRef(n.required_ref(f.get("orgRef"), "Department.orgRef")),
        parent_ref=cast(DepartmentRef | None, n.ref(f.get("parentRef"))),
        code=n.text(f.get("code")) or "",
        name=n.text(f.get("name")) or "",
        created_on=n.to_date(f.get("createdOn")),
        disbanded_on=n.to_date(f.get("disbandedOn")),
        deleted=n.to_bool(f.get("deleted")),
    )


def _position(f: Fields, _tz: tzinfo) -> Position:
    return Position(
        ref=PositionRef(n.required_ref(f.get("ref"), "Position.ref")),
        name=n.text(f.get("name")) or "",
        deleted=n.to_bool(f.get("deleted")),
    )


def _person(f: Fields, _tz: tzinfo) -> Person:
    emails = tuple(e for e in (n.text(c.text) for c in _children(f.get("emails"))) if e)
    phones = []
    for item in _children(f.get("phones")):
        pf = _fields(item)
        value = n.text(pf.get("value"))
        if value:
            phones.append(ContactPhone(kind=n.text(pf.get("kind")) or "Other", value=value))
    gender = n.text(f.get("gender"))
    return Person(
        ref=PersonRef(n.required_ref(f.get("ref"), "Person.ref")),
        last_name=n.text(f.get("lastName")) or "",
        first_name=n.text(f.get("firstName")) or "",
        middle_name=n.text(f.get("middleName")),
        birth_date=n.to_date(f.get("birthDate")),
        gender="Male" if gender == "Male" else "Female" if gender == "Female" else None,
        emails=emails,
        phones=tuple(phones),
        deleted=n.to_bool(f.get("deleted")),
    )


def _placement(element: Any) -> Placement | None:
    if element is None or isinstance(element, str):
        return None
    f = _fields(element)
    org = n.ref(f.get("orgRef"))
    if org is None:
        return None
    kind = n.text(f.get("employmentKind")) or "Main"
    return Placement(
        org_ref=OrgRef(org),
        department_ref=cast(DepartmentRef | None, n.ref(f.get("deptRef"))),
        position_ref=cast(PositionRef | None, n.ref(f.get("positionRef"))),
        employment_kind=kind if kind in ("Main", "PartTimeExternal", "PartTimeInternal") else "Main",  # type: ignore[arg-type]
        hire_date=n.to_date(f.get("hireDate")),
        dismissal_date=n.to_date(f.get("dismissalDate")),
        rate=n.to_decimal(f.get("rate")),
    )


def _event(element: Any) -> HrEvent:
    f = _fields(element)
    event = n.text(f.get("event"))
    if event not in ("Hire", "Transfer", "Dismissal", "Restore"):
        raise OneCProtocolError(f"1C sent an unknown HR event kind ({str(event)[:20]!r})")
    return HrEvent(
        period=n.required_date(f.get("period"), "HrEvent.period"),
        event=event,  # type: ignore[arg-type]
        org_ref=OrgRef(n.required_ref(f.get("orgRef"), "HrEvent.orgRef")),
        department_ref=cast(DepartmentRef | None, n.ref(f.get("deptRef"))),
        position_ref=cast(PositionRef | None, n.ref(f.get("positionRef"))),
        valid_until=n.to_date(f.get("validUntil")),
    )


def _employee(f: Fields, _tz: tzinfo) -> Employee:
    return Employee(
        ref=EmploymentRef(n.required_ref(f.get("ref"), "Employee.ref")),
        personnel_no=n.text(f.get("personnelNo")) or "",
        person_ref=PersonRef(n.required_ref(f.get("personRef"), "Employee.personRef")),
        head_org_ref=OrgRef(n.required_ref(f.get("headOrgRef"), "Employee.headOrgRef")),
        main_employee_ref=cast(EmploymentRef | None, n.ref(f.get("mainEmployeeRef"))),
        archived=n.to_bool(f.get("archived")),
        current=_placement(f.get("current")),
        history=tuple(_event(item) for item in _children(f.get("history"))),
        deleted=n.to_bool(f.get("deleted")),
    )


def _absence(f: Fields, _tz: tzinfo) -> Absence:
    return Absence(
        ref=AbsenceRef(n.required_ref(f.get("ref"), "Absence.ref")),
        employee_ref=EmploymentRef(n.required_ref(f.get("employeeRef"), "Absence.employeeRef")),
        kind=n.text(f.get("kind")) or "Other",
        date_from=n.required_date(f.get("dateFrom"), "Absence.dateFrom"),
        date_to=n.required_date(f.get("dateTo"), "Absence.dateTo"),
        state=n.text(f.get("state")) or "",
        deleted=n.to_bool(f.get("deleted")),
    )


_STATUSES = ("Created", "InReview", "Approved", "Rejected", "Withdrawn", "Done")


def _request(f: Fields, tz: tzinfo) -> RequestStatus:
    status = n.text(f.get("status"))
    if status not in _STATUSES:
        raise OneCProtocolError(f"1C sent an unknown request status ({str(status)[:20]!r})")
    request_id = n.text(f.get("requestId"))
    if request_id is None:
        raise OneCProtocolError("1C sent a request status without requestId")
    return RequestStatus(
        request_id=request_id,
        status=status,  # type: ignore[arg-type]
        reason=n.text(f.get("reason")),
        reviewed_by=n.text(f.get("reviewedBy")),
        reviewed_at=n.to_datetime(f.get("reviewedAt"), tz),
        doc_ref=n.ref(f.get("docRef")),
    )


_DECODERS: dict[str, Callable[[Fields, tzinfo], Record]] = {
    "organization": _organization,
    "department": _department,
    "position": _position,
    "person": _person,
    "employee": _employee,
    "absence": _absence,
    "request": _request,
}


def record(element: Any, tz: tzinfo) -> Record | None:
    """One contract ``Record`` element (a wrapper with one entity child) → a port record, None if empty."""
    for child in element:
        tag = child.tag
        if isinstance(tag, str) and tag.startswith(_NS):
            decoder = _DECODERS.get(tag[_CUT:])
            if decoder is not None:
                return decoder(_fields(child), tz)
    return None


def _return(body: bytes, operation: str) -> Any:
    try:
        root = etree.fromstring(body, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise OneCProtocolError(f"1C answered {operation} with malformed XML (line {exc.lineno})") from exc
    for element in root.iter(_NS + "return"):
        return element
    raise OneCProtocolError(f"1C answered {operation} without a 'return' element")


def errors(element: Any) -> tuple[BusinessError, ...]:
    out = []
    for item in _children(element):
        f = _fields(item)
        out.append(
            BusinessError(
                code=n.text(f.get("code")) or "Error",
                message=n.text(f.get("message")) or "",
                field=n.text(f.get("field")),
            )
        )
    return tuple(out)


def snapshot_page(
    body: bytes, tz: tzinfo
) -> tuple[list[Record], str | None, bool, tuple[BusinessError, ...]]:
    """GetSnapshotPage's answer → (records, lastRef, hasMore, business errors)."""
    f = _fields(_return(body, "GetSnapshotPage"))
    records = [r for r in (record(item, tz) for item in _children(f.get("items"))) if r is not None]
    return records, n.ref(f.get("lastRef")), n.to_bool(f.get("hasMore")), errors(f.get("errors"))


def change_batch(body: bytes, tz: tzinfo) -> tuple[ChangeBatch, tuple[BusinessError, ...]]:
    """GetChanges' answer → a ChangeBatch (and business errors, if 1C refused the call)."""
    f = _fields(_return(body, "GetChanges"))
    raw_no = n.text(f.get("messageNo"))
    try:
        message_no = int(raw_no or "0")
    except ValueError as exc:
        raise OneCProtocolError(f"1C sent a message number the contract cannot read ({raw_no!r})") from exc
    changes = []
    for item in _children(f.get("items")):
        cf = _fields(item)
        entity = n.text(cf.get("entity"))
        if entity not in _ENTITIES:
            raise OneCProtocolError(f"1C sent a change of an unknown entity ({str(entity)[:20]!r})")
        payload = cf.get("payload")
        deleted = n.to_bool(cf.get("deleted"))
        rec = None if deleted or payload is None or isinstance(payload, str) else record(payload, tz)
        key = n.text(cf.get("ref")) or ""
        changes.append(
            Change(entity=cast(TEntity, entity), ref=n.ref(key) or key, deleted=deleted, record=rec)
        )
    batch = ChangeBatch(message_no=message_no, items=tuple(changes), has_more=n.to_bool(f.get("hasMore")))
    return batch, errors(f.get("errors"))
