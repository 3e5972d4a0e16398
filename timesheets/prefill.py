"""The first draft of a timesheet: 1C's planned hours, replaced by clocked hours where Bitrix24 has them.

Inputs are what the connectors return: ``ScheduleDay`` items of 1C's ``GetWorkSchedule`` (planned hours
per day, 0 outside the employment; docs/onec-contract.md) and the employee's Bitrix24 time-tracking
records (REST 3.0 ``timeman.record.list``: ``startTime``, ``endTime``, ``duration`` and ``breakLength`` in
seconds; bitrix24-rest.md §10.3). A day with a closed record is worked for its duration minus breaks; an
open record (the day is still running) leaves the plan. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from connectors.onec.port import ScheduleDay
from timesheets.model import DAY_OFF, MAX_HOURS, WORK, Day, Period, TimesheetError

Source = Literal["schedule", "timeman"]
_HOUR = Decimal(3600)
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class ClockedDay:
    """One closed Bitrix24 work day: when it started and how many seconds were worked."""

    day: date
    worked_seconds: int


def clocked_days(items: Iterable[Mapping[str, Any]]) -> list[ClockedDay]:
    """``timeman.record.list`` items → closed days (open days and unreadable rows are left out)."""
    days: list[ClockedDay] = []
    for item in items:
        start, end = item.get("startTime"), item.get("endTime")
        if not start or not end:
            continue
        try:
            started = datetime.fromisoformat(str(start))
            duration = int(item.get("duration") or 0)
            pause = int(item.get("breakLength") or 0)
        except (TypeError, ValueError):
            continue
        days.append(ClockedDay(started.date(), max(duration - pause, 0)))
    return days


@dataclass(frozen=True, slots=True)
class Prefill:
    days: tuple[Day, ...]
    sources: dict[date, Source]


def prefill(period: Period, schedule: Sequence[ScheduleDay], clocked: Sequence[ClockedDay] = ()) -> Prefill:
    """One day per day of the period: clocked hours where a closed record exists, else the plan."""
    planned = {s.day: s.hours for s in schedule}
    worked: dict[date, int] = {}
    for record in clocked:
        worked[record.day] = worked.get(record.day, 0) + record.worked_seconds
    days: list[Day] = []
    sources: dict[date, Source] = {}
    for day in period.days():
        if day in worked:
            hours = min((Decimal(worked[day]) / _HOUR).quantize(_CENT, ROUND_HALF_UP), MAX_HOURS)
            sources[day] = "timeman"
        else:
            hours = planned.get(day, Decimal(0))
            if hours < 0 or hours > MAX_HOURS:
                raise TimesheetError(f"{day:%d.%m.%Y}: 1С вернула {hours} ч по графику")
            sources[day] = "schedule"
        days.append(Day(day, WORK if hours > 0 else DAY_OFF, hours.quantize(_CENT)))
    return Prefill(tuple(days), sources)


def clocked_from_status(status: Mapping[str, Any] | None) -> ClockedDay | None:
    """A closed workday of ``timeman.status`` (``STATUS`` CLOSED, ``TIME_START``, ``DURATION`` "HH:MM:SS" —
    the worked time without breaks; bitrix24-rest.md §10.3) as a clocked day; None while it is open."""
    if not status or status.get("STATUS") != "CLOSED" or not status.get("TIME_START"):
        return None
    try:
        started = datetime.fromisoformat(str(status["TIME_START"]))
        hours, minutes, seconds = (int(part) for part in str(status.get("DURATION") or "").split(":"))
    except ValueError:
        return None
    return ClockedDay(started.date(), hours * 3600 + minutes * 60 + seconds)
