"""Clocked days from Bitrix24 time tracking refresh a draft; a day the employee edited keeps their hours."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from core.ids import B24UserId
from portal.access import Principal
from portal.data import MemoryData
from portal.service import PortalService
from timesheets.model import Day, Timesheet, period_of
from timesheets.prefill import clocked_from_status

SUBMITTED = datetime(2026, 3, 5, 10, tzinfo=UTC)


def test_a_clocked_day_refreshes_a_draft_but_never_a_day_the_employee_edited() -> None:
    period = period_of("week", date(2026, 3, 2))
    days = tuple(Day(d, "Я", Decimal(8)) for d in period.days())
    data = MemoryData()
    service = PortalService(data, lambda: SUBMITTED)
    service.open_sheet(Timesheet("s", "emp", "site-A", "org", period, days))
    me = Principal(B24UserId(10), "employee", employee_ref="emp", employee_site="site-A")
    service.save_days(me, "s", [Day(date(2026, 3, 3), "Я", Decimal(6))], submit=False)
    clocked = [Day(date(2026, 3, 2), "Я", Decimal("9.25")), Day(date(2026, 3, 3), "Я", Decimal(10))]
    refreshed = service.refresh_days("s", clocked, "bridge:timeman")
    assert refreshed is not None
    assert refreshed.sheet.day(date(2026, 3, 2)).hours == Decimal("9.25")
    assert refreshed.sheet.day(date(2026, 3, 3)).hours == Decimal(6)  # the employee's word wins
    assert service.refresh_days("s", clocked, "bridge:timeman") is None  # nothing new: no record


def test_a_closed_workday_of_timeman_status_is_a_clocked_day() -> None:
    closed = {"STATUS": "CLOSED", "TIME_START": "2026-03-02T08:00:01+03:00", "DURATION": "08:30:00"}
    day = clocked_from_status(closed)
    assert day is not None and day.day == date(2026, 3, 2) and day.worked_seconds == 8 * 3600 + 1800
    assert clocked_from_status({**closed, "STATUS": "OPENED"}) is None
    assert clocked_from_status({**closed, "DURATION": "soon"}) is None
    assert clocked_from_status(None) is None
