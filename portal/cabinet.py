"""The employee's own cabinet: their 1C data, schedule, HR requests, timesheets and regulations.

``GET me`` is for employees only (anyone else: 403). The card comes from the 1C replica
(``PortalData.employee_card``: position, legal entity, the site they are sent to, personnel number, hire
date, leave balance when 1C reports it); the next two weeks' schedule from 1C's ``GetWorkSchedule``
through the 1C port; requests are the person's ``process_instances`` (read-only); timesheets are their
own only. Regulations (``portal_regulations``: for everyone or for the employee's site) carry an
«Ознакомлен» button: ``POST me/regulations/{doc_id}/ack`` stores who and when once — pressing it again
changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connectors.errors import OneCError
from connectors.onec.port import EmploymentRef, ScheduleDay
from portal.access import Principal
from portal.auth import Session as PageSession
from portal.data import PortalData
from portal.pages import Kit, NotFound, deny, ports
from portal.tables import Regulation, RegulationAck

if TYPE_CHECKING:
    from portal.web import PortalSettings

log = logging.getLogger(__name__)
SCHEDULE_DAYS = 14


@dataclass(frozen=True, slots=True)
class RegulationView:
    doc_id: str
    title: str
    url: str
    acknowledged_at: datetime | None


class Regulations:
    """Regulations and acknowledgements inside the caller's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def publish(self, doc_id: str, title: str, url: str, at: datetime, site_ref: str | None = None) -> None:
        row = self.session.get(Regulation, doc_id) or Regulation(doc_id=doc_id)
        row.title, row.url, row.site_ref, row.published_at = title, url, site_ref, at
        self.session.add(row)
        self.session.flush()

    def for_user(self, user_id: str, site_ref: str | None) -> list[RegulationView]:
        rows = self.session.scalars(
            select(Regulation)
            .where(or_(Regulation.site_ref.is_(None), Regulation.site_ref == site_ref))
            .order_by(Regulation.published_at.desc())
        )
        acks = {
            a.doc_id: a.acknowledged_at
            for a in self.session.scalars(select(RegulationAck).where(RegulationAck.user_id == user_id))
        }
        return [RegulationView(r.doc_id, r.title, r.url, acks.get(r.doc_id)) for r in rows]

    def acknowledge(self, user_id: str, doc_id: str, site_ref: str | None, at: datetime) -> bool:
        """Record the first acknowledgement; False when it was recorded before. KeyError: not theirs."""
        regulation = self.session.get(Regulation, doc_id)
        if regulation is None or regulation.site_ref not in (None, site_ref):
            raise KeyError(doc_id)
        insert = postgresql.insert if self.session.get_bind().dialect.name == "postgresql" else sqlite.insert
        statement = (
            insert(RegulationAck)
            .values(user_id=user_id, doc_id=doc_id, acknowledged_at=at)
            .on_conflict_do_nothing(index_elements=["user_id", "doc_id"])
            .returning(RegulationAck.doc_id)
        )
        return self.session.execute(statement).scalar_one_or_none() is not None


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
        today = clock().date()
        schedule, schedule_error = await _schedule(request, ref, today)
        regulations: list[RegulationView] = []
        sessions = ports(request).sessions
        if sessions is not None:
            with sessions() as db:
                regulations = Regulations(db).for_user(principal.user_id, principal.employee_site)
        sheets = [r for r in data.sheets(principal.employee_site) if r.sheet.employee_ref == ref]
        return kit.page(
            request,
            "cabinet.html",
            session,
            principal=principal,
            card=data.employee_card(ref),
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
        session, principal, _ref = employee(request)
        await kit.form(request, session)
        sessions = ports(request).sessions
        if sessions is None:
            raise NotFound(doc_id)
        try:
            with sessions.begin() as db:
                first = Regulations(db).acknowledge(
                    principal.user_id, doc_id, principal.employee_site, clock()
                )
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
