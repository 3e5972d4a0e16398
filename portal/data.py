"""What the portal reads and writes, as a Protocol, and an in-memory implementation.

``PortalData`` is the seam for the unit of work: the wiring session implements it over the store
(timesheets' records in ``process_transitions`` through the same hash chain, orders and registrations
in their own tables). ``MemoryData`` serves the page tests, the browser tests and the demo.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal, Protocol

from core.ids import B24UserId
from portal.access import Action, Principal, Role, require
from processes.engine import Transition
from timesheets.model import SiteSettings, Timesheet
from timesheets.onec import Submission

OrderKind = Literal["order", "change"]
OrderStatus = Literal["new", "in_work", "answered", "closed"]
ORDER_STATUS_LABELS = {"new": "новая", "in_work": "в работе", "answered": "есть ответ", "closed": "закрыта"}
RegistrationStatus = Literal["pending", "approved", "rejected"]
REGISTRATION_LABELS = {"pending": "ждёт одобрения", "approved": "одобрена", "rejected": "отклонена"}


@dataclass(frozen=True, slots=True)
class Site:
    site_ref: str
    name: str
    client: str
    settings: SiteSettings


@dataclass(frozen=True, slots=True)
class TeamMember:
    employee_ref: str
    site_ref: str
    name: str
    position: str
    b24_user_id: B24UserId | None = None
    resume_url: str | None = None
    presence: str = "scheduled"
    """Who is working today: scheduled, clocked_in, on_break, clocked_out, absent, late."""


@dataclass(slots=True)
class Comment:
    author: B24UserId
    text: str
    at: datetime


@dataclass(slots=True)
class Order:
    order_id: str
    site_ref: str
    kind: OrderKind
    position: str
    headcount: int
    start: date
    details: str
    author: B24UserId
    created_at: datetime
    status: OrderStatus = "new"
    answer: str | None = None
    changes_order: str | None = None
    comments: list[Comment] = field(default_factory=list)


@dataclass(slots=True)
class Registration:
    registration_id: str
    name: str
    company: str
    email: str
    phone: str
    created_at: datetime
    status: RegistrationStatus = "pending"
    decided_by: B24UserId | None = None
    site_ref: str | None = None
    """Approved: the site the contact manages, and their role there."""
    role: Role | None = None


@dataclass(frozen=True, slots=True)
class SheetRecord:
    sheet: Timesheet
    history: tuple[Transition, ...]

    @property
    def state(self) -> str:
        return self.history[-1].to_state if self.history else "draft"


@dataclass(frozen=True, slots=True)
class ManagerRow:
    """A client manager's role on a site (the provider manager's view)."""

    user_id: B24UserId | None
    name: str
    email: str
    site_ref: str
    role: str


@dataclass(frozen=True, slots=True)
class InvitationRow:
    person: str
    channel: str
    status: str
    sent_at: datetime


@dataclass(frozen=True, slots=True)
class EmployeeCard:
    """What 1C says of an employee, as the cabinet shows it."""

    employee_ref: str
    name: str
    position: str
    organisation: str
    site_ref: str
    site_name: str
    personnel_no: str = ""
    hire_date: date | None = None
    leave_balance: Decimal | None = None
    """Days of annual leave left; None while 1C does not report it."""
    person_ref: str = ""
    org_ref: str = ""


@dataclass(frozen=True, slots=True)
class RequestRow:
    """An HR request of the employee (a process instance), read-only."""

    request_id: str
    kind: str
    state: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Contact:
    email: str | None = None
    phone: str | None = None


class PortalData(Protocol):
    def principal(self, b24_user_id: B24UserId) -> Principal | None: ...
    def sites(self) -> list[Site]: ...
    def site(self, site_ref: str) -> Site | None: ...
    def team(self, site_ref: str) -> list[TeamMember]: ...
    def sheets(self, site_ref: str | None = None) -> list[SheetRecord]: ...
    def sheet(self, sheet_id: str) -> SheetRecord | None: ...
    def save_sheet(self, sheet: Timesheet, appended: Sequence[Transition]) -> None:
        """Store the sheet's days and append its new records (one transaction)."""
        ...

    def orders(self, site_ref: str | None = None) -> list[Order]: ...
    def order(self, order_id: str) -> Order | None: ...
    def save_order(self, order: Order) -> None: ...
    def registrations(self) -> list[Registration]: ...
    def registration(self, registration_id: str) -> Registration | None: ...
    def save_registration(self, registration: Registration) -> None: ...
    def grant_access(self, registration: Registration) -> None:
        """The approved contact becomes a client manager of its site: the Bitrix24 extranet invitation
        follows through the client managers' path (sync/managers.py)."""
        ...

    def queue_onec(self, batch: Sequence[Submission]) -> None:
        """Queue ``SubmitTimesheet`` calls in the same transaction as the approval that makes them."""
        ...

    # -- the cabinet, the provider's view, notifications and resumes (portal/cabinet.py …) -------------
    def managers(self, site_ref: str | None = None) -> list[ManagerRow]: ...
    def invitations(self) -> list[InvitationRow]: ...
    def employee_card(self, employee_ref: str, on: date | None = None) -> EmployeeCard | None:
        """The employee as 1C knows them; the leave balance as of ``on`` (today when None)."""
        ...

    def requests_of(self, employee_ref: str) -> list[RequestRow]: ...
    def user_of_employee(self, employee_ref: str) -> B24UserId | None: ...
    def contact(self, user_id: B24UserId) -> Contact: ...
    def group_of_site(self, site_ref: str) -> int | None: ...


