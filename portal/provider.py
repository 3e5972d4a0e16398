"""The provider manager's view: every site with its client managers and their roles, the invitations
sent and their status, and the timesheet summaries per department and per foreman (approved hours only,
the billing rule of timesheets/billing.py).

``GET provider`` and ``GET provider/sites/{site}`` need the ``manage`` right of portal/access.py, which
only a provider manager has; anyone else gets 403, logged without names.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from portal.access import Principal, allowed
from portal.auth import Session as PageSession
from portal.data import PortalData, permitted_site
from portal.pages import Kit, deny
from timesheets.billing import counted, summary

if TYPE_CHECKING:
    from portal.web import PortalSettings

PENDING = ("awaiting:client", "awaiting:provider", "conflict")


def provider_router(data: PortalData, settings: PortalSettings, clock: Callable[[], datetime]) -> APIRouter:
    kit = Kit(data, settings)
    router = APIRouter()

    def provider(request: Request) -> tuple[PageSession, Principal]:
        session, principal = kit.who(request)
        if principal.kind != "provider_manager" or not allowed(principal, "manage", "*"):
            raise deny(principal, "manage")
        return session, principal

    @router.get("/provider", response_class=HTMLResponse, name="provider")
    @kit.guarded
    async def overview(request: Request) -> Response:
        session, principal = provider(request)
        sites = data.sites()
        managers = data.managers()
        pending = {s.site_ref: 0 for s in sites}
        for record in data.sheets():
            if record.state in PENDING and record.sheet.site_ref in pending:
                pending[record.sheet.site_ref] += 1
        return kit.page(
            request,
            "provider.html",
            session,
            principal=principal,
            sites=sites,
            managers={s.site_ref: [m for m in managers if m.site_ref == s.site_ref] for s in sites},
            pending=pending,
            invitations=data.invitations(),
            registrations=[r for r in data.registrations() if r.status == "pending"],
        )

    @router.get("/provider/sites/{site_ref}", response_class=HTMLResponse, name="provider_site")
    @kit.guarded
    async def site_summary(request: Request, site_ref: str) -> Response:
        session, principal = provider(request)
        site = permitted_site(data, principal, "export", site_ref)
        month = request.query_params.get("period") or ""
        records = data.sheets(site_ref)
        approved = counted((r.sheet, r.state) for r in records)
        if month:
            approved = [s for s in approved if s.period.start.isoformat().startswith(month)]
        return kit.page(
            request,
            "provider_site.html",
            session,
            principal=principal,
            site=site,
            month=month,
            managers=data.managers(site_ref),
            team=data.team(site_ref),
            by_department=summary(approved, "department"),
            by_foreman=summary(approved, "foreman"),
            states={
                state: sum(1 for r in records if r.state == state)
                for state in sorted({r.state for r in records})
            },
        )

    return router
