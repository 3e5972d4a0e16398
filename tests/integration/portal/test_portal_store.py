"""The store-backed PortalData on SQLite and PostgreSQL: people from the existing tables, a timesheet
round stored in process_instances/process_transitions (its chain verifies), orders and registrations."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from config.wiring import Store
from connectors.onec.port import (
    DepartmentRef,
    Employee,
    EmploymentRef,
    OrgRef,
    Person,
    PersonRef,
    Placement,
)
from core.ids import B24UserId
from portal.data import Registration
from portal.models import PortalSite
from portal.service import PortalService
from portal.store import ConcurrentChange, SqlPortalData
from store.models import ClientManager, IdentityLink, SourceRecord
from store.process_repo import ProcessRepository
from sync.source import to_json
from timesheets.lifecycle import SheetEvent, record
from timesheets.model import Day, Timesheet, period_of

NOW = datetime(2026, 3, 20, 9, tzinfo=UTC)
MARCH = period_of("half_month", date(2026, 3, 2))


def _seed(store: Store) -> None:
    person = Person(PersonRef("p-1"), "Иванов", "Пётр", None, None)
    employee = Employee(
        EmploymentRef("e-1"), "0001", PersonRef("p-1"), OrgRef("org-1"), None, False,
        Placement(OrgRef("org-1"), DepartmentRef("site-A"), None, "Main", date(2025, 1, 1), None),
    )  # fmt: skip
    with store.sessions.begin() as session:
        session.add(PortalSite(site_ref="site-A", name="Северный склад", client="ООО Клиент", org_ref="org-1",
                               period_kind="half_month", settings={"deadline_days": 2}))  # fmt: skip
        session.add(ClientManager(email="anna@example.test", name="Анна", site_ref="site-A",
                                  role="timesheet_approver", b24_user_id=20, created_at=NOW))  # fmt: skip
        session.add(IdentityLink(kind="person", source_ref="p-1", b24_id=10, state={}, updated_at=NOW))
        session.add(SourceRecord(entity="Person", ref="p-1", payload=to_json(person), content_hash="x",
                                 updated_at=NOW))  # fmt: skip
        session.add(SourceRecord(entity="Employee", ref="e-1", parent_ref="p-1", payload=to_json(employee),
                                 content_hash="y", updated_at=NOW))  # fmt: skip


def test_people_and_a_timesheet_round_in_the_store(store: Store) -> None:
    _seed(store)
    days = tuple(Day(d, "Я" if d.weekday() < 5 else "В", Decimal(8) if d.weekday() < 5 else Decimal(0))
                 for d in MARCH.days())  # fmt: skip
    clock = iter(NOW + timedelta(minutes=n) for n in range(100))
    with store.sessions.begin() as session:
        data = SqlPortalData(session, provider_managers={B24UserId(30)})
        service = PortalService(data, lambda: next(clock))
        me, client, provider = (
            data.principal(B24UserId(10)),
            data.principal(B24UserId(20)),
            data.principal(B24UserId(30)),
        )
        assert (
            me is not None and me.kind == "employee" and me.employee_ref == "e-1" and me.name == "Иванов Пётр"
        )
        assert client is not None and client.roles == {"site-A": frozenset({"timesheet_approver"})}
        assert provider is not None and provider.kind == "provider_manager"
        assert data.principal(B24UserId(99)) is None
        assert [m.name for m in data.team("site-A")] == ["Иванов Пётр"] and data.team("site-B") == []
        site = data.site("site-A")
        assert (
            site is not None
            and site.settings.period_kind == "half_month"
            and site.settings.deadline_days == 2
        )
        service.open_sheet(
            Timesheet("ts-1", "e-1", "site-A", "org-1", MARCH, days, employee_name="Иванов Пётр")
        )
        service.save_days(me, "ts-1", [Day(date(2026, 3, 3), "Я", Decimal("7.5"))], submit=True)
        service.dispute(client, "ts-1", "3-го было 8 часов")
        service.save_days(me, "ts-1", [Day(date(2026, 3, 3), "Я", Decimal(8))], submit=True)
        service.approve(client, "ts-1")
        service.approve(provider, "ts-1")
    with store.sessions.begin() as session:
        data = SqlPortalData(session)
        stored = data.sheet("ts-1")
        assert stored is not None and stored.state == "approved"
        assert stored.sheet.day(date(2026, 3, 3)).hours == Decimal(8) and stored.sheet.days == days
        assert [t.data["event"] for t in stored.history] == [
            "prefill", "edit", "submit", "dispute", "edit", "submit", "approve", "approve"
        ]  # fmt: skip
        assert ProcessRepository(session).verify("ts-1") is None
        assert [r.sheet.sheet_id for r in data.sheets("site-A")] == ["ts-1"] and data.sheets("site-B") == []
        stale = record("ts-1", stored.history[2], SheetEvent("approve", "20", step="client"), NOW)
        with pytest.raises(ConcurrentChange):
            data.save_sheet(stored.sheet, [stale])


def test_orders_and_registrations_round_trip(store: Store) -> None:
    _seed(store)
    with store.sessions.begin() as session:
        data = SqlPortalData(session)
        service = PortalService(data, lambda: NOW)
        submitter = data.principal(B24UserId(20))
        assert submitter is not None
        submitter = submitter.__class__(
            submitter.user_id, submitter.kind, roles={"site-A": frozenset({"order_submitter"})}
        )
        order = service.create_order(
            submitter,
            "site-A",
            kind="order",
            position="Грузчик",
            headcount="2",
            start="2026-04-01",
            details="",
        )
        service.comment_order(submitter, order.order_id, "Нужны с допуском")
        service.register("Ирина", "ООО Клиент", "Irina@Example.test", "+7 916 555-01-02")
    with store.sessions.begin() as session:
        data = SqlPortalData(session)
        [stored] = data.orders("site-A")
        assert (stored.position, stored.headcount, stored.start) == ("Грузчик", 2, date(2026, 4, 1))
        assert [c.text for c in stored.comments] == ["Нужны с допуском"] and data.orders("site-B") == []
        [registration] = data.registrations()
        assert isinstance(registration, Registration)
        assert (registration.email, registration.phone, registration.status) == (
            "irina@example.test", "+79165550102", "pending"
        )  # fmt: skip
