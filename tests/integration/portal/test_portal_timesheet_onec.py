"""A timesheet from pre-fill to 1C through a dispute, a conflict and a correction, against the 1C sandbox.

1C's ``GetWorkSchedule`` pre-fills the sheet (with one day clocked in Bitrix24 time tracking); the
employee submits; the client approver disputes with a proposal; the employee resubmits; both approvals;
``SubmitTimesheet`` finds sick-leave days worked → conflicts to the provider manager; a correction
(version 2, sick days as Б) goes round again, 1C replaces its document, the first version is superseded
and only version 2 is billed. Both histories verify.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from config.settings import OneCSettings, Settings
from connectors.onec import build_onec
from connectors.onec.connector import OneCConnector, RetryPolicy
from connectors.onec.port import Employee
from core.ids import B24UserId
from portal.access import Principal
from portal.data import MemoryData
from portal.service import PortalService
from processes.engine import verify_chain
from sandbox.onec.testing import RunningSandbox, onec_sandbox
from timesheets.billing import RateCard, billing_lines, counted
from timesheets.model import Day, Timesheet, period_of
from timesheets.onec import outcomes, submissions
from timesheets.prefill import clocked_days, prefill

TODAY = date(2026, 3, 2)
FAST = RetryPolicy(attempts=3, initial_wait=0, max_wait=0, jitter=0)


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with onec_sandbox(seed=7, employees=60, today=TODAY, frozen_clock=True) as sb:
        yield sb


@pytest.fixture
async def onec(sandbox: RunningSandbox) -> AsyncIterator[OneCConnector]:
    values = {"endpoint": sandbox.endpoint, "username": sandbox.user, "password": sandbox.password}
    connector = build_onec(Settings(onec=OneCSettings(**values)), retry=FAST)
    yield connector
    await connector.close()


async def _employee(onec: OneCConnector) -> Employee:
    async for page in onec.snapshot("Employee"):
        for record in page:
            if not isinstance(record, Employee):
                continue
            current = record.current
            if current and current.department_ref and not current.dismissal_date:
                return record
    raise AssertionError("the sandbox has no active employee")


async def _send(onec: OneCConnector, service: PortalService, sheets: list[Timesheet]) -> list[str]:
    statuses: list[str] = []
    for part in submissions(sheets):
        result = await onec.submit_timesheet(part.value)
        statuses.append(result.status)
        for outcome in outcomes(part, result):
            service.record_onec(outcome)
    return statuses


async def test_prefill_dispute_conflict_correction_to_1c(
    sandbox: RunningSandbox, onec: OneCConnector
) -> None:
    employee = await _employee(onec)
    assert employee.current is not None and employee.current.department_ref is not None
    site, org = str(employee.current.department_ref), str(employee.current.org_ref)
    april = period_of("month", date(2026, 4, 1))
    sandbox.knobs.add_absence(employee.ref, "SickLeave", "2026-04-06", "2026-04-08")

    schedule = (await onec.work_schedule([employee.ref], april.start, april.end))[employee.ref]
    clocked = clocked_days([{"startTime": "2026-04-01T08:00:00+03:00", "endTime": "2026-04-01T18:00:00+03:00",
                             "duration": 36000, "breakLength": 3600}])  # fmt: skip
    draft = prefill(april, schedule, clocked)
    assert draft.days[0].hours == Decimal("9.00") and draft.sources[date(2026, 4, 1)] == "timeman"
    assert sum(d.hours for d in draft.days) > 0

    data = MemoryData()
    moments = iter(datetime(2026, 5, 1, 9, tzinfo=UTC) + timedelta(minutes=n) for n in range(1000))
    service = PortalService(data, lambda: next(moments))
    me = Principal(B24UserId(10), "employee", employee_ref=employee.ref, employee_site=site)
    client = Principal(B24UserId(20), "client_manager", roles={site: frozenset({"timesheet_approver"})})
    provider = Principal(B24UserId(30), "provider_manager")
    sheet = Timesheet("ts-1", employee.ref, site, org, april, draft.days, employee_name="Сотрудник")
    service.open_sheet(sheet)

    service.save_days(me, "ts-1", [], submit=True)
    worked = next(d for d in draft.days if d.hours and d.day.day > 10)
    service.dispute(client, "ts-1", "не было на объекте", [Day(worked.day, "НН", Decimal(0))])
    service.save_days(me, "ts-1", [Day(worked.day, "НН", Decimal(0))], submit=True)
    service.approve(client, "ts-1")
    approved = service.approve(provider, "ts-1")
    assert approved.state == "approved"

    assert await _send(onec, service, [approved.sheet]) == ["Created"]
    conflicted = data.sheet("ts-1")
    assert conflicted is not None and conflicted.state == "conflict"
    conflict_days = [row[0] for row in conflicted.history[-1].data["conflicts"]]
    sick = list(conflict_days)
    assert sick and set(sick) <= {"2026-04-06", "2026-04-07", "2026-04-08"}

    correction = service.correct(provider, "ts-1")
    v2 = correction.sheet.sheet_id
    sick_days = [Day(date.fromisoformat(d), "Б", Decimal(0)) for d in sick]
    service.save_days(me, v2, sick_days, submit=True)
    service.approve(client, v2)
    final = service.approve(provider, v2)
    assert data.sheet("ts-1").state == "superseded"  # type: ignore[union-attr]
    assert await _send(onec, service, [final.sheet]) == ["Replaced"]
    assert data.sheet(v2).state == "submitted"  # type: ignore[union-attr]
    assert len(sandbox.knobs.timesheets()) == 1

    for record in (data.sheet("ts-1"), data.sheet(v2)):
        assert record is not None and verify_chain(record.sheet.sheet_id, record.history) is None
    billed = counted((r.sheet, r.state) for r in data.sheets())
    assert [s.sheet_id for s in billed] == [v2]
    lines = billing_lines(billed, RateCard({site: "Клиент"}, {(site, "*"): Decimal("500")}))
    assert sum(line.hours for line in lines) == final.sheet.total()
