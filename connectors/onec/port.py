"""The 1C port: typed records the rest of the bridge sees, and the Protocol the 1C connector implements.

Records are already normalised: no empty dates (``0001-01-01``), no all-zero GUIDs (both become None),
lists are lists (never None), strings are trimmed, timestamps are aware (1C's time zone from GetInfo).
sync/ and processes/ import this module only — never zeep.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, NewType, Protocol

OrgRef = NewType("OrgRef", str)
DepartmentRef = NewType("DepartmentRef", str)
PositionRef = NewType("PositionRef", str)
PersonRef = NewType("PersonRef", str)
EmploymentRef = NewType("EmploymentRef", str)
AbsenceRef = NewType("AbsenceRef", str)

TEntity = Literal["Organization", "Department", "Position", "Person", "Employee", "Absence", "Request"]
THrEvent = Literal["Hire", "Transfer", "Dismissal", "Restore"]
TEmploymentKind = Literal["Main", "PartTimeExternal", "PartTimeInternal"]


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    contract_version: str
    config_name: str
    config_version: str
    server_time: datetime
    time_zone: str
    """IANA name, e.g. Europe/Moscow: naive 1C datetimes are read in it."""
    node_code: str


@dataclass(frozen=True, slots=True)
class Organization:
    ref: OrgRef
    name: str
    full_name: str
    inn: str | None
    kpp: str | None
    head_org_ref: OrgRef | None = None
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class Department:
    ref: DepartmentRef
    org_ref: OrgRef
    parent_ref: DepartmentRef | None
    code: str
    name: str
    created_on: date | None = None
    disbanded_on: date | None = None
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class Position:
    ref: PositionRef
    name: str
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class ContactPhone:
    kind: str
    """Mobile | Work | Home"""
    value: str


@dataclass(frozen=True, slots=True)
class Person:
    ref: PersonRef
    last_name: str
    first_name: str
    middle_name: str | None
    birth_date: date | None
    gender: Literal["Male", "Female"] | None = None
    emails: tuple[str, ...] = ()
    phones: tuple[ContactPhone, ...] = ()
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an employment stands at a date: organisation, department, position."""

    org_ref: OrgRef
    department_ref: DepartmentRef | None
    position_ref: PositionRef | None
    employment_kind: TEmploymentKind
    hire_date: date | None
    dismissal_date: date | None
    rate: Decimal | None = None


@dataclass(frozen=True, slots=True)
class HrEvent:
    """One dated line of an employment's HR history (effective date = ``period``)."""

    period: date
    event: THrEvent
    org_ref: OrgRef
    department_ref: DepartmentRef | None
    position_ref: PositionRef | None
    valid_until: date | None = None


@dataclass(frozen=True, slots=True)
class Employee:
    """An employment (Сотрудник); a rehire or a second job is another Employee of the same person."""

    ref: EmploymentRef
    personnel_no: str
    person_ref: PersonRef
    head_org_ref: OrgRef
    main_employee_ref: EmploymentRef | None
    archived: bool
    current: Placement | None
    history: tuple[HrEvent, ...] = ()
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class Absence:
    ref: AbsenceRef
    employee_ref: EmploymentRef
    kind: str
    """Vacation | SickLeave | BusinessTrip | Unpaid | Other"""
    date_from: date
    date_to: date
    state: str
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class RequestStatus:
    """A change of status of a request the bridge submitted (travels in the change feed)."""

    request_id: str
    status: Literal["Created", "InReview", "Approved", "Rejected", "Withdrawn", "Done"]
    reason: str | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    doc_ref: str | None = None


Record = Organization | Department | Position | Person | Employee | Absence | RequestStatus


@dataclass(frozen=True, slots=True)
class Change:
    entity: TEntity
    ref: str
    deleted: bool
    record: Record | None
    """None when deleted (or when 1C could not build the payload)."""


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    message_no: int
    """Pass it back as ``ack_message_no`` of the next call, only after committing these changes."""
    items: tuple[Change, ...]
    has_more: bool


@dataclass(frozen=True, slots=True)
class BusinessError:
    code: str
    message: str
    field: str | None = None


