"""``PortalData`` over the state store, inside the caller's session (the unit of work commits).

- Timesheets: ``process_instances`` rows of kind ``timesheet`` (``request_id`` = sheet id, ``data`` = the
  sheet) and their ``process_transitions`` — the same append-only, hash-chained table as requests, so
  ``ProcessRepository.history`` / ``verify`` read and check them. The instance's version column and the
  unique (instance, seq) make a concurrent writer fail instead of forking the chain.
- People: provider managers are configured user ids; client managers and their site roles are
  ``client_managers`` rows (sync/managers.py keeps them); an employee is the Bitrix24 user linked to a 1C
  person in ``identity_map`` whose active employment (``source_records``) names the site.
- Sites, staff orders, registrations: the portal's tables (portal/models.py, migration 0009).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.onec.port import Department, Employee, Organization, Person, Position
from core.ids import B24UserId
from portal.access import Principal, Role
from portal.data import (
    Comment,
    Contact,
    EmployeeCard,
    InvitationRow,
    ManagerRow,
    Order,
    Registration,
    RequestRow,
    SheetRecord,
    Site,
    TeamMember,
)
from portal.models import PortalOrder, PortalRegistration, PortalSite
from processes.engine import Transition
from processes.leave_balance import leave_balance
from processes.regulations import KIND as ACK_KIND
from store.models import (
    ClientManager,
    IdentityLink,
    Invitation,
    ProcessInstance,
    ProcessTransition,
    SourceRecord,
)
from store.outbox import Outbox
from store.process_repo import ProcessRepository, transition_row
from sync import managers as client_managers
from sync.source import from_json
from timesheets.model import Day, Period, SiteSettings, Timesheet
from timesheets.onec import Submission, batch_key, batch_to_data
from timesheets.serial import days_from_data, days_to_data

KIND = "timesheet"
ONEC_TARGET = "onec:timesheets"
"""The outbox target of timesheet submissions (webhooks/timesheet_jobs.py delivers them; the requests'
worker owns target ``onec``)."""
ONEC_KIND = "SubmitTimesheet"


class ConcurrentChange(RuntimeError):
    """Another writer appended to the sheet first; the caller re-reads and tries again."""


class SqlPortalData:
    def __init__(
        self,
        session: Session,
        *,
        provider_managers: Collection[B24UserId] = (),
        outbox: Outbox | None = None,
    ) -> None:
        self.session = session
        self.provider_managers = frozenset(provider_managers)
        self.processes = ProcessRepository(session)
        self.outbox = outbox or Outbox(session)

    # -- people ----------------------------------------------------------------------------------------
    def principal(self, b24_user_id: B24UserId) -> Principal | None:
        if b24_user_id in self.provider_managers:
            return Principal(b24_user_id, "provider_manager")
        user_id = b24_user_id
        rows = self.session.scalars(
            select(ClientManager).where(
                ClientManager.b24_user_id == user_id, ClientManager.removed_at.is_(None)
            )
        ).all()
        if rows:
            roles: dict[str, set[Role]] = {}
            for row in rows:
                roles.setdefault(row.site_ref, set()).add(cast(Role, row.role))
            return Principal(
                b24_user_id, "client_manager", rows[0].name or "", {s: frozenset(r) for s, r in roles.items()}
            )
        link = self.session.scalar(
            select(IdentityLink).where(IdentityLink.kind == "person", IdentityLink.b24_id == user_id)
        )
        if link is None:
            return None
        for employee in self._employees(person_ref=link.source_ref):
            if _active(employee):
                assert employee.current is not None
                return Principal(
                    b24_user_id,
                    "employee",
                    self._person_name(employee.person_ref),
                    employee_ref=employee.ref,
                    employee_site=employee.current.department_ref,
                )
        return None

    def _employees(self, *, person_ref: str | None = None) -> list[Employee]:
        query = select(SourceRecord).where(SourceRecord.entity == "Employee")
        if person_ref is not None:
            query = query.where(SourceRecord.parent_ref == person_ref)
        records = [from_json("Employee", row.payload) for row in self.session.scalars(query)]
        return [r for r in records if isinstance(r, Employee)]

    def _person_name(self, person_ref: str) -> str:
        row = self.session.scalar(
            select(SourceRecord).where(SourceRecord.entity == "Person", SourceRecord.ref == person_ref)
        )
        person = from_json("Person", row.payload) if row else None
        return f"{person.last_name} {person.first_name}".strip() if isinstance(person, Person) else ""

    def _position_name(self, position_ref: str | None) -> str:
        if not position_ref:
            return ""
        row = self.session.scalar(
            select(SourceRecord).where(SourceRecord.entity == "Position", SourceRecord.ref == position_ref)
        )
        position = from_json("Position", row.payload) if row else None
        return position.name if isinstance(position, Position) else ""

    # -- sites and teams -------------------------------------------------------------------------------
    def sites(self) -> list[Site]:
        rows = self.session.scalars(select(PortalSite).order_by(PortalSite.name))
        return [_site(row, self._approvers(row.site_ref)) for row in rows]

    def site(self, site_ref: str) -> Site | None:
        row = self.session.get(PortalSite, site_ref)
        return _site(row, self._approvers(site_ref)) if row else None

    def _approvers(self, site_ref: str) -> tuple[B24UserId, ...]:
        """The site's invited timesheet approvers (client_managers rows with a Bitrix24 user)."""
        query = select(ClientManager.b24_user_id).where(
            ClientManager.site_ref == site_ref,
            ClientManager.role == "timesheet_approver",
            ClientManager.removed_at.is_(None),
            ClientManager.b24_user_id.is_not(None),
        )
        return tuple(sorted(B24UserId(i) for i in self.session.scalars(query) if i is not None))

    def configure_site(self, site_ref: str, client: str, period_kind: str, settings: dict[str, Any]) -> bool:
        """Create or update the portal's row of a configured site from its 1C department (False: 1C has no
        such department in the replica yet — a sync first)."""
        record = self.session.scalar(
            select(SourceRecord).where(SourceRecord.entity == "Department", SourceRecord.ref == site_ref)
        )
        department = from_json("Department", record.payload) if record else None
        if not isinstance(department, Department):
            return False
        row = self.session.get(PortalSite, site_ref) or PortalSite(site_ref=site_ref)
        row.name, row.client, row.org_ref = department.name, client, department.org_ref
        row.period_kind, row.settings = period_kind, settings
        self.session.add(row)
        self.session.flush()
        return True

    def team(self, site_ref: str) -> list[TeamMember]:
        """Active employments at the site (a scan of the Employee replica: fine for thousands)."""
        members = []
        for employee in self._employees():
            if _active(employee) and employee.current and employee.current.department_ref == site_ref:
                link = self.session.scalar(
                    select(IdentityLink).where(
                        IdentityLink.kind == "person", IdentityLink.source_ref == employee.person_ref
                    )
                )
                members.append(
                    TeamMember(
                        employee.ref,
                        site_ref,
                        self._person_name(employee.person_ref),
                        self._position_name(employee.current.position_ref),
                        B24UserId(link.b24_id) if link and link.b24_id is not None else None,
                    )
                )
        return sorted(members, key=lambda m: m.name)

    # -- timesheets ------------------------------------------------------------------------------------
    def sheets(self, site_ref: str | None = None) -> list[SheetRecord]:
        query = select(ProcessInstance).where(ProcessInstance.kind == KIND)
        if site_ref is not None:
            query = query.where(ProcessInstance.site_ref == site_ref)
        rows = [self._record(row) for row in self.session.scalars(query)]
        return sorted(rows, key=lambda r: (r.sheet.period.start, r.sheet.employee_name, r.sheet.version))

    def sheet(self, sheet_id: str) -> SheetRecord | None:
        row = self.processes.get(sheet_id)
        return self._record(row) if row is not None and row.kind == KIND else None

    def _record(self, row: ProcessInstance) -> SheetRecord:
        return SheetRecord(_sheet(row.request_id, row.data), tuple(self.processes.history(row.request_id)))

    def save_sheet(self, sheet: Timesheet, appended: Sequence[Transition]) -> None:
        if not appended:
            raise ValueError("a sheet is saved with the records that changed it")
        instance = self.processes.get(sheet.sheet_id, lock=True)
        at = appended[-1].at
        if instance is None:
            instance = ProcessInstance(
                request_id=sheet.sheet_id,
                kind=KIND,
                person_ref=sheet.employee_ref,
                site_ref=sheet.site_ref,
                state=appended[-1].to_state,
                data=_sheet_data(sheet),
                created_at=appended[0].at,
                updated_at=at,
            )
            self.session.add(instance)
            self.session.flush()
            last_seq = 0
        else:
            last = self.session.scalar(
                select(ProcessTransition.seq)
                .where(ProcessTransition.instance_id == instance.id)
                .order_by(ProcessTransition.seq.desc())
                .limit(1)
            )
            last_seq = last or 0
        if appended[0].seq != last_seq + 1:
            raise ConcurrentChange(f"sheet {sheet.sheet_id} changed meanwhile")
        for record in appended:
            self.session.add(transition_row(instance.id, record))
        instance.state = appended[-1].to_state
        instance.data = _sheet_data(sheet)
        instance.updated_at = at
        self.session.flush()

    # -- orders ----------------------------------------------------------------------------------------
    def orders(self, site_ref: str | None = None) -> list[Order]:
        query = select(PortalOrder).order_by(PortalOrder.created_at.desc())
        if site_ref is not None:
            query = query.where(PortalOrder.site_ref == site_ref)
        return [_order(row) for row in self.session.scalars(query)]

    def order(self, order_id: str) -> Order | None:
        row = self.session.get(PortalOrder, order_id)
        return _order(row) if row else None

    def save_order(self, order: Order) -> None:
        row = self.session.get(PortalOrder, order.order_id) or PortalOrder(order_id=order.order_id)
        row.site_ref, row.kind, row.position, row.headcount = (
            order.site_ref,
            order.kind,
            order.position,
            order.headcount,
        )
        row.start, row.details, row.author, row.status = (
            order.start,
            order.details,
            order.author,
            order.status,
        )
        row.answer, row.changes_order, row.created_at = order.answer, order.changes_order, order.created_at
        row.comments = [{"author": c.author, "text": c.text, "at": c.at.isoformat()} for c in order.comments]
        self.session.add(row)
        self.session.flush()

    # -- registrations ---------------------------------------------------------------------------------
    def registrations(self) -> list[Registration]:
        rows = self.session.scalars(select(PortalRegistration).order_by(PortalRegistration.created_at.desc()))
        return [_registration(row) for row in rows]

    def registration(self, registration_id: str) -> Registration | None:
        row = self.session.get(PortalRegistration, registration_id)
        return _registration(row) if row else None

    def save_registration(self, registration: Registration) -> None:
        row = self.session.get(PortalRegistration, registration.registration_id) or PortalRegistration(
            registration_id=registration.registration_id
        )
        row.name, row.company, row.email, row.phone = (
            registration.name,
            registration.company,
            registration.email,
            registration.phone,
        )
        row.status, row.decided_by, row.created_at = (
            registration.status,
            registration.decided_by,
            registration.created_at,
        )
        row.site_ref, row.role = registration.site_ref, registration.role
        self.session.add(row)
        self.session.flush()

    def grant_access(self, registration: Registration) -> None:
        """A client-manager assignment: the ``client_managers`` job invites the contact into the site's
        extranet group (sync/managers.py ``apply``: ``user.add`` with ``EXTRANET``, then the group role)."""
        if registration.site_ref is None or registration.role is None:
            raise ValueError("an approved registration names its site and role")
        client_managers.add(
            self.session, registration.email, [registration.site_ref], registration.role, registration.name
        )

    # -- 1C --------------------------------------------------------------------------------------------
    def queue_onec(self, batch: Sequence[Submission]) -> None:
        if batch:
            self.outbox.add(ONEC_TARGET, ONEC_KIND, batch_key(batch), batch_to_data(batch))

    # -- the cabinet, the provider's view, notifications, resumes (read-only) --------------------------
    def managers(self, site_ref: str | None = None) -> list[ManagerRow]:
        query = select(ClientManager).where(ClientManager.removed_at.is_(None))
        if site_ref is not None:
            query = query.where(ClientManager.site_ref == site_ref)
        rows = [
            ManagerRow(
                B24UserId(r.b24_user_id) if r.b24_user_id is not None else None,
                r.name or "",
                r.email,
                r.site_ref,
                r.role,
            )
            for r in self.session.scalars(query)
        ]
        return sorted(rows, key=lambda r: (r.site_ref, r.name, r.role))

    def invitations(self) -> list[InvitationRow]:
        rows = self.session.scalars(select(Invitation).order_by(Invitation.sent_at.desc()).limit(500))
        return [
            InvitationRow(self._person_name(r.person_ref) or r.person_ref, r.channel, r.status, r.sent_at)
            for r in rows
        ]

    def _record_of(self, entity: str, ref: str | None) -> Any:
        if not ref:
            return None
        row = self.session.scalar(
            select(SourceRecord).where(SourceRecord.entity == entity, SourceRecord.ref == ref)
        )
        return from_json(entity, row.payload) if row else None

    def employee_card(self, employee_ref: str, on: date | None = None) -> EmployeeCard | None:
        employee = self._record_of("Employee", employee_ref)
        if not isinstance(employee, Employee) or employee.current is None:
            return None
        current = employee.current
        position = self._record_of("Position", current.position_ref)
        org = self._record_of("Organization", current.org_ref)
        site_ref = current.department_ref or ""
        site = self.site(site_ref) if site_ref else None
        return EmployeeCard(
            employee.ref,
            self._person_name(employee.person_ref),
            position.name if isinstance(position, Position) else "",
            org.name if isinstance(org, Organization) else "",
            site_ref,
            site.name if site else "",
            employee.personnel_no,
            current.hire_date,
            leave_balance(self.session, employee.ref, on or datetime.now(UTC).date()),
            employee.person_ref,
            current.org_ref,
        )

    def requests_of(self, employee_ref: str) -> list[RequestRow]:
        employee = self._record_of("Employee", employee_ref)
        refs = {employee_ref} | ({employee.person_ref} if isinstance(employee, Employee) else set())
        rows = self.session.scalars(
            select(ProcessInstance)
            .where(ProcessInstance.kind.not_in((KIND, ACK_KIND)), ProcessInstance.person_ref.in_(refs))
            .order_by(ProcessInstance.updated_at.desc())
        )
        return [RequestRow(r.request_id, r.kind, r.state, r.updated_at) for r in rows]

    def user_of_employee(self, employee_ref: str) -> B24UserId | None:
        employee = self._record_of("Employee", employee_ref)
        if not isinstance(employee, Employee):
            return None
        b24_id = self.session.scalar(
            select(IdentityLink.b24_id).where(
                IdentityLink.kind == "person", IdentityLink.source_ref == employee.person_ref
            )
        )
        return B24UserId(b24_id) if b24_id is not None else None

    def contact(self, user_id: B24UserId) -> Contact:
        manager = self.session.scalar(
            select(ClientManager).where(ClientManager.b24_user_id == user_id).limit(1)
        )
        if manager is not None:
            return Contact(manager.email, None)
        link = self.session.scalar(
            select(IdentityLink).where(IdentityLink.kind == "person", IdentityLink.b24_id == user_id)
        )
        person = self._record_of("Person", link.source_ref if link else None)
        if not isinstance(person, Person):
            return Contact()
        mobile = next((p.value for p in person.phones if p.kind == "Mobile"), None)
        return Contact(person.emails[0] if person.emails else None, mobile)

    def group_of_site(self, site_ref: str) -> int | None:
        """The Bitrix24 group mirrored for the site (identity_map kind ``department``)."""
        b24_id = self.session.scalar(
            select(IdentityLink.b24_id).where(
                IdentityLink.kind == "department", IdentityLink.source_ref == site_ref
            )
        )
        return int(b24_id) if b24_id is not None else None


