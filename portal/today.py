"""Who is working today on a site: Bitrix24 time tracking joined with the 1C schedule.

For each team member linked to a Bitrix24 user the bridge asks ``timeman.status`` with ``USER_ID`` —
through the **application's** token (an admin's right to read another user's day, timeman-status.md;
an extranet user's own token is refused with ``allowed_only_intranet_user``, bitrix24-rest.md §10.3),
all of them in ``batch`` requests of up to 50 (§7). 1C's ``GetWorkSchedule`` gives today's planned
hours; ``timesheets.presence.presence`` turns both into one word. A member whose status Bitrix24 refuses
(not a time-tracking user) is judged by the schedule alone.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from connectors.bitrix24.errors import Bitrix24ApiError
from connectors.bitrix24.port import Bitrix24Port, Call
from connectors.errors import OneCError
from connectors.onec.port import EmploymentRef, OneCPort
from core.errors import Action
from portal.data import PortalData, TeamMember, permitted_site
from portal.pages import Kit, Unavailable, ports
from timesheets.presence import presence

if TYPE_CHECKING:
    from portal.web import PortalSettings

log = logging.getLogger(__name__)


class TimeTrackingUnavailable(RuntimeError):
    """Bitrix24 did not answer ``timeman.status`` for reasons other than this one user (down, limits)."""


async def who_is_working(
    team: list[TeamMember],
    bitrix24: Bitrix24Port,
    onec: OneCPort,
    now: datetime,
    shift_start: time = time(9, 0),
) -> list[TeamMember]:
    """The team with ``presence`` set for ``now`` (aware, in the site's time zone)."""
    if not team:
        return []
    linked = [m for m in team if m.b24_user_id]
    outcomes = await bitrix24.batch(
        [Call("timeman.status", {"USER_ID": m.b24_user_id}, label=f"u{m.b24_user_id}") for m in linked]
    )
    statuses: dict[int, dict[str, Any]] = {}
    for outcome in outcomes:
        if outcome.ok and isinstance(outcome.result, dict):
            statuses[int(outcome.label[1:])] = outcome.result
        elif outcome.error is not None:
            if outcome.error.action not in (Action.FAIL, Action.QUARANTINE):
                # Bitrix24 is down, limited or refuses the app: no status is known, so none is guessed.
                raise TimeTrackingUnavailable(outcome.error.code)
            log.info("portal.today.status_refused", extra={"code": outcome.error.code})
    plans = await onec.work_schedule([EmploymentRef(m.employee_ref) for m in team], now.date(), now.date())
    result = []
    for member in team:
        planned = next(
            (d.hours for d in plans.get(EmploymentRef(member.employee_ref), []) if d.day == now.date()),
            Decimal(0),
        )
        status = statuses.get(member.b24_user_id) if member.b24_user_id is not None else None
        result.append(dataclasses.replace(member, presence=presence(status, planned, now, shift_start)))
    return result


def today_router(data: PortalData, settings: PortalSettings, clock: Callable[[], datetime]) -> APIRouter:
    kit = Kit(data, settings)
    router = APIRouter()

    @router.get("/sites/{site_ref}/today", response_class=HTMLResponse, name="today")
    @kit.guarded
    async def today(request: Request, site_ref: str) -> Response:
        session, principal = kit.who(request)
        site = permitted_site(data, principal, "view", site_ref)  # an employee's "view": their own records
        found = ports(request)
        if found.bitrix24 is None or found.onec is None:
            raise Unavailable("Учёт времени или 1С не подключены: статус «кто работает» недоступен")
        now = settings.local(clock(), site_ref)  # the site's wall clock: its today, its shift start
        try:
            team = await who_is_working(data.team(site_ref), found.bitrix24, found.onec, now)
        except (Bitrix24ApiError, OneCError, TimeTrackingUnavailable) as exc:
            log.warning("portal.today.failed", extra={"error": type(exc).__name__})
            raise Unavailable("Битрикс24 или 1С сейчас не отвечают: повторите позже") from None
        counts = {p: sum(1 for m in team if m.presence == p) for p in sorted({m.presence for m in team})}
        return kit.page(
            request, "today.html", session, principal=principal, site=site, team=team, counts=counts, now=now
        )

    return router
