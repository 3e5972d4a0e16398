"""Timesheets: periods, pre-fill, the lifecycle with its hash chain, diffs, 1C submissions and conflicts."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from connectors.onec.port import (
    BusinessError,
    EmploymentRef,
    ScheduleDay,
    TimesheetConflict,
    TimesheetResult,
)
from processes.engine import IllegalTransition, Transition, verify_chain
from timesheets.diff import changed_days
from timesheets.lifecycle import (
    SheetEvent,
    dispute_diff,
    is_locked,
    record,
    resubmission_diff,
)
from timesheets.model import Day, Period, Timesheet, TimesheetError, period_of
from timesheets.onec import outcomes, submissions
from timesheets.prefill import clocked_days, prefill
from timesheets.serial import days_to_data

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_periods_by_kind() -> None:
    assert period_of("month", date(2026, 2, 10)) == Period(date(2026, 2, 1), date(2026, 2, 28))
    assert period_of("half_month", date(2026, 2, 15)) == Period(date(2026, 2, 1), date(2026, 2, 15))
    assert period_of("half_month", date(2026, 2, 16)) == Period(date(2026, 2, 16), date(2026, 2, 28))
    week = period_of("week", date(2026, 3, 1))  # a Sunday
    assert week == Period(date(2026, 2, 23), date(2026, 3, 1))


def test_prefill_takes_the_plan_and_replaces_it_with_clocked_hours() -> None:
    period = Period(date(2026, 3, 2), date(2026, 3, 8))
    plan = [ScheduleDay(d, Decimal(8) if d.weekday() < 5 else Decimal(0)) for d in period.days()]
    records = clocked_days(
        [
            {
                "startTime": "2026-03-02T08:00:00+03:00",
                "endTime": "2026-03-02T17:30:00+03:00",
                "duration": 34200,
                "breakLength": 1800,
            },
            {"startTime": "2026-03-03T08:00:00+03:00", "endTime": None, "duration": 0},  # still open
        ]
    )
    result = prefill(period, plan, records)
    assert result.days[0] == Day(date(2026, 3, 2), "Я", Decimal("9.00"))
    assert result.sources[date(2026, 3, 2)] == "timeman"
    assert result.days[1] == Day(date(2026, 3, 3), "Я", Decimal("8.00"))
    assert result.sources[date(2026, 3, 3)] == "schedule"
    assert result.days[5] == Day(date(2026, 3, 7), "В", Decimal("0.00"))


def test_days_must_cover_the_period_and_hours_be_sane() -> None:
    period = Period(date(2026, 3, 1), date(2026, 3, 2))
    with pytest.raises(TimesheetError, match=r"нет дня 02\.03\.2026"):
        Timesheet("s", "e", "site", "org", period, (Day(date(2026, 3, 1), "Я", Decimal(8)),))
    with pytest.raises(TimesheetError, match="от 0 до 24"):
        Day(date(2026, 3, 1), "Я", Decimal(25))
    with pytest.raises(TimesheetError, match="неизвестный вид"):
        Day(date(2026, 3, 1), "XX", Decimal(1))


def _sheet(period: Period, hours: int = 8, employee: str = "emp-1", version: int = 1) -> Timesheet:
    days = tuple(
        Day(d, "Я" if d.weekday() < 5 else "В", Decimal(hours) if d.weekday() < 5 else Decimal(0))
        for d in period.days()
    )
    return Timesheet(f"{employee}-v{version}", employee, "site-A", "org-1", period, days, version=version)


def _run(sheet_id: str, events: list[SheetEvent]) -> list[Transition]:
    history: list[Transition] = []
    for n, event in enumerate(events):
        history.append(record(sheet_id, history[-1] if history else None, event, AT + timedelta(minutes=n)))
    return history


def test_dispute_goes_back_to_the_employee_with_the_days_side_by_side() -> None:
    period = Period(date(2026, 3, 2), date(2026, 3, 8))
    sheet = _sheet(period)
    fixed = sheet.with_days([Day(date(2026, 3, 4), "НН", Decimal(0))])
    proposed = days_to_data(fixed.days)
    history = _run(
        sheet.sheet_id,
        [
            SheetEvent("prefill", "bridge"),
            SheetEvent("submit", "u:10", data={"days": days_to_data(sheet.days)}),
            SheetEvent("dispute", "u:20", "04.03 не был на объекте", "client", {"proposed": proposed}),
        ],
    )
    assert history[-1].to_state == "draft"
    [change] = dispute_diff(history)
    assert change.day == date(2026, 3, 4) and change.before and change.after
    assert (change.before.time_kind, change.after.time_kind) == ("Я", "НН")
    more = [
        SheetEvent("submit", "u:10", data={"days": days_to_data(fixed.days)}),
        SheetEvent("approve", "u:20", step="client"),
        SheetEvent("approve", "u:30", step="provider"),
    ]
    for event in more:
        history.append(record(sheet.sheet_id, history[-1], event, AT + timedelta(hours=len(history))))
    assert [c.day for c in resubmission_diff(history)] == [date(2026, 3, 4)]
    assert history[-1].to_state == "approved" and is_locked("approved")
    assert verify_chain(sheet.sheet_id, history) is None
    with pytest.raises(IllegalTransition):
        record(sheet.sheet_id, history[-1], SheetEvent("edit", "u:10"), AT)


def test_a_dispute_needs_a_reason_and_the_right_step() -> None:
    history = _run("s", [SheetEvent("prefill", "bridge"), SheetEvent("submit", "u:10")])
    with pytest.raises(IllegalTransition, match="needs a reason"):
        record("s", history[-1], SheetEvent("dispute", "u:20", "  ", "client"), AT)
    with pytest.raises(IllegalTransition, match="while awaiting 'client'"):
        record("s", history[-1], SheetEvent("approve", "u:30", step="provider"), AT)


def test_an_edited_record_breaks_the_chain() -> None:
    history = _run(
        "s",
        [
            SheetEvent("prefill", "bridge"),
            SheetEvent("submit", "u:10"),
            SheetEvent("approve", "u:20", step="client"),
        ],
    )
    forged = [history[0], dataclasses.replace(history[1], actor="u:99"), history[2]]
    broken = verify_chain("s", forged)
    assert broken is not None and broken.seq == 2


def test_a_week_across_a_month_end_is_two_1c_documents_and_ids_are_stable() -> None:
    period = Period(date(2026, 3, 30), date(2026, 4, 5))
    sheets = [_sheet(period, employee="emp-2"), _sheet(period, employee="emp-1")]
    parts = submissions(sheets)
    assert [(p.value.period_from, p.value.period_to) for p in parts] == [
        (date(2026, 3, 30), date(2026, 3, 31)),
        (date(2026, 4, 1), date(2026, 4, 5)),
    ]
    assert [r.employee_ref for r in parts[0].value.rows] == ["emp-1", "emp-2"]
    assert sum(len(r.days) for r in parts[1].value.rows) == 10
    assert submissions(sheets)[0].value.request_id == parts[0].value.request_id
    corrected = [sheets[0], _sheet(period, employee="emp-1", version=2)]
    assert submissions(corrected)[0].value.request_id != parts[0].value.request_id


def test_conflicts_come_back_to_their_sheet_and_a_refusal_fails_all() -> None:
    period = Period(date(2026, 3, 1), date(2026, 3, 31))
    [part] = submissions([_sheet(period, employee="emp-1"), _sheet(period, employee="emp-2")])
    conflict = TimesheetConflict(
        EmploymentRef("emp-2"), date(2026, 3, 10), "Отпуск 00ЗУ-000123 от 02.03.2026"
    )
    result = TimesheetResult(part.value.request_id, "Created", "doc", (conflict,))
    answers = {o.sheet_id: o for o in outcomes(part, result)}
    assert answers["emp-1-v1"].event == "onec_accepted"
    assert answers["emp-2-v1"].event == "onec_conflicts"
    assert "10.03 — Отпуск 00ЗУ-000123" in (answers["emp-2-v1"].reason or "")
    refused = TimesheetResult(
        part.value.request_id, "Rejected", None, (), (BusinessError("INVALID_HOURS", "25"),)
    )
    assert {o.event for o in outcomes(part, refused)} == {"onec_failed"}


def test_the_conflict_path_and_a_correction_version() -> None:
    history = _run(
        "s1",
        [
            SheetEvent("prefill", "bridge"),
            SheetEvent("submit", "u:10"),
            SheetEvent("approve", "u:20", step="client"),
            SheetEvent("approve", "u:30", step="provider"),
            SheetEvent("onec_conflicts", "1c", "дни заняты", data={"conflicts": [["2026-03-10", "Отпуск"]]}),
            SheetEvent("resolve", "u:30", "день оставлен за отпуском"),
            SheetEvent("superseded", "bridge", data={"by": "s2"}),
        ],
    )
    assert [r.to_state for r in history][-3:] == ["conflict", "submitted", "superseded"]
    assert verify_chain("s1", history) is None
    with pytest.raises(IllegalTransition, match="needs a reason"):
        record("s1", history[4], SheetEvent("resolve", "u:30"), AT)


def test_changed_days_lists_only_differences() -> None:
    a = [Day(date(2026, 3, 1), "Я", Decimal(8)), Day(date(2026, 3, 2), "Я", Decimal(8))]
    b = [Day(date(2026, 3, 1), "Я", Decimal(8)), Day(date(2026, 3, 2), "Я", Decimal("7.5"))]
    assert [c.day for c in changed_days(a, b)] == [date(2026, 3, 2)]
