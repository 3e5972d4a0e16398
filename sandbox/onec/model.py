"""The sandbox's in-memory 1C infobase: catalogs, HR history, absences, schedules, written documents.

Owns the mutable records (they change under the mutation API) and ``Company``, which keeps each entity
in a dict by ref plus a sorted ref list for keyset paging. Nothing here renders XML or talks HTTP.
Dates are naive local dates of the 1C server; ``None`` means the empty date.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any


@dataclass(slots=True)
class Org:
    ref: str
    name: str
    full_name: str
    inn: str
    kpp: str
    ogrn: str
    head_org_ref: str | None
    prefix: str
    """Personnel-number prefix of the head organisation (табельные номера are per head org)."""
    deleted: bool = False


@dataclass(slots=True)
class Dept:
    ref: str
    org_ref: str
    parent_ref: str | None
    code: str
    name: str
    created_on: date | None
    disbanded_on: date | None = None
    is_site: bool = True
    deleted: bool = False


@dataclass(slots=True)
class Pos:
    ref: str
    name: str
    deleted: bool = False


@dataclass(slots=True)
class Phone:
    kind: str
    value: str


@dataclass(slots=True)
class PersonRec:
    ref: str
    last_name: str
    first_name: str
    middle_name: str | None
    birth_date: date | None
    gender: str | None
    emails: list[str] = field(default_factory=list)
    phones: list[Phone] = field(default_factory=list)
    deleted: bool = False


@dataclass(slots=True)
class Event:
    period: date
    event: str
    """Hire | Transfer | Dismissal | Restore"""
    org_ref: str
    dept_ref: str | None
    position_ref: str | None
    valid_until: date | None = None
    rate: Decimal | None = None


@dataclass(slots=True)
class Placement:
    org_ref: str
    dept_ref: str | None
    position_ref: str | None
    kind: str
    hire_date: date | None
    dismissal_date: date | None
    rate: Decimal | None


@dataclass(slots=True)
class EmployeeRec:
    ref: str
    personnel_no: str
    person_ref: str
    head_org_ref: str
    main_employee_ref: str | None
    kind: str
    """Main | PartTimeExternal | PartTimeInternal"""
    rate: Decimal
    schedule: int
    """Index into ``schedules.SCHEDULES``."""
    history: list[Event] = field(default_factory=list)
    deleted: bool = False

    def hire_date(self) -> date | None:
        return self.history[0].period if self.history else None

    def dismissal_date(self) -> date | None:
        """The last dismissal not followed by a restore (may lie in the future)."""
        result: date | None = None
        for ev in self.history:
            if ev.event == "Dismissal":
                result = ev.period
            elif ev.event == "Restore":
                result = None
        return result

    def archived(self, today: date) -> bool:
        dismissed = self.dismissal_date()
        return dismissed is not None and dismissed < today

    def placement(self, today: date) -> Placement | None:
        """Where the employment stands today (ТекущиеКадровыеДанныеСотрудников); temporary moves expire."""
        if not self.history:
            return None
        current: Event | None = None
        base: Event | None = None
        for ev in self.history:
            if ev.period > today:
                break
            if ev.event == "Dismissal":
                continue
            if ev.event == "Transfer" and ev.valid_until is not None:
                base = base or current
                current = ev
            else:
                current, base = ev, None
        if current is None:  # a hire dated in the future
            current = self.history[0]
        elif base is not None and current.valid_until is not None and current.valid_until < today:
            current = base
        return Placement(
            org_ref=current.org_ref,
            dept_ref=current.dept_ref,
            position_ref=current.position_ref,
            kind=self.kind,
            hire_date=self.hire_date(),
            dismissal_date=self.dismissal_date(),
            rate=current.rate if current.rate is not None else self.rate,
        )

    def is_active_on(self, day: date) -> bool:
        hired = self.hire_date()
        dismissed = self.dismissal_date()
        return hired is not None and hired <= day and (dismissed is None or day <= dismissed)


@dataclass(slots=True)
class AbsenceRec:
    ref: str
    employee_ref: str
    kind: str
    """Vacation | SickLeave | BusinessTrip | Unpaid | Other"""
    date_from: date
    date_to: date
    doc_number: str
    state: str = "Posted"
    deleted: bool = False


@dataclass(slots=True)
class RequestDoc:
    """A request the bridge submitted (ЗаявкаНаОтпуск, ЗапросСправкиСотрудником, …) and its review."""

    request_id: str
    kind: str
    person_ref: str
    employee_ref: str | None
    date_from: date | None
    date_to: date | None
    details: dict[str, str]
    approvals: list[dict[str, Any]]
    attachments: list[dict[str, Any]]
    doc_type: str
    doc_ref: str
    doc_number: str
    submitted_at: datetime
    decide_at: datetime
    status: str = "InReview"
    reason: str | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    absence_ref: str | None = None
    file: bytes | None = None
    file_name: str | None = None
    forced: tuple[str, str | None] | None = None
    """A decision set through the knobs, applied when the review is due."""


@dataclass(slots=True)
class TimesheetDoc:
    doc_ref: str
    doc_number: str
    org_ref: str
    dept_ref: str
    period_from: date
    period_to: date
    request_ids: list[str]
    rows: dict[str, list[tuple[date, str, Decimal]]]
    conflicts: list[tuple[str, date, str]]
    created_at: datetime
    replaced: int = 0


ENTITIES = ("Organization", "Department", "Position", "Person", "Employee", "Absence", "Request")


class Table:
    """One entity: records by ref plus the refs in sorted order (``Ссылка > &After`` keyset paging)."""

    __slots__ = ("by_ref", "refs")

    def __init__(self) -> None:
        self.by_ref: dict[str, Any] = {}
        self.refs: list[str] = []

    def load(self, records: list[Any]) -> None:
        self.by_ref = {r.ref if hasattr(r, "ref") else r.doc_ref: r for r in records}
        self.refs = sorted(self.by_ref)

    def add(self, ref: str, record: Any) -> None:
        if ref not in self.by_ref:
            bisect.insort(self.refs, ref)
        self.by_ref[ref] = record

    def remove(self, ref: str) -> None:
        if self.by_ref.pop(ref, None) is not None:
            del self.refs[bisect.bisect_left(self.refs, ref)]

    def page_after(self, after: str, size: int) -> tuple[list[Any], bool]:
        start = bisect.bisect_right(self.refs, after) if after else 0
        refs = self.refs[start : start + size]
        return [self.by_ref[r] for r in refs], start + size < len(self.refs)

    def __len__(self) -> int:
        return len(self.by_ref)


@dataclass
class Company:
    """The whole generated infobase. ``tables`` maps entity name → Table (Request keyed by doc ref)."""

    tables: dict[str, Table] = field(default_factory=lambda: {e: Table() for e in ENTITIES})
    requests_by_id: dict[str, RequestDoc] = field(default_factory=dict)
    timesheets: dict[tuple[str, str, date, date], TimesheetDoc] = field(default_factory=dict)
    absences_by_employee: dict[str, list[str]] = field(default_factory=dict)
    employees_by_person: dict[str, list[str]] = field(default_factory=dict)
    next_no: dict[str, int] = field(default_factory=dict)
    personnel: dict[str, int] = field(default_factory=dict)
    """The last personnel number used per head organisation."""

    @property
    def orgs(self) -> dict[str, Org]:
        return self.tables["Organization"].by_ref

    @property
    def depts(self) -> dict[str, Dept]:
        return self.tables["Department"].by_ref

    @property
    def positions(self) -> dict[str, Pos]:
        return self.tables["Position"].by_ref

    @property
    def persons(self) -> dict[str, PersonRec]:
        return self.tables["Person"].by_ref

    @property
    def employees(self) -> dict[str, EmployeeRec]:
        return self.tables["Employee"].by_ref

    @property
    def absences(self) -> dict[str, AbsenceRec]:
        return self.tables["Absence"].by_ref

    def number(self, series: str, prefix: str = "00ЗУ") -> str:
        """The next document or personnel number of a series (e.g. 00ЗУ-000123)."""
        n = self.next_no.get(series, 0) + 1
        self.next_no[series] = n
        return f"{prefix}-{n:06d}"

    def index(self) -> None:
        """Rebuild the secondary indexes after a bulk load."""
        self.absences_by_employee = {}
        for a in self.absences.values():
            self.absences_by_employee.setdefault(a.employee_ref, []).append(a.ref)
        self.employees_by_person = {}
        for e in self.employees.values():
            self.employees_by_person.setdefault(e.person_ref, []).append(e.ref)
