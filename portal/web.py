"""The portal's pages and API as a FastAPI router: ``create_portal_router(...)``; the app mounts it.

Server-rendered Jinja2 pages (Russian), a little JavaScript (select-all for bulk approval). Every page
needs a session made by the placement handler; every POST form carries the session's CSRF token. The
one access policy (portal/access.py) guards pages, the JSON API and the exports alike: a denial is a
403 page or body with one line, never the other site's data.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from portal.access import ROLE_LABELS, AccessDenied, Principal, allowed, require, sites
from portal.auth import COOKIE, PlacementRejected, PlacementVerifier, Session, Sessions, csrf_ok
from portal.cabinet import cabinet_router
from portal.data import (
    ORDER_STATUS_LABELS,
    REGISTRATION_LABELS,
    NotFound,
    OrderKind,
    PortalData,
    permitted_site,
)
from portal.notifications import notifications_router
from portal.provider import provider_router
from portal.resumes import resumes_router
from portal.service import PortalError, PortalService
from portal.throttle import RegistrationLimit
from portal.today import today_router
from timesheets.billing import RateCard, billing_lines, counted, summary, to_csv, to_xlsx
from timesheets.lifecycle import EVENT_LABELS, STATE_LABELS, dispute_diff, resubmission_diff
from timesheets.model import TIME_KINDS, Day, Period, TimesheetError
from timesheets.presence import LABELS as PRESENCE_LABELS

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).with_name("templates")
OK_MESSAGES = {
    "saved": "Табель сохранён",
    "submitted": "Табель отправлен на согласование",
    "approved": "Табель согласован",
    "disputed": "Табель возвращён сотруднику с причиной",
    "corrected": "Создана новая версия табеля",
    "ordered": "Заявка создана",
    "commented": "Комментарий добавлен",
    "registered": "Заявка на доступ отправлена. Менеджер поставщика рассмотрит её и пришлёт приглашение.",
    "decided": "Решение по заявке сохранено",
    "resolved": "Конфликт с 1С закрыт",
}


@dataclass(frozen=True, slots=True)
class PortalSettings:
    session_secret: str
    cookie_secure: bool = True
    """True in production: the page lives in Bitrix24's iframe, so the cookie is SameSite=None; Secure."""
    frame_ancestors: str = "'self'"
    """The portal's origin (e.g. ``https://company.bitrix24.ru``) so Bitrix24 may frame the pages."""
    session_max_age: int = 8 * 3600
    zones: Mapping[str, str] = field(default_factory=dict)
    """Per site, the IANA time zone of its "today" when not ``default_zone`` (``portal.sites[].timezone``)."""
    default_zone: str = "UTC"
    """The provider's time zone (``schedule.timezone``): "today" for everything not tied to one site."""

    def local(self, moment: datetime, site_ref: str | None = None) -> datetime:
        """``moment`` (aware) as the wall clock of ``site_ref``'s time zone, or the provider's."""
        return moment.astimezone(ZoneInfo(self.zones.get(site_ref or "", self.default_zone)))


