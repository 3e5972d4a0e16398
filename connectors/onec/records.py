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
_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
_ENTITIES: frozenset[str] = frozenset(
    ("Organization", "Department", "Position", "Person", "Employee", "Absence", "Request")
)
_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    huge_tree=True,
    remove_blank_text=True,
    remove_comments=True,
    remove_pis=True,
)

Fields = dict[str, Any]


class _Keys(dict[str, str]):
    """``_K["ref"]`` is the qualified tag ``{ns}ref`` (computed once per name)."""

    def __missing__(self, local: str) -> str:
        self[local] = _NS + local
        return self[local]


_K = _Keys()
_OptOrg = OrgRef | None
_OptDept = DepartmentRef | None
_OptPos = PositionRef | None
_OptEmp = EmploymentRef | None


def _fields(element: Any) -> Fields:
    """Child tag → text (or the element itself when it has children); keys are ``_NS + local name``."""
    return {child.tag: child if len(child) else child.text for child in element}


def _children(element: Any) -> list[Any]:
    return [] if element is None or isinstance(element, str) else list(element)


def _organization(f: Fields, _tz: tzinfo) -> Organization:
    return Organization(
        ref=OrgRef(n.required_ref(f.get(_K["ref"]), "Organization.ref")),
        name=n.text(f.get(_K["name"])) or "",
        full_name=n.text(f.get(_K["fullName"])) or "",
        inn=n.text(f.get(_K["inn"])),
        kpp=n.text(f.get(_K["kpp"])),
        head_org_ref=cast(_OptOrg, n.ref(f.get(_K["headOrgRef"]))),
        deleted=n.to_bool(f.get(_K["deleted"])),
    )


def _department(f: Fields, _tz: tzinfo) -> Department:
    return Department(
        ref=DepartmentRef(n.required_ref(f.get(_K["ref"]), "Department.ref")),
        org_ref=OrgRef(n.required_ref(f.get(_K["orgRef"]), "Department.orgRef")),
        parent_ref=cast(_OptDept, n.ref(f.get(_K["parentRef"]))),
        code=n.text(f.get(_K["code"])) or "",
        name=n.text(f.get(_K["name"])) or "",
        created_on=n.to_date(f.get(_K["createdOn"])),
        disbanded_on=n.to_date(f.get(_K["disbandedOn"])),
        deleted=n.to_bool(f.get(_K["deleted"])),
    )


def _position(f: Fields, _tz: tzinfo) -> Position:
    return Position(
        ref=PositionRef(n.required_ref(f.get(_K["ref"]), "Position.ref")),
        name=n.text(f.get(_K["name"])) or "",
        deleted=n.to_bool(f.get(_K["deleted"])),
    )


def _person(f: Fields, _tz: tzinfo) -> Person:
    emails = tuple(e for e in (n.text(c.text) for c in _children(f.get(_K["emails"]))) if e)
    phones = []
    for item in _children(f.get(_K["phones"])):
        pf = _fields(item)
        value = n.text(pf.get(_K["value"]))
        if value:
            phones.append(ContactPhone(kind=n.text(pf.get(_K["kind"])) or "Other", value=value))
    gender = n.text(f.get(_K["gender"]))
    return Person(
        ref=PersonRef(n.required_ref(f.get(_K["ref"]), "Person.ref")),
        last_name=n.text(f.get(_K["lastName"])) or "",
        first_name=n.text(f.get(_K["firstName"])) or "",
        middle_name=n.text(f.get(_K["middleName"])),
        birth_date=n.to_date(f.get(_K["birthDate"])),
        gender="Male" if gender == "Male" else "Female" if gender == "Female" else None,
        emails=emails,
        phones=tuple(phones),
        deleted=n.to_bool(f.get(_K["deleted"])),
    )


def _placement(element: Any) -> Placement | None:
    if element is None or isinstance(element, str):
        return None
    f = _fields(element)
    org = n.ref(f.get(_K["orgRef"]))
    if org is None:
        return None
    kind = n.text(f.get(_K["employmentKind"])) or "Main"
    return Placement(
        org_ref=OrgRef(org),
        department_ref=cast(_OptDept, n.ref(f.get(_K["deptRef"]))),
        position_ref=cast(_OptPos, n.ref(f.get(_K["positionRef"]))),
        employment_kind=kind if kind in ("Main", "PartTimeExternal", "PartTimeInternal") else "Main",  # type: ignore[arg-type]
        hire_date=n.to_date(f.get(_K["hireDate"])),
        dismissal_date=n.to_date(f.get(_K["dismissalDate"])),
        rate=n.to_decimal(f.get(_K["rate"])),
    )


def _event(element: Any) -> HrEvent:
    f = _fields(element)
    event = n.text(f.get(_K["event"]))
    if event not in ("Hire", "Transfer", "Dismissal", "Restore"):
        raise OneCProtocolError(f"1C sent an unknown HR event kind ({str(event)[:20]!r})")
    return HrEvent(
        period=n.required_date(f.get(_K["period"]), "HrEvent.period"),
        event=event,  # type: ignore[arg-type]
        org_ref=OrgRef(n.required_ref(f.get(_K["orgRef"]), "HrEvent.orgRef")),
        department_ref=cast(_OptDept, n.ref(f.get(_K["deptRef"]))),
        position_ref=cast(_OptPos, n.ref(f.get(_K["positionRef"]))),
        valid_until=n.to_date(f.get(_K["validUntil"])),
    )


