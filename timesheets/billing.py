"""Approved hours × configured rates, and the summaries a provider manager reads (pure, Decimal).

Only approved versions count (``lifecycle.APPROVED``), and of an employee's period only the latest
approved version (a correction supersedes the one it corrects). A worked hour with no configured rate is
an error naming the site and the time kind — never a silent zero on an invoice. CSV and XLSX carry the
same rows; XLSX amounts are numbers with two decimals (openpyxl).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from openpyxl import Workbook

from core.spreadsheet import safe_cell
from timesheets.lifecycle import APPROVED
from timesheets.model import WORKED_KINDS, Period, Timesheet, TimesheetError

_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class RateCard:
    """Hourly rates, the most specific first: ``(site_ref, position, time_kind)``, ``(site_ref, position,
    "*")`` of ``by_position``, then ``(site_ref, time_kind)``, ``(site_ref, "*")`` of ``rates``."""

    client_of_site: Mapping[str, str]
    """site_ref → client name (the invoice's addressee)."""
    rates: Mapping[tuple[str, str], Decimal]
    by_position: Mapping[tuple[str, str, str], Decimal] = field(default_factory=dict)

    def rate(self, site_ref: str, time_kind: str, position: str = "") -> Decimal:
        found = self.by_position.get((site_ref, position, time_kind))
        if found is None:
            found = self.by_position.get((site_ref, position, "*"))
        if found is None:
            found = self.rates.get((site_ref, time_kind), self.rates.get((site_ref, "*")))
        if found is None:
            raise TimesheetError(f"нет ставки для объекта {site_ref}, вид времени «{time_kind}»")
        return found


@dataclass(frozen=True, slots=True)
class BillingLine:
    client: str
    site_ref: str
    employee_ref: str
    employee_name: str
    period: Period
    time_kind: str
    hours: Decimal
    rate: Decimal
    amount: Decimal


def counted(sheets: Iterable[tuple[Timesheet, str]]) -> list[Timesheet]:
    """Of (sheet, state) pairs: the latest approved version per employee and period."""
    best: dict[tuple[str, str, Period], Timesheet] = {}
    for sheet, state in sheets:
        if state not in APPROVED:
            continue
        key = (sheet.employee_ref, sheet.site_ref, sheet.period)
        if key not in best or best[key].version < sheet.version:
            best[key] = sheet
    return sorted(best.values(), key=lambda s: (s.site_ref, s.period, s.employee_ref))


def billing_lines(sheets: Sequence[Timesheet], rates: RateCard) -> list[BillingLine]:
    """One line per (site, employee, period, worked time kind) of approved sheets."""
    lines = []
    for sheet in sheets:
        hours: dict[str, Decimal] = defaultdict(Decimal)
        for day in sheet.days:
            if day.time_kind in WORKED_KINDS and day.hours:
                hours[day.time_kind] += day.hours
        for kind in sorted(hours):
            rate = rates.rate(sheet.site_ref, kind, sheet.position)
            amount = (hours[kind] * rate).quantize(_CENT, ROUND_HALF_UP)
            client = rates.client_of_site.get(sheet.site_ref, "")
            lines.append(
                BillingLine(
                    client,
                    sheet.site_ref,
                    sheet.employee_ref,
                    sheet.employee_name,
                    sheet.period,
                    kind,
                    hours[kind],
                    rate,
                    amount,
                )
            )
    return lines


@dataclass(frozen=True, slots=True)
class SummaryRow:
    group: str
    employees: int
    hours: Decimal


def summary(sheets: Sequence[Timesheet], by: str) -> list[SummaryRow]:
    """Worked hours per ``department`` or ``foreman`` (sheets without one are under «—»)."""
    if by not in ("department", "foreman"):
        raise TimesheetError("сводка строится по подразделению или по бригадиру")
    hours: dict[str, Decimal] = defaultdict(Decimal)
    people: dict[str, set[str]] = defaultdict(set)
    for sheet in sheets:
        group = (sheet.department if by == "department" else sheet.foreman) or "—"
        hours[group] += sheet.total()
        people[group].add(sheet.employee_ref)
    return [SummaryRow(g, len(people[g]), hours[g]) for g in sorted(hours)]


HEADER = (
    "Клиент",
    "Объект",
    "Сотрудник",
    "ФИО",
    "Период с",
    "Период по",
    "Вид времени",
    "Часы",
    "Ставка",
    "Сумма",
)


def _row(line: BillingLine) -> tuple[str, str, str, str, str, str, str, Decimal, Decimal, Decimal]:
    return (
        safe_cell(line.client),
        safe_cell(line.site_ref),
        safe_cell(line.employee_ref),
        safe_cell(line.employee_name),
        line.period.start.isoformat(),
        line.period.end.isoformat(),
        line.time_kind,
        line.hours,
        line.rate,
        line.amount,
    )


def to_csv(lines: Sequence[BillingLine]) -> str:
    """Semicolon-separated (what a Russian Excel opens), amounts with a dot."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(_row(line) for line in lines)
    return out.getvalue()


def to_xlsx(lines: Sequence[BillingLine]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Начисления"
    sheet.append(HEADER)
    for line in lines:
        sheet.append(_row(line))
        for column in range(1, 8):
            sheet.cell(row=sheet.max_row, column=column).data_type = "s"  # never a formula
        for column in (8, 9, 10):
            sheet.cell(row=sheet.max_row, column=column).number_format = "0.00"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
