"""What a timesheet is: one employee, one period, one version, a row of days.

A site sets its period kind (``week``, ``half_month``, ``month``). A version is immutable once approved:
a correction is a new version (``version + 1``, ``corrects`` = the sheet it replaces) with its own
approvals. Hours are ``Decimal`` (1C's ``INVALID_HOURS`` accepts 0..24 with two decimals).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from core.ids import B24UserId

PeriodKind = Literal["week", "half_month", "month"]
PERIOD_KINDS: tuple[PeriodKind, ...] = ("week", "half_month", "month")

# 1C's ВидыИспользованияРабочегоВремени letter codes (docs/onec-contract.md, SubmitTimesheet).
WORK = "Я"
DAY_OFF = "В"
ABSENT = "НН"
TIME_KINDS: dict[str, str] = {
    "Я": "явка",
    "Н": "ночные часы",
    "С": "сверхурочные",
    "РВ": "работа в выходной",
    "В": "выходной",
    "НН": "неявка",
    "ОТ": "отпуск",
    "Б": "больничный",
    "К": "командировка",
    "ДО": "отпуск без сохранения оплаты",
}
WORKED_KINDS = frozenset({"Я", "Н", "С", "РВ"})
"""Kinds whose hours are worked hours (the basis for billing)."""
MAX_HOURS = Decimal(24)


class TimesheetError(ValueError):
    """A timesheet value breaks a rule; the message is one Russian line the person can act on."""


@dataclass(frozen=True, slots=True, order=True)
class Period:
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise TimesheetError(f"период: конец {self.end:%d.%m.%Y} раньше начала {self.start:%d.%m.%Y}")

    def days(self) -> Iterator[date]:
        day = self.start
        while day <= self.end:
            yield day
            day += timedelta(days=1)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    @property
    def label(self) -> str:
        return f"{self.start:%d.%m.%Y}–{self.end:%d.%m.%Y}"

    def key(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def period_of(kind: PeriodKind, day: date) -> Period:
    """The period of ``kind`` that contains ``day`` (weeks start on Monday; half-months are 1–15, 16–end)."""
    last = calendar.monthrange(day.year, day.month)[1]
    if kind == "month":
        return Period(day.replace(day=1), day.replace(day=last))
    if kind == "half_month":
        if day.day <= 15:
            return Period(day.replace(day=1), day.replace(day=15))
        return Period(day.replace(day=16), day.replace(day=last))
    monday = day - timedelta(days=day.weekday())
    return Period(monday, monday + timedelta(days=6))


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    time_kind: str
    hours: Decimal

    def __post_init__(self) -> None:
        if self.time_kind not in TIME_KINDS:
            raise TimesheetError(f"{self.day:%d.%m.%Y}: неизвестный вид времени «{self.time_kind}»")
        if not Decimal(0) <= self.hours <= MAX_HOURS or self.hours != self.hours.quantize(Decimal("0.01")):
            raise TimesheetError(f"{self.day:%d.%m.%Y}: часы должны быть от 0 до 24, не больше двух знаков")


@dataclass(frozen=True, slots=True)
class SiteSettings:
    """Per site (a 1C department the client's people work at)."""

    site_ref: str
    org_ref: str
    period_kind: PeriodKind = "month"
    client_approvers: tuple[B24UserId, ...] = ()
    """Bitrix24 user ids of the site's timesheet approvers."""
    alternate_approvers: tuple[B24UserId, ...] = ()
    provider_managers: tuple[B24UserId, ...] = ()
    deadline_days: int = 3
    """Working days after submission before the alternate approver takes over."""
    remind_before_days: int = 1


@dataclass(frozen=True, slots=True)
class Timesheet:
    """One version of one employee's timesheet for one period."""

    sheet_id: str
    employee_ref: str
    """The 1C employment (Сотрудник) ref: the row key of SubmitTimesheet."""
    site_ref: str
    org_ref: str
    period: Period
    days: tuple[Day, ...]
    version: int = 1
    corrects: str | None = None
    """The sheet id this version replaces (a correction of an approved timesheet)."""
    foreman: str | None = None
    department: str | None = None
    """For summaries: the foreman's name and the department (brigade) inside the site, if kept."""
    employee_name: str = ""
    position: str = ""
    labels: dict[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        check_days(self.period, self.days)

    def day(self, day: date) -> Day:
        return next(d for d in self.days if d.day == day)

    def with_days(self, changes: Iterable[Day]) -> Timesheet:
        """The same version with some days replaced (the employee's corrections)."""
        by_day = {d.day: d for d in self.days}
        for change in changes:
            if change.day not in by_day:
                raise TimesheetError(f"{change.day:%d.%m.%Y} вне периода {self.period.label}")
            by_day[change.day] = change
        return replace(self, days=tuple(by_day[d] for d in self.period.days()))

    def total(self, kinds: frozenset[str] = WORKED_KINDS) -> Decimal:
        return sum((d.hours for d in self.days if d.time_kind in kinds), Decimal(0))


def check_days(period: Period, days: tuple[Day, ...]) -> None:
    """Exactly one entry per day of the period, in order."""
    expected = list(period.days())
    got = [d.day for d in days]
    if got != expected:
        missing = sorted(set(expected) - set(got))
        extra = sorted(set(got) - set(expected))
        if missing:
            raise TimesheetError(f"нет дня {missing[0]:%d.%m.%Y} периода {period.label}")
        if extra:
            raise TimesheetError(f"день {extra[0]:%d.%m.%Y} вне периода {period.label}")
        raise TimesheetError(f"дни периода {period.label} повторяются или не по порядку")