def _active(employee: Employee) -> bool:
    current = employee.current
    return bool(current and current.department_ref and not current.dismissal_date and not employee.deleted)


def _site(row: PortalSite, approvers: tuple[B24UserId, ...] = ()) -> Site:
    extra: dict[str, Any] = row.settings or {}
    settings = SiteSettings(
        row.site_ref,
        row.org_ref,
        cast(Any, row.period_kind),
        client_approvers=_user_ids(extra.get("client_approvers")) or approvers,
        alternate_approvers=_user_ids(extra.get("alternate_approvers")),
        provider_managers=_user_ids(extra.get("provider_managers")),
        deadline_days=int(extra.get("deadline_days", 3)),
        remind_before_days=int(extra.get("remind_before_days", 1)),
    )
    return Site(row.site_ref, row.name, row.client, settings)


def _user_ids(values: Any) -> tuple[B24UserId, ...]:
    return tuple(B24UserId(int(v)) for v in values or ())


def _sheet_data(sheet: Timesheet) -> dict[str, Any]:
    return {
        "employee_ref": sheet.employee_ref,
        "site_ref": sheet.site_ref,
        "org_ref": sheet.org_ref,
        "period": [sheet.period.start.isoformat(), sheet.period.end.isoformat()],
        "days": days_to_data(sheet.days),
        "version": sheet.version,
        "corrects": sheet.corrects,
        "foreman": sheet.foreman,
        "department": sheet.department,
        "employee_name": sheet.employee_name,
        "position": sheet.position,
    }