@dataclass(frozen=True, slots=True)
class Approval:
    who: str
    role: str
    at: datetime
    decision: Literal["Approved", "Rejected"]
    comment: str | None = None

    def as_json(self) -> dict[str, Any]:
        """As an outbox payload keeps it (``from_json`` reads it back)."""
        return {
            "who": self.who,
            "role": self.role,
            "at": self.at.isoformat(),
            "decision": self.decision,
            "comment": self.comment,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Approval:
        return cls(
            data["who"],
            data["role"],
            datetime.fromisoformat(data["at"]),
            data["decision"],
            data.get("comment"),
        )


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str
    mime: str
    content: bytes


TRequestKind = Literal[
    "Leave",
    "LeaveCancel",
    "LeaveTransfer",
    "VacationWish",
    "SickNotice",
    "Certificate",
    "IncomeCertificate",
    "BusinessTrip",
    "Advance",
    "BankDetails",
    "TaxDeduction",
    "WorkBook",
    "Dismissal",
]


@dataclass(frozen=True, slots=True)
class RequestSubmission:
    request_id: str
    kind: TRequestKind
    person_ref: PersonRef
    employee_ref: EmploymentRef | None
    date_from: date | None = None
    date_to: date | None = None
    details: dict[str, str] = field(default_factory=dict)
    approvals: tuple[Approval, ...] = ()
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class SubmitResult:
    request_id: str
    status: Literal["Created", "AlreadyExists", "Rejected"]
    doc_type: str | None
    doc_ref: str | None
    doc_number: str | None
    errors: tuple[BusinessError, ...] = ()


@dataclass(frozen=True, slots=True)
class WithdrawResult:
    """1C's answer to ``WithdrawRequest``: ``Withdrawn`` now, ``AlreadyWithdrawn`` (a repeat), ``TooLate``
    (HR already decided or posted it), ``NotFound`` (1C never created it)."""

    request_id: str
    status: Literal["Withdrawn", "AlreadyWithdrawn", "TooLate", "NotFound"]
    errors: tuple[BusinessError, ...] = ()


@dataclass(frozen=True, slots=True)
class TimesheetDay:
    day: date
    time_kind: str
    """1C time-kind code: Я (work), В (day off), ОТ (vacation), Б (sick), К (trip), ..."""
    hours: Decimal


@dataclass(frozen=True, slots=True)
class TimesheetRow:
    employee_ref: EmploymentRef
    days: tuple[TimesheetDay, ...]


@dataclass(frozen=True, slots=True)
class TimesheetSubmission:
    request_id: str
    org_ref: OrgRef
    department_ref: DepartmentRef
    period_from: date
    period_to: date
    rows: tuple[TimesheetRow, ...]
    approvals: tuple[Approval, ...] = ()


@dataclass(frozen=True, slots=True)
class TimesheetConflict:
    employee_ref: EmploymentRef
    day: date
    owned_by: str
    """The absence document that owns the day."""


@dataclass(frozen=True, slots=True)
class TimesheetResult:
    request_id: str
    status: Literal["Created", "Replaced", "AlreadyExists", "Rejected"]
    doc_ref: str | None
    conflicts: tuple[TimesheetConflict, ...] = ()
    errors: tuple[BusinessError, ...] = ()


@dataclass(frozen=True, slots=True)
class ScheduleDay:
    day: date
    hours: Decimal


@dataclass(frozen=True, slots=True)
class DocumentStatus:
    request_id: str
    status: str
    file_name: str | None = None
    content: bytes | None = None
    """The certificate PDF, when ready."""


class OneCPort(Protocol):
    """What the bridge asks of 1C. Implemented by connectors/onec (zeep) and by fakes in tests."""

    async def info(self) -> ServiceInfo: ...

    def snapshot(self, entity: TEntity, *, page_size: int | None = None) -> AsyncIterator[list[Record]]:
        """Every record of one entity, page by page (keyset paging by ref)."""
        ...

    async def changes(self, ack_message_no: int, max_items: int = 500) -> ChangeBatch: ...

    async def submit_request(self, request: RequestSubmission) -> SubmitResult: ...

    async def withdraw_request(self, request_id: str, reason: str | None) -> WithdrawResult:
        """Withdraw a submitted request (idempotent by ``request_id``)."""
        ...

    async def submit_timesheet(self, timesheet: TimesheetSubmission) -> TimesheetResult: ...

    async def work_schedule(
        self, employee_refs: Sequence[EmploymentRef], period_from: date, period_to: date
    ) -> dict[EmploymentRef, list[ScheduleDay]]: ...

    async def document(self, request_id: str) -> DocumentStatus: ...

    async def close(self) -> None: ...
