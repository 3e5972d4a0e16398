"""A small world for the demo, the page tests and the browser tests: two sites, their people, sheets in
every state of the first approval round, an order and a pending registration (in-memory)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from fastapi import FastAPI

from connectors.onec.port import ScheduleDay
from core.ids import B24UserId
from portal.access import Principal
from portal.auth import PlacementVerifier
from portal.data import MemoryData, Order, Site, TeamMember
from portal.service import PortalService
from portal.web import PortalSettings, create_portal_router
from timesheets.billing import RateCard
from timesheets.model import Period, SiteSettings, Timesheet, period_of
from timesheets.prefill import prefill


@dataclass(frozen=True, slots=True)
class DemoUsers:
    """Bitrix24 user ids of the demo's people."""

    employee: B24UserId
    approver_a: B24UserId
    submitter_a: B24UserId
    approver_b: B24UserId
    provider: B24UserId


RATES = RateCard(
    {"site-A": "ООО «Северный склад»", "site-B": "АО «Южный терминал»"},
    {
        ("site-A", "*"): Decimal("520.00"),
        ("site-A", "РВ"): Decimal("1040.00"),
        ("site-B", "*"): Decimal("480.00"),
    },
)
NAMES = ["Иванов Пётр", "Смирнова Ольга", "Кузнецов Артём", "Попова Дарья", "Васильев Илья", "Соколова Анна"]


def demo_data(users: DemoUsers, today: date) -> tuple[MemoryData, PortalService]:
    data = MemoryData()

    def clock() -> datetime:
        return datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=9)

    service = PortalService(data, clock)
    for ref, name, kind in (
        ("site-A", "Северный склад", "half_month"),
        ("site-B", "Южный терминал", "month"),
    ):
        settings = SiteSettings(ref, "org-1", kind, provider_managers=(users.provider,))  # type: ignore[arg-type]
        data.site_rows[ref] = Site(ref, name, RATES.client_of_site[ref], settings)
    data.principals.update(
        {
            users.approver_a: Principal(
                users.approver_a,
                "client_manager",
                "Анна Клиентова",
                {"site-A": frozenset({"timesheet_approver"})},
            ),
            users.submitter_a: Principal(
                users.submitter_a,
                "client_manager",
                "Олег Заказов",
                {"site-A": frozenset({"order_submitter"})},
            ),
            users.approver_b: Principal(
                users.approver_b,
                "client_manager",
                "Борис Южный",
                {"site-B": frozenset({"timesheet_approver"})},
            ),
            users.provider: Principal(users.provider, "provider_manager", "Мария Поставщикова"),
            users.employee: Principal(
                users.employee, "employee", NAMES[0], employee_ref="emp-0", employee_site="site-A"
            ),
        }
    )
    presence = ["clocked_in", "on_break", "late", "absent", "clocked_out", "scheduled"]
    period = period_of("half_month", today - timedelta(days=16))
    for n, name in enumerate(NAMES):
        site = "site-A" if n < 4 else "site-B"
        data.members.append(
            TeamMember(
                f"emp-{n}",
                site,
                name,
                "Комплектовщик" if n % 2 else "Кладовщик",
                resume_url=f"/disk/resumes/emp-{n}.pdf",
                presence=presence[n],
            )
        )
        sheet_period = (
            period if site == "site-A" else Period(period.start.replace(day=1), _month_end(period.start))
        )
        plan = [ScheduleDay(d, Decimal(8) if d.weekday() < 5 else Decimal(0)) for d in sheet_period.days()]
        days = prefill(sheet_period, plan).days
        sheet = Timesheet(
            f"sheet-{n}",
            f"emp-{n}",
            site,
            "org-1",
            sheet_period,
            days,
            employee_name=name,
            position="Кладовщик",
            foreman=f"Бригадир {n % 2 + 1}",
            department="Склад",
        )
        service.open_sheet(sheet)
    # emp-0 fills their own sheet; emp-1..3 are waiting for the client; emp-4..5 on site B too.
    for n in (1, 2, 3, 4, 5):
        owner = Principal(
            B24UserId(9000 + n),
            "employee",
            employee_ref=f"emp-{n}",
            employee_site="site-A" if n < 4 else "site-B",
        )
        record = data.sheet(f"sheet-{n}")
        assert record is not None
        service.save_days(owner, f"sheet-{n}", record.sheet.days, submit=True)
    data.save_order(
        Order(
            "order-1",
            "site-A",
            "order",
            "Водитель погрузчика",
            2,
            today + timedelta(days=7),
            "Смена 8:00–20:00",
            users.submitter_a,
            clock(),
        )
    )
    service.register("Ирина Новикова", "ООО «Северный склад»", "irina@example.test", "+7 916 555-01-02")
    return data, service


def _month_end(day: date) -> date:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def demo_app(
    data: MemoryData,
    service: PortalService,
    verifier: PlacementVerifier,
    *,
    session_secret: str,
    cookie_secure: bool = True,
    prefix: str = "/portal",
) -> FastAPI:
    """A FastAPI app with only the portal mounted (the demo and the browser tests serve it)."""
    app = FastAPI(title="Extranet Bridge portal (demo)")
    settings = PortalSettings(session_secret, cookie_secure=cookie_secure)
    router = create_portal_router(
        data=data, verifier=verifier, settings=settings, rates=RATES, clock=service.clock
    )
    app.include_router(router, prefix=prefix)
    return app