class NotFound(LookupError):
    """What the request names does not exist: the pages answer 404."""


def permitted_site(data: PortalData, principal: Principal, action: Action, site_ref: str) -> Site:
    """The site ``principal`` may ``action`` on. The right is checked first (403), the site's existence
    second (404): a user refused a site never learns whether it exists."""
    require(principal, action, site_ref)
    site = data.site(site_ref)
    if site is None:
        raise NotFound(site_ref)
    return site


@dataclass
class MemoryData:
    """Everything in dictionaries; the same behaviour the store-backed implementation must have."""

    principals: dict[B24UserId, Principal] = field(default_factory=dict)
    site_rows: dict[str, Site] = field(default_factory=dict)
    members: list[TeamMember] = field(default_factory=list)
    sheet_rows: dict[str, SheetRecord] = field(default_factory=dict)
    order_rows: dict[str, Order] = field(default_factory=dict)
    registration_rows: dict[str, Registration] = field(default_factory=dict)
    granted: list[Registration] = field(default_factory=list)
    onec_queue: list[list[Submission]] = field(default_factory=list)
    invitation_rows: list[InvitationRow] = field(default_factory=list)
    cards: dict[str, EmployeeCard] = field(default_factory=dict)
    request_rows: dict[str, list[RequestRow]] = field(default_factory=dict)
    contacts: dict[B24UserId, Contact] = field(default_factory=dict)
    site_groups: dict[str, int] = field(default_factory=dict)

    def principal(self, b24_user_id: B24UserId) -> Principal | None:
        return self.principals.get(b24_user_id)

    def sites(self) -> list[Site]:
        return sorted(self.site_rows.values(), key=lambda s: s.name)

    def site(self, site_ref: str) -> Site | None:
        return self.site_rows.get(site_ref)

    def team(self, site_ref: str) -> list[TeamMember]:
        return [m for m in self.members if m.site_ref == site_ref]

    def sheets(self, site_ref: str | None = None) -> list[SheetRecord]:
        rows = [r for r in self.sheet_rows.values() if site_ref is None or r.sheet.site_ref == site_ref]
        return sorted(rows, key=lambda r: (r.sheet.period.start, r.sheet.employee_name, r.sheet.version))

    def sheet(self, sheet_id: str) -> SheetRecord | None:
        return self.sheet_rows.get(sheet_id)

    def save_sheet(self, sheet: Timesheet, appended: Sequence[Transition]) -> None:
        old = self.sheet_rows.get(sheet.sheet_id)
        history = (old.history if old else ()) + tuple(appended)
        self.sheet_rows[sheet.sheet_id] = SheetRecord(sheet, history)

    def orders(self, site_ref: str | None = None) -> list[Order]:
        rows = [o for o in self.order_rows.values() if site_ref is None or o.site_ref == site_ref]
        return sorted(rows, key=lambda o: o.created_at, reverse=True)

    def order(self, order_id: str) -> Order | None:
        return self.order_rows.get(order_id)

    def save_order(self, order: Order) -> None:
        self.order_rows[order.order_id] = order

    def registrations(self) -> list[Registration]:
        return sorted(self.registration_rows.values(), key=lambda r: r.created_at, reverse=True)

    def registration(self, registration_id: str) -> Registration | None:
        return self.registration_rows.get(registration_id)

    def save_registration(self, registration: Registration) -> None:
        self.registration_rows[registration.registration_id] = registration

    def grant_access(self, registration: Registration) -> None:
        self.granted.append(registration)

    def queue_onec(self, batch: Sequence[Submission]) -> None:
        self.onec_queue.append(list(batch))

    def managers(self, site_ref: str | None = None) -> list[ManagerRow]:
        rows = [
            ManagerRow(p.user_id, p.name, (self.contacts.get(p.user_id) or Contact()).email or "", site, role)
            for p in self.principals.values()
            if p.kind == "client_manager"
            for site, roles in p.roles.items()
            for role in sorted(roles)
            if site_ref is None or site == site_ref
        ]
        return sorted(rows, key=lambda r: (r.site_ref, r.name, r.role))

    def invitations(self) -> list[InvitationRow]:
        return sorted(self.invitation_rows, key=lambda r: r.sent_at, reverse=True)

    def employee_card(self, employee_ref: str, on: date | None = None) -> EmployeeCard | None:
        return self.cards.get(employee_ref)

    def requests_of(self, employee_ref: str) -> list[RequestRow]:
        return sorted(self.request_rows.get(employee_ref, []), key=lambda r: r.updated_at, reverse=True)

    def user_of_employee(self, employee_ref: str) -> B24UserId | None:
        for p in self.principals.values():
            if p.kind == "employee" and p.employee_ref == employee_ref:
                return p.user_id
        return next((m.b24_user_id for m in self.members if m.employee_ref == employee_ref), None)

    def contact(self, user_id: B24UserId) -> Contact:
        return self.contacts.get(user_id) or Contact()

    def group_of_site(self, site_ref: str) -> int | None:
        return self.site_groups.get(site_ref)
