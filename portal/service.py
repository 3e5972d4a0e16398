"""What the portal's pages and API do, each action checked by portal/access.py first.

Timesheet actions append records through timesheets/lifecycle.py (the engine's hash chain); a locked
version is never edited, a correction is a new version that supersedes the old one when approved. A
user's mistake is a ``PortalError`` with one Russian line; a missing record is ``NotFound``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime

from connectors.messaging.port import InvalidEmail, InvalidPhone
from connectors.messaging.validate import normalize_phone, validate_email
from connectors.onec.port import Approval
from portal.access import ROLES, AccessDenied, Principal, allowed, require
from portal.data import Comment, NotFound, Order, OrderKind, PortalData, Registration, SheetRecord
from processes.engine import IllegalTransition, Transition
from sync.managers import ManagerError
from timesheets.billing import counted
from timesheets.lifecycle import AWAITING, STATE_LABELS, SheetEvent, record
from timesheets.model import Day, Timesheet, TimesheetError
from timesheets.onec import SheetOutcome, conflicts_to_data, submissions
from timesheets.serial import days_to_data

MAX_TEXT = 2000


class PortalError(ValueError):
    """The user's input or the record's state does not allow the action; the message says why."""


class PortalService:
    def __init__(self, data: PortalData, clock: Callable[[], datetime]) -> None:
        self.data = data
        self.clock = clock

    # -- timesheets ------------------------------------------------------------------------------------
    def visible_sheets(self, principal: Principal, site_ref: str | None = None) -> list[SheetRecord]:
        return [
            r
            for r in self.data.sheets(site_ref)
            if allowed(principal, "view", r.sheet.site_ref, owner=r.sheet.employee_ref)
        ]

    def sheet(self, principal: Principal, sheet_id: str) -> SheetRecord:
        found = self.data.sheet(sheet_id)
        if found is None:
            raise NotFound(sheet_id)
        if not _escalated_to(principal, found):
            require(principal, "view", found.sheet.site_ref, owner=found.sheet.employee_ref)
        return found

    def _append(self, current: SheetRecord, event: SheetEvent, sheet: Timesheet | None = None) -> SheetRecord:
        last = current.history[-1] if current.history else None
        try:
            entry = record(current.sheet.sheet_id, last, event, self.clock())
        except IllegalTransition as exc:
            raise PortalError(_illegal_message(current.state)) from exc
        self.data.save_sheet(sheet or current.sheet, [entry])
        saved = self.data.sheet(current.sheet.sheet_id)
        assert saved is not None
        return saved

    def open_sheet(self, sheet: Timesheet, actor: str = "bridge") -> SheetRecord:
        """A pre-filled sheet enters the portal as a draft (the bridge's pre-fill job calls this)."""
        entry = record(sheet.sheet_id, None, SheetEvent("prefill", actor), self.clock())
        self.data.save_sheet(sheet, [entry])
        return SheetRecord(sheet, (entry,))

    def save_days(
        self, principal: Principal, sheet_id: str, days: Sequence[Day], *, submit: bool
    ) -> SheetRecord:
        current = self.sheet(principal, sheet_id)
        require(principal, "fill_timesheet", current.sheet.site_ref, owner=current.sheet.employee_ref)
        if current.state != "draft":
            raise PortalError(_illegal_message(current.state))
        try:
            changed = current.sheet.with_days(days)
        except TimesheetError as exc:
            raise PortalError(str(exc)) from exc
        if changed.days != current.sheet.days:
            edits = [d for d in changed.days if d not in current.sheet.days]
            current = self._append(
                current, SheetEvent("edit", _actor(principal), data={"days": days_to_data(edits)}), changed
            )
        if submit:
            current = self._append(
                current, SheetEvent("submit", _actor(principal), data={"days": days_to_data(changed.days)})
            )
        return current

    def _step_for(self, principal: Principal, current: SheetRecord) -> str:
        """The approval step ``principal`` may act on for this sheet, or AccessDenied / PortalError."""
        if not current.state.startswith(AWAITING):
            raise PortalError(_illegal_message(current.state))
        step = current.state.removeprefix(AWAITING)
        site = current.sheet.site_ref
        if step == "client" and _escalated_to(principal, current):
            pass  # the deadline passed: the site's alternate approver decides this step
        elif step == "client" and principal.kind == "client_manager":
            require(principal, "approve_timesheet", site)
        elif step == "provider" and principal.kind == "provider_manager":
            require(principal, "manage", site)
        else:
            raise AccessDenied("Этот шаг согласования не ваш")
        return step

    def approve(self, principal: Principal, sheet_id: str) -> SheetRecord:
        current = self.sheet(principal, sheet_id)
        step = self._step_for(principal, current)
        current = self._append(current, SheetEvent("approve", _actor(principal), step=step))
        if current.state == "approved" and current.sheet.corrects:
            old = self.data.sheet(current.sheet.corrects)
            if old is not None and old.state not in ("superseded", "cancelled"):
                self._append(old, SheetEvent("superseded", _actor(principal), data={"by": sheet_id}))
        if current.state == "approved":
            self._queue_onec(current)
        return current

    def _queue_onec(self, approved: SheetRecord) -> None:
        """1C keeps one document per site and period, and a new requestId replaces all its rows: so every
        approval queues the site's whole period — the latest approved version of each employee."""
        sheet = approved.sheet
        same = [r for r in self.data.sheets(sheet.site_ref) if r.sheet.period == sheet.period]
        sheets = [s for s in counted((r.sheet, r.state) for r in same) if s.org_ref == sheet.org_ref]
        by_id = {r.sheet.sheet_id: r for r in same}
        approvals = [
            Approval(t.actor, t.data.get("step", ""), t.at, "Approved")
            for t in by_id[sheet.sheet_id].history
            if t.data.get("event") == "approve"
        ]
        self.data.queue_onec(submissions(sheets, approvals))

    def bulk_approve(
        self, principal: Principal, site_ref: str, sheet_ids: Sequence[str]
    ) -> tuple[int, list[str]]:
        """Approve each sheet the principal may approve now; the others are named with the reason."""
        require(principal, "view", site_ref)
        if not sheet_ids:
            raise PortalError("Отметьте табели, которые нужно согласовать")
        found = {sheet_id: self.data.sheet(sheet_id) for sheet_id in sheet_ids}
        if any(r is None or r.sheet.site_ref != site_ref for r in found.values()):
            raise AccessDenied()  # checked for all before any is approved: nothing half-applied
        done, skipped = 0, []
        for sheet_id, current in found.items():
            assert current is not None
            try:
                self.approve(principal, sheet_id)
                done += 1
            except PortalError as exc:
                skipped.append(f"{current.sheet.employee_name or sheet_id}: {exc}")
        return done, skipped

    def dispute(
        self, principal: Principal, sheet_id: str, reason: str, proposed: Sequence[Day] = ()
    ) -> SheetRecord:
        current = self.sheet(principal, sheet_id)
        step = self._step_for(principal, current)
        reason = reason.strip()
        if not reason:
            raise PortalError("Укажите причину: сотрудник увидит её рядом с табелем")
        if len(reason) > MAX_TEXT:
            raise PortalError(f"Причина длиннее {MAX_TEXT} символов")
        data: dict[str, object] = {}
        if proposed:
            try:
                data["proposed"] = days_to_data(current.sheet.with_days(proposed).days)
            except TimesheetError as exc:
                raise PortalError(str(exc)) from exc
        return self._append(current, SheetEvent("dispute", _actor(principal), reason, step, data))

    def correct(self, principal: Principal, sheet_id: str) -> SheetRecord:
        """A new draft version of an approved sheet (the approved one stays locked until it is replaced)."""
        current = self.sheet(principal, sheet_id)
        if principal.kind != "provider_manager":
            require(principal, "fill_timesheet", current.sheet.site_ref, owner=current.sheet.employee_ref)
        if current.state not in ("approved", "submitted", "conflict", "failed"):
            raise PortalError("Исправление создаётся только для согласованного табеля")
        newer = [r for r in self.data.sheets(current.sheet.site_ref) if r.sheet.corrects == sheet_id]
        if any(r.state not in ("cancelled",) for r in newer):
            raise PortalError("Исправление этого табеля уже создано")
        version = replace(
            current.sheet, sheet_id=str(uuid.uuid4()), version=current.sheet.version + 1, corrects=sheet_id
        )
        return self.open_sheet(version, _actor(principal))

    def refresh_days(self, sheet_id: str, clocked: Sequence[Day], actor: str) -> SheetRecord | None:
        """Clocked days from Bitrix24 time tracking into a draft, except days a person has edited
        (the employee's word wins); None when nothing changed."""
        current = self.data.sheet(sheet_id)
        if current is None or current.state != "draft":
            return None
        by_people = {
            row[0]
            for t in current.history
            if t.data.get("event") == "edit" and not t.actor.startswith("bridge")
            for row in t.data.get("days", ())
        }
        changes = [
            d
            for d in clocked
            if d.day in current.sheet.period
            and d.day.isoformat() not in by_people
            and current.sheet.day(d.day) != d
        ]
        if not changes:
            return None
        changed = current.sheet.with_days(changes)
        event = SheetEvent("edit", actor, data={"days": days_to_data(changes), "source": "timeman"})
        return self._append(current, event, changed)

    def chase(self, sheet_id: str, event: SheetEvent) -> SheetRecord:
        """Record the bridge's reminder or escalation (timesheets/deadlines.py decides which is due)."""
        current = self.data.sheet(sheet_id)
        if current is None:
            raise NotFound(sheet_id)
        return self._append(current, event)

    def record_onec(self, outcome: SheetOutcome) -> SheetRecord:
        """1C's answer for one sheet (the outbox's result handler calls this): accepted, conflicts, failed."""
        current = self.data.sheet(outcome.sheet_id)
        if current is None:
            raise NotFound(outcome.sheet_id)
        data = {"conflicts": conflicts_to_data(outcome.conflicts)} if outcome.conflicts else {}
        return self._append(current, SheetEvent(outcome.event, "1c", outcome.reason, data=data))

    def resolve_conflict(self, principal: Principal, sheet_id: str, reason: str) -> SheetRecord:
        """The provider manager accepts 1C's days (or has started a correction) and closes the conflict."""
        current = self.sheet(principal, sheet_id)
        require(principal, "manage", current.sheet.site_ref)
        if not reason.strip():
            raise PortalError("Укажите, как решён конфликт")
        return self._append(current, SheetEvent("resolve", _actor(principal), reason.strip()))

    def history(
        self, principal: Principal, site_refs: Sequence[str], limit: int = 20
    ) -> list[tuple[SheetRecord, Transition]]:
        """The latest approval records of the sheets on these sites (the dashboard's history)."""
        rows = [
            (r, t)
            for site in site_refs
            for r in self.visible_sheets(principal, site)
            for t in r.history
            if t.data.get("event") in ("submit", "approve", "dispute", "onec_conflicts", "resolve")
        ]
        return sorted(rows, key=lambda rt: rt[1].at, reverse=True)[:limit]

    # -- staff orders ----------------------------------------------------------------------------------
    def create_order(
        self,
        principal: Principal,
        site_ref: str,
        *,
        kind: OrderKind,
        position: str,
        headcount: str,
        start: str,
        details: str,
        changes_order: str | None = None,
    ) -> Order:
        require(principal, "submit_order", site_ref)
        position, details = position.strip(), details.strip()
        if not position:
            raise PortalError("Укажите должность")
        try:
            count = int(headcount)
        except ValueError:
            raise PortalError("Количество — целое число от 1 до 500") from None
        if not 1 <= count <= 500:
            raise PortalError("Количество — целое число от 1 до 500")
        try:
            first_day = date.fromisoformat(start)
        except ValueError:
            raise PortalError("Дата выхода — в формате ГГГГ-ММ-ДД") from None
        if first_day < self.clock().date():
            raise PortalError("Дата выхода уже прошла")
        if len(details) > MAX_TEXT:
            raise PortalError(f"Описание длиннее {MAX_TEXT} символов")
        if kind == "change":
            base = self.data.order(changes_order or "")
            if base is None or base.site_ref != site_ref:
                raise PortalError("Выберите заявку, которую нужно изменить")
        order = Order(
            str(uuid.uuid4()),
            site_ref,
            kind,
            position,
            count,
            first_day,
            details,
            principal.user_id,
            self.clock(),
            changes_order=changes_order if kind == "change" else None,
        )
        self.data.save_order(order)
        return order

    def order(self, principal: Principal, order_id: str) -> Order:
        found = self.data.order(order_id)
        if found is None:
            raise NotFound(order_id)
        require(principal, "view", found.site_ref)
        return found

    def comment_order(self, principal: Principal, order_id: str, text: str) -> Order:
        found = self.order(principal, order_id)
        if principal.kind != "provider_manager":
            require(principal, "submit_order", found.site_ref)
        text = text.strip()
        if not text or len(text) > MAX_TEXT:
            raise PortalError(f"Комментарий — от 1 до {MAX_TEXT} символов")
        found.comments.append(Comment(principal.user_id, text, self.clock()))
        if principal.kind == "provider_manager":
            found.status, found.answer = "answered", text
        self.data.save_order(found)
        return found

    # -- self-registration -----------------------------------------------------------------------------
    def register(self, name: str, company: str, email: str, phone: str) -> Registration:
        """A client contact asks for access; nothing is granted until a provider manager approves."""
        name, company = name.strip(), company.strip()
        if not name or not company:
            raise PortalError("Укажите имя и компанию")
        if len(name) > 200 or len(company) > 200:
            raise PortalError("Имя и компания — не длиннее 200 символов")
        try:
            address = validate_email(email)
        except InvalidEmail:
            raise PortalError("Проверьте адрес электронной почты") from None
        try:
            number = normalize_phone(phone)
        except InvalidPhone:
            raise PortalError("Проверьте номер мобильного телефона: +7 999 123-45-67") from None
        if not address or not number:
            raise PortalError("Укажите электронную почту и мобильный телефон")
        if any(r.email == address and r.status == "pending" for r in self.data.registrations()):
            raise PortalError("Заявка с этим адресом уже ждёт одобрения")
        registration = Registration(str(uuid.uuid4()), name, company, address, number, self.clock())
        self.data.save_registration(registration)
        return registration

    def decide_registration(
        self,
        principal: Principal,
        registration_id: str,
        approve: bool,
        site_ref: str = "",
        role: str = "viewer",
    ) -> Registration:
        """Reject, or approve for one site and role: the contact becomes that site's client manager and is
        invited into Bitrix24's extranet by the client managers' job."""
        if principal.kind != "provider_manager":
            raise AccessDenied()
        found = self.data.registration(registration_id)
        if found is None:
            raise NotFound(registration_id)
        if found.status != "pending":
            raise PortalError("Заявка уже рассмотрена")
        found.status, found.decided_by = ("approved" if approve else "rejected"), principal.user_id
        if approve:
            if self.data.site(site_ref) is None:
                raise PortalError("Выберите объект, к которому открыть доступ")
            if role not in ROLES:
                raise PortalError("Выберите роль: согласует табели, подаёт заявки или просмотр")
            found.site_ref, found.role = site_ref, role
            try:
                self.data.grant_access(found)
            except ManagerError as exc:
                raise PortalError(f"Доступ не выдан: {exc.operator_message}") from None
        self.data.save_registration(found)
        return found


def _escalated_to(principal: Principal, current: SheetRecord) -> bool:
    """Is ``principal`` an alternate approver the sheet's current approval step was escalated to?"""
    if not current.state.startswith(AWAITING):
        return False
    step = current.state.removeprefix(AWAITING)
    for entry in reversed(current.history):
        if entry.to_state != current.state or entry.from_state != current.state:
            return False  # the step was entered after the last escalation
        if entry.data.get("event") == "escalate" and entry.data.get("step") == step:
            return principal.user_id in entry.data.get("to", ())
    return False


def _actor(principal: Principal) -> str:
    """A person in a timesheet record: their Bitrix24 user id (records also name ``bridge`` and ``1c``)."""
    return str(principal.user_id)


def _illegal_message(state: str) -> str:
    return f"Табель сейчас в состоянии «{STATE_LABELS.get(state, state)}»: это действие недоступно"
