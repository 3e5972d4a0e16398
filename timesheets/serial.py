"""Days as JSON-ready rows ``[iso date, kind, hours]`` (what transitions and stored sheets keep)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from timesheets.model import Day


def days_to_data(days: Iterable[Day]) -> list[list[str]]:
    return [[d.day.isoformat(), d.time_kind, str(d.hours)] for d in days]


def days_from_data(rows: Sequence[Sequence[str]]) -> list[Day]:
    return [Day(date.fromisoformat(r[0]), str(r[1]), Decimal(str(r[2]))) for r in rows]