def _sheet(sheet_id: str, data: dict[str, Any]) -> Timesheet:
    period = Period(date.fromisoformat(data["period"][0]), date.fromisoformat(data["period"][1]))
    days: tuple[Day, ...] = tuple(days_from_data(data["days"]))
    return Timesheet(
        sheet_id,
        data["employee_ref"],
        data["site_ref"],
        data["org_ref"],
        period,
        days,
        version=int(data.get("version", 1)),
        corrects=data.get("corrects"),
        foreman=data.get("foreman"),
        department=data.get("department"),
        employee_name=data.get("employee_name", ""),
        position=data.get("position", ""),
    )


def _order(row: PortalOrder) -> Order:
    comments = [
        Comment(B24UserId(int(c["author"])), c["text"], datetime.fromisoformat(c["at"]))
        for c in row.comments or []
    ]
    return Order(
        row.order_id,
        row.site_ref,
        cast(Any, row.kind),
        row.position,
        row.headcount,
        row.start,
        row.details,
        B24UserId(row.author),
        row.created_at,
        cast(Any, row.status),
        row.answer,
        row.changes_order,
        comments,
    )


def _registration(row: PortalRegistration) -> Registration:
    return Registration(
        row.registration_id,
        row.name,
        row.company,
        row.email,
        row.phone,
        row.created_at,
        cast(Any, row.status),
        B24UserId(row.decided_by) if row.decided_by is not None else None,
        row.site_ref,
        cast(Any, row.role),
    )
