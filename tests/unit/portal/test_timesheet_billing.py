"""Billing: a generated month, exported as CSV and XLSX, sums to exactly the approved hours × rates."""

from __future__ import annotations

import csv
import dataclasses
import io
import random
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from openpyxl import load_workbook

from timesheets.billing import RateCard, billing_lines, counted, summary, to_csv, to_xlsx
from timesheets.model import Day, Period, Timesheet, TimesheetError

MARCH = Period(date(2026, 3, 1), date(2026, 3, 31))
RATES = RateCard(
    {"site-A": "ООО Клиент А", "site-B": "АО Клиент Б"},
    {
        ("site-A", "*"): Decimal("512.50"),
        ("site-A", "РВ"): Decimal("1025.00"),
        ("site-B", "*"): Decimal("433.33"),
    },
)
STATES = ["draft", "awaiting:client", "awaiting:provider", "approved", "submitted", "conflict", "superseded"]


def _generated_month(rng: random.Random) -> list[tuple[Timesheet, str]]:
    sheets = []
    for n in range(60):
        site = "site-A" if n % 2 else "site-B"
        days = []
        for day in MARCH.days():
            if day.weekday() < 5:
                kind = rng.choice(["Я", "Я", "Я", "Н", "НН", "ОТ"])
            else:
                kind = rng.choice(["В", "В", "РВ"] if site == "site-A" else ["В"])
            hours = Decimal(rng.randint(0, 48)) / 4 if kind not in ("В", "НН", "ОТ") else Decimal(0)
            days.append(Day(day, kind, hours.quantize(Decimal("0.01"))))
        sheet = Timesheet(
            f"s{n}",
            f"emp-{n}",
            site,
            "org-1",
            MARCH,
            tuple(days),
            employee_name=f"Сотрудник {n}",
            foreman=f"Бригадир {n % 3}",
            department=f"Участок {n % 4}",
        )
        state = STATES[n % len(STATES)]
        sheets.append((sheet, state))
        if n % 10 == 3:  # an approved sheet corrected: only the later version counts
            fewer = sheet.with_days([Day(date(2026, 3, 2), "НН", Decimal(0))])
            sheets.append((dataclasses.replace(fewer, sheet_id=f"s{n}-2", version=2), "approved"))
    return sheets


def test_export_of_a_generated_month_matches_the_approved_hours_exactly() -> None:
    generated = _generated_month(random.Random(14))
    approved = counted(generated)
    # The expectation, computed independently: worked hours of the latest approved version × the rate.
    latest: dict[str, Timesheet] = {}
    for sheet, state in generated:
        newer = sheet.employee_ref not in latest or latest[sheet.employee_ref].version < sheet.version
        if state in ("approved", "submitted", "conflict") and newer:
            latest[sheet.employee_ref] = sheet
    expected_hours = Decimal(0)
    expected_amount = Decimal(0)
    for sheet in latest.values():
        for day in sheet.days:
            if day.time_kind in ("Я", "Н", "РВ") and day.hours:
                expected_hours += day.hours
        by_kind: dict[str, Decimal] = {}
        for day in sheet.days:
            if day.time_kind in ("Я", "Н", "РВ"):
                by_kind[day.time_kind] = by_kind.get(day.time_kind, Decimal(0)) + day.hours
        for kind, hours in by_kind.items():
            if hours:
                rate = RATES.rates.get((sheet.site_ref, kind), RATES.rates[(sheet.site_ref, "*")])
                expected_amount += (hours * rate).quantize(Decimal("0.01"), ROUND_HALF_UP)  # kopecks, half up
    assert {s.sheet_id for s in approved} == {s.sheet_id for s in latest.values()}
    assert all(s.sheet_id != "s3" for s in approved)  # superseded by its correction s3-2

    lines = billing_lines(approved, RATES)
    rows = list(csv.reader(io.StringIO(to_csv(lines)), delimiter=";"))[1:]
    assert sum(Decimal(r[7]) for r in rows) == expected_hours
    assert sum(Decimal(r[9]) for r in rows) == expected_amount

    book = load_workbook(io.BytesIO(to_xlsx(lines)))
    assert book.active is not None
    cells = list(book.active.iter_rows(min_row=2, values_only=True))
    assert len(cells) == len(rows)
    assert sum(Decimal(str(c[7])) for c in cells) == expected_hours
    assert sum(Decimal(str(c[9])) for c in cells) == expected_amount
    assert expected_hours > 1000  # the month is not trivially empty


def test_a_missing_rate_is_an_error_not_a_zero() -> None:
    sheet = Timesheet(
        "s", "e", "site-C", "org-1", MARCH, tuple(Day(d, "Я", Decimal(8)) for d in MARCH.days())
    )
    with pytest.raises(TimesheetError, match="нет ставки для объекта site-C"):
        billing_lines([sheet], RATES)


def test_summaries_per_department_and_foreman() -> None:
    approved = counted(_generated_month(random.Random(7)))
    by_foreman = summary(approved, "foreman")
    by_department = summary(approved, "department")
    total = sum((s.total() for s in approved), Decimal(0))
    assert sum((r.hours for r in by_foreman), Decimal(0)) == total
    assert sum((r.hours for r in by_department), Decimal(0)) == total
    assert sum(r.employees for r in by_foreman) == len(approved)
    with pytest.raises(TimesheetError):
        summary(approved, "position")


def test_names_never_become_spreadsheet_formulas() -> None:
    days = tuple(Day(d, "Я", Decimal(8)) for d in MARCH.days())
    sheet = Timesheet("s", "emp-x", "site-A", "org-1", MARCH, days, employee_name='=HYPERLINK("http://x")')
    lines = billing_lines([sheet], RATES)
    row = next(csv.reader(io.StringIO(to_csv(lines).splitlines()[1]), delimiter=";"))
    assert row[3] == '\'=HYPERLINK("http://x")'
    book = load_workbook(io.BytesIO(to_xlsx(lines)))
    assert book.active is not None
    cell = book.active.cell(row=2, column=4)
    assert cell.data_type == "s" and str(cell.value).startswith("'=")


def test_a_position_rate_comes_before_the_site_rate() -> None:
    rates = RateCard(
        {"site-A": "ООО Клиент А"},
        {("site-A", "*"): Decimal("500")},
        {("site-A", "Водитель", "*"): Decimal("650"), ("site-A", "Водитель", "РВ"): Decimal("1300")},
    )
    assert rates.rate("site-A", "Я", "Водитель") == Decimal("650")
    assert rates.rate("site-A", "РВ", "Водитель") == Decimal("1300")
    assert rates.rate("site-A", "Я", "Кладовщик") == Decimal("500")
    days = tuple(Day(d, "Я", Decimal(8)) for d in MARCH.days())
    sheet = Timesheet("s", "e", "site-A", "org", MARCH, days, position="Водитель")
    [line] = billing_lines([sheet], rates)
    assert line.amount == Decimal(8 * 31 * 650)