def _employee(f: Fields, _tz: tzinfo) -> Employee:
    return Employee(
        ref=EmploymentRef(n.required_ref(f.get(_K["ref"]), "Employee.ref")),
        personnel_no=n.text(f.get(_K["personnelNo"])) or "",
        person_ref=PersonRef(n.required_ref(f.get(_K["personRef"]), "Employee.personRef")),
        head_org_ref=OrgRef(n.required_ref(f.get(_K["headOrgRef"]), "Employee.headOrgRef")),
        main_employee_ref=cast(_OptEmp, n.ref(f.get(_K["mainEmployeeRef"]))),
        archived=n.to_bool(f.get(_K["archived"])),
        current=_placement(f.get(_K["current"])),
        history=tuple(_event(item) for item in _children(f.get(_K["history"]))),
        deleted=n.to_bool(f.get(_K["deleted"])),
    )


def _absence(f: Fields, _tz: tzinfo) -> Absence:
    return Absence(
        ref=AbsenceRef(n.required_ref(f.get(_K["ref"]), "Absence.ref")),
        employee_ref=EmploymentRef(n.required_ref(f.get(_K["employeeRef"]), "Absence.employeeRef")),
        kind=n.text(f.get(_K["kind"])) or "Other",
        date_from=n.required_date(f.get(_K["dateFrom"]), "Absence.dateFrom"),
        date_to=n.required_date(f.get(_K["dateTo"]), "Absence.dateTo"),
        state=n.text(f.get(_K["state"])) or "",
        deleted=n.to_bool(f.get(_K["deleted"])),
    )


_STATUSES = ("Created", "InReview", "Approved", "Rejected", "Withdrawn", "Done")


def _request(f: Fields, tz: tzinfo) -> RequestStatus:
    status = n.text(f.get(_K["status"]))
    if status not in _STATUSES:
        raise OneCProtocolError(f"1C sent an unknown request status ({str(status)[:20]!r})")
    request_id = n.text(f.get(_K["requestId"]))
    if request_id is None:
        raise OneCProtocolError("1C sent a request status without requestId")
    return RequestStatus(
        request_id=request_id,
        status=status,  # type: ignore[arg-type]
        reason=n.text(f.get(_K["reason"])),
        reviewed_by=n.text(f.get(_K["reviewedBy"])),
        reviewed_at=n.to_datetime(f.get(_K["reviewedAt"]), tz),
        doc_ref=n.ref(f.get(_K["docRef"])),
    )


_DECODERS: dict[str, Callable[[Fields, tzinfo], Record]] = {
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
                code=n.text(f.get(_K["code"])) or "Error",
                message=n.text(f.get(_K["message"])) or "",
                field=n.text(f.get(_K["field"])),
            )
        )
    return tuple(out)


def snapshot_page(
    body: bytes, tz: tzinfo
) -> tuple[list[Record], str | None, bool, tuple[BusinessError, ...]]:
    """GetSnapshotPage's answer → (records, lastRef, hasMore, business errors)."""
    f = _fields(_return(body, "GetSnapshotPage"))
    records = [r for r in (record(item, tz) for item in _children(f.get(_K["items"]))) if r is not None]
    return records, n.ref(f.get(_K["lastRef"])), n.to_bool(f.get(_K["hasMore"])), errors(f.get(_K["errors"]))


def change_batch(body: bytes, tz: tzinfo) -> tuple[ChangeBatch, tuple[BusinessError, ...]]:
    """GetChanges' answer → a ChangeBatch (and business errors, if 1C refused the call)."""
    f = _fields(_return(body, "GetChanges"))
    raw_no = n.text(f.get(_K["messageNo"]))
    try:
        message_no = int(raw_no or "0")
    except ValueError as exc:
        raise OneCProtocolError(f"1C sent a message number the contract cannot read ({raw_no!r})") from exc
    changes = []
    for item in _children(f.get(_K["items"])):
        cf = _fields(item)
        entity = n.text(cf.get(_K["entity"]))
        if entity not in _ENTITIES:
            raise OneCProtocolError(f"1C sent a change of an unknown entity ({str(entity)[:20]!r})")
        payload = cf.get(_K["payload"])
        deleted = n.to_bool(cf.get(_K["deleted"]))
        rec = None if deleted or payload is None or isinstance(payload, str) else record(payload, tz)
        key = n.text(cf.get(_K["ref"])) or ""
        changes.append(
            Change(entity=cast(TEntity, entity), ref=n.ref(key) or key, deleted=deleted, record=rec)
        )
    batch = ChangeBatch(message_no=message_no, items=tuple(changes), has_more=n.to_bool(f.get(_K["hasMore"])))
    return batch, errors(f.get(_K["errors"]))
