"""The employee's own cabinet: their 1C data, schedule, HR requests, timesheets and regulations.

``GET me`` is for employees only (anyone else: 403). The card comes from the 1C replica
(``PortalData.employee_card``: position, legal entity, the site they are sent to, personnel number, hire
date, leave balance when 1C reports it); the next two weeks' schedule from 1C's ``GetWorkSchedule``
through the 1C port; requests are the person's ``process_instances`` (read-only); timesheets are their
own only. Regulations are the local acts HR published to the employee's legal entity (store/regulations.py,
docs/regulations.md): each acknowledgement the bridge assigned them is listed with its state, and an open
one has an «Ознакомлен» button — ``POST me/regulations/{document}/ack`` appends the ``confirm`` record to
that acknowledgement's hash-chained history (actor ``portal:<user id>``, when), the same proof as closing
the Bitrix24 task; pressing it again, or closing the task afterwards, adds nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from connectors.errors import OneCError
from connectors.onec.port import EmploymentRef, ScheduleDay
from portal.access import Principal
from portal.auth import Session as PageSession
from portal.data import NotFound, PortalData
from portal.pages import Kit, deny, ports
from processes.engine import IllegalTransition
from processes.regulations import AckEvent, ack_id, record
from store.regulations import Regulations

if TYPE_CHECKING:
    from portal.web import PortalSettings

log = logging.getLogger(__name__)
SCHEDULE_DAYS = 14


@dataclass(frozen=True, slots=True)
class RegulationView:
    document_id: str
    title: str
    deadline: date
    state: str
    confirmed_at: datetime | None


def regulations_of(session: Session, person_ref: str) -> list[RegulationView]:
    """The acknowledgements assigned to the person, newest document first."""
    repo = Regulations(session)
    views = []
    for document in reversed(repo.documents()):
        ack = ack_id(document.document_id, person_ref)
        history = repo.history(ack)
        if not history:
            continue
        confirmed = next((t.at for t in history if t.to_state == "confirmed"), None)
        state = history[-1].to_state
        views.append(
            RegulationView(document.document_id, document.title, document.deadline, state, confirmed)
        )
    return views


def confirm(session: Session, document_id: str, person_ref: str, user_id: int, at: datetime) -> bool:
    """Record the employee's confirmation; False when it was recorded before. KeyError: not assigned."""
    repo = Regulations(session)
    ack = ack_id(document_id, person_ref)
    history = repo.history(ack)
    if repo.document(document_id) is None or not history:
        raise KeyError(document_id)
    if history[-1].to_state != "assigned":
        return False
    event = AckEvent("confirm", f"portal:{user_id}", data={"via": "portal"})
    try:
        repo.append(ack, lambda ack_, last: record(ack_, last, event, at), at)
    except IllegalTransition:
        return False  # confirmed by a concurrent press or by the task's closing meanwhile
    return True


def cabinet_router(data: PortalData, settings: PortalSettings, clock: Callable[[], datetime]) -> APIRouter:
    kit = Kit(data, settings)
    router = APIRouter()

    def employee(request: Request) -> tuple[PageSession, Principal, str]:
        session, principal = kit.who(request)
        if principal.kind != "employee" or not principal.employee_ref:
            raise deny(principal, "cabinet")
        return session, principal, principal.employee_ref

    @router.get("/me", response_class=HTMLResponse, name="cabinet")
    @kit.guarded
    async def cabinet(request: Request) -> Response:
        session, principal, ref = employee(request)
        today = settings.local(clock()).date()
        schedule, schedule_error = await _schedule(request, ref, today)
        card = data.employee_card(ref, today)
        regulations: list[RegulationView] = []
        sessions = ports(request).sessions
        if sessions is not None and card is not None and card.person_ref:
            with sessions() as db:
                regulations = regulations_of(db, card.person_ref)
        sheets = [r for r in data.sheets(principal.employee_site) if r.sheet.employee_ref == ref]
        return kit.page(
            request,
            "cabinet.html",
            session,
            principal=principal,
            card=card,
            schedule=schedule,
            schedule_error=schedule_error,
            requests=data.requests_of(ref),
            sheets=sorted(sheets, key=lambda r: (r.sheet.period.start, r.sheet.version), reverse=True),
            regulations=regulations,
            regulations_ready=sessions is not None,
        )

    @router.post("/me/regulations/{doc_id}/ack", name="regulation_ack")
    @kit.guarded
    async def acknowledge(request: Request, doc_id: str) -> Response:
        session, principal, ref = employee(request)
        await kit.form(request, session)
        sessions = ports(request).sessions
        card = data.employee_card(ref)
        if sessions is None or card is None or not card.person_ref:
            raise NotFound(doc_id)
        try:
            with sessions.begin() as db:
                first = confirm(db, doc_id, card.person_ref, principal.user_id, clock())
        except KeyError:
            raise NotFound(doc_id) from None
        if first:
            log.info("portal.regulation.acknowledged", extra={"user": principal.user_id, "doc": doc_id})
        return kit.back(str(request.url_for("cabinet")), "acknowledged")

    return router


async def _schedule(request: Request, ref: str, today: date) -> tuple[list[ScheduleDay], str | None]:
    """The next two weeks from 1C's GetWorkSchedule; an unreachable 1C is a line on the page, not a 500."""
    onec = ports(request).onec
    if onec is None:
        return [], "График из 1С недоступен: 1С не подключена"
    try:
        found = await onec.work_schedule(
            [EmploymentRef(ref)], today, today + timedelta(days=SCHEDULE_DAYS - 1)
        )
    except OneCError as exc:
        log.warning("portal.cabinet.schedule_failed", extra={"error": type(exc).__name__})
        return [], "1С сейчас не отвечает: график покажем позже"
    return sorted(found.get(EmploymentRef(ref), []), key=lambda d: d.day), None