def create_portal_router(
    *,
    data: PortalData | DataScope,
    verifier: PlacementVerifier,
    settings: PortalSettings,
    rates: RateCard | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    registration_limit: RegistrationLimit | None = None,
) -> APIRouter:
    """The portal's routes (relative paths; mount under a prefix such as ``/portal``).

    ``data`` is one ``PortalData`` (in memory: the demo, the page tests) or a ``DataScope`` that opens one
    per request inside a unit of work: committed when the handler returns, rolled back when it raises.
    """
    scope: DataScope = data if isinstance(data, DataScope) else _fixed(data)
    limit = registration_limit or RegistrationLimit()
    request_data: ContextVar[PortalData] = ContextVar("portal_data")

    def store() -> PortalData:
        return request_data.get()

    def svc() -> PortalService:
        return PortalService(store(), clock)

    def scoped(handler: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
        @functools.wraps(handler)
        async def run(request: Request, **kwargs: Any) -> Response:
            with scope.open() as opened:
                token = request_data.set(opened)
                try:
                    return await handler(request, **kwargs)
                finally:
                    request_data.reset(token)

        return run

    sessions = Sessions(settings.session_secret, max_age=settings.session_max_age)
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.globals.update(
        STATE_LABELS=STATE_LABELS,
        TIME_KINDS=TIME_KINDS,
        ORDER_STATUS_LABELS=ORDER_STATUS_LABELS,
        REGISTRATION_LABELS=REGISTRATION_LABELS,
        PRESENCE_LABELS=PRESENCE_LABELS,
        EVENT_LABELS=EVENT_LABELS,
        ROLE_LABELS=ROLE_LABELS,
    )
    router = APIRouter()

    def page(
        request: Request, name: str, session: Session | None, status: int = 200, **context: Any
    ) -> Response:
        ok = OK_MESSAGES.get(request.query_params.get("ok", ""))
        response = templates.TemplateResponse(
            request, name, {"csrf": session.csrf if session else "", "ok": ok, **context}, status_code=status
        )
        return _harden(response)

    def _harden(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = f"frame-ancestors {settings.frame_ancestors}"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    def message(request: Request, text: str, status: int, session: Session | None = None) -> Response:
        return page(request, "message.html", session, status, text=text, principal=None)

    def set_cookie(response: Response, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            sessions.dump(session),
            max_age=sessions.max_age,
            httponly=True,
            secure=settings.cookie_secure,
            samesite="none" if settings.cookie_secure else "lax",
            path="/",
        )

    def who(request: Request) -> tuple[Session, Principal]:
        session = sessions.load(request.cookies.get(COOKIE))
        if session is None or session.user_id is None:
            raise _NoSession()
        principal = store().principal(session.user_id)
        if principal is None:
            raise AccessDenied("Доступ не настроен: обратитесь к менеджеру поставщика")
        return session, principal

    async def checked_form(request: Request, session: Session | None) -> dict[str, Any]:
        form = await request.form()
        if not csrf_ok(session, str(form.get("csrf") or "")):
            raise _BadCsrf()
        return {k: form.getlist(k) if k == "sheet_id" else str(form.get(k) or "") for k in form}

    def guarded(handler: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
        inner = scoped(handler)

        @functools.wraps(handler)
        async def run(request: Request, **kwargs: Any) -> Response:
            session = sessions.load(request.cookies.get(COOKIE))
            try:
                return await inner(request, **kwargs)
            except _NoSession:
                return message(request, "Откройте страницу из Битрикс24: сессия не найдена или истекла", 401)
            except _BadCsrf:
                return message(request, "Форма устарела: обновите страницу и повторите", 403, session)
            except AccessDenied as exc:
                return message(request, exc.message, 403, session)
            except NotFound:
                return message(request, "Не найдено", 404, session)
            except (PortalError, TimesheetError) as exc:
                return message(request, str(exc), 400, session)

        return run

    def back(url: str, ok: str) -> Response:
        return RedirectResponse(f"{url}?ok={ok}", status_code=303)

    # -- entry -----------------------------------------------------------------------------------------
    @router.post("/placement", response_class=HTMLResponse)
    @scoped
    async def placement(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            user = await verifier.verify(form)
        except PlacementRejected as exc:
            return message(request, str(exc), 403)
        if store().principal(user.user_id) is None:
            log.warning("portal.access.unconfigured", extra={"user": user.user_id})
            return message(request, "Доступ не настроен: обратитесь к менеджеру поставщика", 403)
        session = sessions.new(user.user_id, request.query_params.get("LANG", "ru"))
        response = RedirectResponse(str(request.url_for("dashboard")), status_code=303)
        set_cookie(response, session)
        return response

    @router.get("/", response_class=HTMLResponse, name="dashboard")
    @guarded
    async def dashboard(request: Request) -> Response:
        session, principal = who(request)
        every = [s.site_ref for s in store().sites()]
        mine = sites(principal, "view", every)
        pending = [
            r
            for r in svc().visible_sheets(principal)
            if (
                r.state == "awaiting:client"
                and principal.kind == "client_manager"
                and allowed(principal, "approve_timesheet", r.sheet.site_ref)
            )
            or (r.state in ("awaiting:provider", "conflict") and principal.kind == "provider_manager")
        ]
        own = svc().visible_sheets(principal) if principal.kind == "employee" else []
        return page(
            request,
            "dashboard.html",
            session,
            principal=principal,
            sites=[s for s in store().sites() if s.site_ref in mine],
            pending=pending,
            own=own,
            team={s: store().team(s) for s in mine} if principal.kind != "employee" else {},
            orders=[o for s in mine for o in store().orders(s)] if principal.kind != "employee" else [],
            history=svc().history(principal, mine),
            registrations=store().registrations() if principal.kind == "provider_manager" else [],
            can_resume={s: allowed(principal, "view_resume", s) for s in mine},
        )

    # -- timesheets ------------------------------------------------------------------------------------
    @router.get("/sites/{site_ref}/timesheets", response_class=HTMLResponse, name="site_timesheets")
    @guarded
    async def site_timesheets(request: Request, site_ref: str) -> Response:
        session, principal = who(request)
        site = permitted_site(store(), principal, "view", site_ref)
        records = svc().visible_sheets(principal, site_ref)
        return page(
            request,
            "grid.html",
            session,
            principal=principal,
            site=site,
            records=records,
            can_approve=allowed(principal, "approve_timesheet", site_ref)
            and principal.kind == "client_manager",
            can_export=allowed(principal, "export", site_ref),
            by_foreman=summary(counted((r.sheet, r.state) for r in records), "foreman"),
        )

    @router.post("/sites/{site_ref}/timesheets/approve", name="bulk_approve")
    @guarded
    async def bulk_approve(request: Request, site_ref: str) -> Response:
        session, principal = who(request)
        form = await checked_form(request, session)
        done, skipped = svc().bulk_approve(principal, site_ref, form.get("sheet_id") or [])
        if skipped:
            text = f"Согласовано: {done}. Не согласованы: " + "; ".join(skipped)
            return message(request, text, 409, session)
        return back(str(request.url_for("site_timesheets", site_ref=site_ref)), "approved")

    @router.get("/timesheets/{sheet_id}", response_class=HTMLResponse, name="sheet")
    @guarded
    async def sheet_page(request: Request, sheet_id: str) -> Response:
        session, principal = who(request)
        current = svc().sheet(principal, sheet_id)
        s = current.sheet
        dispute = next((t for t in reversed(current.history) if t.data.get("event") == "dispute"), None)
        return page(
            request,
            "sheet.html",
            session,
            principal=principal,
            record=current,
            sheet=s,
            editable=current.state == "draft"
            and allowed(principal, "fill_timesheet", s.site_ref, owner=s.employee_ref),
            can_decide=(
                current.state == "awaiting:client"
                and principal.kind == "client_manager"
                and allowed(principal, "approve_timesheet", s.site_ref)
            )
            or (current.state == "awaiting:provider" and principal.kind == "provider_manager"),
            can_correct=current.state in ("approved", "submitted", "conflict", "failed")
            and (
                principal.kind == "provider_manager"
                or allowed(principal, "fill_timesheet", s.site_ref, owner=s.employee_ref)
            ),
            dispute=dispute if current.state == "draft" else None,
            dispute_diff=dispute_diff(current.history),
            resubmission_diff=resubmission_diff(current.history),
        )

    @router.post("/timesheets/{sheet_id}/save", name="sheet_save")
    @guarded
    async def sheet_save(request: Request, sheet_id: str) -> Response:
        session, principal = who(request)
        form = await checked_form(request, session)
        current = svc().sheet(principal, sheet_id)
        days = _days_from_form(form, current.sheet.period)
        submit = form.get("action") == "submit"
        svc().save_days(principal, sheet_id, days, submit=submit)
        return back(str(request.url_for("sheet", sheet_id=sheet_id)), "submitted" if submit else "saved")

    @router.post("/timesheets/{sheet_id}/approve", name="sheet_approve")
    @guarded
    async def sheet_approve(request: Request, sheet_id: str) -> Response:
        session, principal = who(request)
        await checked_form(request, session)
        svc().approve(principal, sheet_id)
        return back(str(request.url_for("sheet", sheet_id=sheet_id)), "approved")

    @router.post("/timesheets/{sheet_id}/dispute", name="sheet_dispute")
    @guarded
    async def sheet_dispute(request: Request, sheet_id: str) -> Response:
        session, principal = who(request)
        form = await checked_form(request, session)
        current = svc().sheet(principal, sheet_id)
        proposed = [d for d in _days_from_form(form, current.sheet.period) if d not in current.sheet.days]
        svc().dispute(principal, sheet_id, form.get("reason", ""), proposed)
        return back(str(request.url_for("sheet", sheet_id=sheet_id)), "disputed")

    @router.post("/timesheets/{sheet_id}/resolve", name="sheet_resolve")
    @guarded
    async def sheet_resolve(request: Request, sheet_id: str) -> Response:
        session, principal = who(request)
        form = await checked_form(request, session)
        svc().resolve_conflict(principal, sheet_id, form.get("reason", ""))
        return back(str(request.url_for("sheet", sheet_id=sheet_id)), "resolved")

    @router.post("/timesheets/{sheet_id}/correct", name="sheet_correct")
    @guarded
    async def sheet_correct(request: Request, sheet_id: str) -> Response:
        session, principal = who(request)
        await checked_form(request, session)
        created = svc().correct(principal, sheet_id)
        return back(str(request.url_for("sheet", sheet_id=created.sheet.sheet_id)), "corrected")

    # -- exports and API -------------------------------------------------------------------------------
    @router.get("/sites/{site_ref}/billing.{fmt}", name="billing")
    @guarded
    async def billing(request: Request, site_ref: str, fmt: str) -> Response:
        _session, principal = who(request)
        require(principal, "export", site_ref)
        if rates is None or fmt not in ("csv", "xlsx"):
            raise NotFound(fmt)
        sheets = counted((r.sheet, r.state) for r in store().sheets(site_ref))
        month = request.query_params.get("period")
        if month:
            sheets = [s for s in sheets if s.period.start.isoformat().startswith(month)]
        lines = billing_lines(sheets, rates)
        name = f"billing-{site_ref}-{month or 'all'}.{fmt}"
        disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
        if fmt == "csv":
            return Response(
                "\ufeff" + to_csv(lines), media_type="text/csv; charset=utf-8", headers=disposition
            )
        xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return Response(to_xlsx(lines), media_type=xlsx, headers=disposition)

    @router.get("/api/sites/{site_ref}/timesheets", name="api_timesheets")
    @scoped
    async def api_timesheets(request: Request, site_ref: str) -> Response:
        try:
            _session, principal = who(request)
            require(principal, "view", site_ref)
        except _NoSession:
            return JSONResponse({"error": "no session"}, status_code=401)
        except AccessDenied as exc:
            return JSONResponse({"error": exc.message}, status_code=403)
        return JSONResponse(
            [
                {
                    "sheet_id": r.sheet.sheet_id,
                    "employee_ref": r.sheet.employee_ref,
                    "period": r.sheet.period.key(),
                    "version": r.sheet.version,
                    "state": r.state,
                    "hours": str(r.sheet.total()),
                }
                for r in svc().visible_sheets(principal, site_ref)
            ]
        )

    # -- staff orders ----------------------------------------------------------------------------------
    @router.get("/sites/{site_ref}/orders", response_class=HTMLResponse, name="orders")
    @guarded
    async def orders(request: Request, site_ref: str) -> Response:
        session, principal = who(request)
        site = permitted_site(store(), principal, "view", site_ref)
        return page(
            request,
            "orders.html",
            session,
            principal=principal,
            site=site,
            orders=store().orders(site_ref),
            can_order=allowed(principal, "submit_order", site_ref),
            today=clock().date().isoformat(),
        )

    @router.post("/sites/{site_ref}/orders", name="order_create")
    @guarded
    async def order_create(request: Request, site_ref: str) -> Response:
        session, principal = who(request)
        form = await checked_form(request, session)
        kind: OrderKind = "change" if form.get("kind") == "change" else "order"
        created = svc().create_order(
            principal,
            site_ref,
            kind=kind,
            position=form.get("position", ""),
            headcount=form.get("headcount", ""),
            start=form.get("start", ""),
            details=form.get("details", ""),
            changes_order=form.get("changes_order") or None,
        )
        return back(str(request.url_for("order", order_id=created.order_id)), "ordered")

    @router.get("/orders/{order_id}", response_class=HTMLResponse, name="order")
    @guarded
    async def order(request: Request, order_id: str) -> Response:
        session, principal = who(request)
        found = svc().order(principal, order_id)
        can_comment = principal.kind == "provider_manager" or allowed(
            principal, "submit_order", found.site_ref
        )
        return page(request, "order.html", session, principal=principal, order=found, can_comment=can_comment)

    @router.post("/orders/{order_id}/comment", name="order_comment")
    @guarded
    async def order_comment(request: Request, order_id: str) -> Response:
        session, principal = who(request)
        form = await checked_form(request, session)
        svc().comment_order(principal, order_id, form.get("text", ""))
        return back(str(request.url_for("order", order_id=order_id)), "commented")

    # -- self-registration -----------------------------------------------------------------------------
    @router.get("/register", response_class=HTMLResponse, name="register")
    async def register_form(request: Request) -> Response:
        session = sessions.load(request.cookies.get(COOKIE)) or sessions.new(None)
        response = page(request, "register.html", session, principal=None, values={})
        set_cookie(response, session)
        return response

    @router.post("/register", name="register_post")
    @guarded
    async def register(request: Request) -> Response:
        session = sessions.load(request.cookies.get(COOKIE))
        form = await checked_form(request, session)
        wait = limit.retry_after(request.client.host if request.client else "", form.get("email", ""))
        if wait is not None:
            log.warning("portal.registration.throttled", extra={"retry_after": wait})
            minutes = max(1, round(wait / 60))
            text = f"Слишком много заявок: попробуйте через {minutes} мин."
            response = page(request, "register.html", session, 429, principal=None, values=form, error=text)
            response.headers["Retry-After"] = str(wait)
            return response
        try:
            svc().register(
                form.get("name", ""), form.get("company", ""), form.get("email", ""), form.get("phone", "")
            )
        except PortalError as exc:
            return page(request, "register.html", session, 400, principal=None, values=form, error=str(exc))
        return back(str(request.url_for("register")), "registered")

    @router.post("/registrations/{registration_id}/decide", name="registration_decide")
    @guarded
    async def registration_decide(request: Request, registration_id: str) -> Response:
        session, principal = who(request)
        form = await checked_form(request, session)
        svc().decide_registration(
            principal,
            registration_id,
            form.get("decision") == "approve",
            form.get("site_ref", ""),
            form.get("role", "viewer"),
        )
        return back(str(request.url_for("dashboard")), "decided")

    @router.get("/static/portal.css", name="css")
    async def css() -> Response:
        return Response((TEMPLATES / "portal.css").read_text(encoding="utf-8"), media_type="text/css")

    async def request_scope() -> AsyncIterator[None]:
        """The added pages' requests get the same per-request ``PortalData`` (closed before the answer)."""
        with scope.open() as opened:
            request_data.set(opened)
            yield

    shared = cast(PortalData, _RequestData(store))
    opened = [Depends(request_scope, scope="function")]
    for added in (cabinet_router, provider_router, notifications_router, resumes_router, today_router):
        router.include_router(added(shared, settings, clock), dependencies=opened)
    return router


class _RequestData:
    """A ``PortalData`` that is the current request's (the added pages' routers hold one at build time)."""

    def __init__(self, current: Callable[[], PortalData]) -> None:
        self._current = current

    def __getattr__(self, name: str) -> Any:
        return getattr(self._current(), name)


class DataScope:
    """Opens the ``PortalData`` of one request: ``with scope.open() as data`` (commits on a clean exit)."""

    def __init__(self, opener: Callable[[], AbstractContextManager[PortalData]]) -> None:
        self.open = opener


def _fixed(data: PortalData) -> DataScope:
    return DataScope(lambda: nullcontext(data))


class _NoSession(Exception):
    pass


class _BadCsrf(Exception):
    pass


def _days_from_form(form: dict[str, Any], period: Period) -> list[Day]:
    """``kind_<iso>`` and ``hours_<iso>`` fields → days (only the days the form carries)."""
    days = []
    for day in period.days():
        kind, hours = form.get(f"kind_{day.isoformat()}"), form.get(f"hours_{day.isoformat()}")
        if kind is None and hours is None:
            continue
        try:
            value = Decimal(str(hours or "0").replace(",", ".")).quantize(Decimal("0.01"))
        except InvalidOperation:
            raise PortalError(f"{day:%d.%m.%Y}: часы — число, например 8 или 7,5") from None
        days.append(Day(day, str(kind or "Я"), value))
    return days
