"""The days that differ between two versions of a timesheet, side by side (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from timesheets.model import Day


@dataclass(frozen=True, slots=True)
class DayChange:
    day: date
    before: Day | None
    after: Day | None


def changed_days(before: Sequence[Day], after: Sequence[Day]) -> list[DayChange]:
    """Each day whose kind or hours changed (or which exists on one side only), in date order."""
    old = {d.day: d for d in before}
    new = {d.day: d for d in after}
    changes = []
    for day in sorted(old.keys() | new.keys()):
        a, b = old.get(day), new.get(day)
        if a is None or b is None or (a.time_kind, a.hours) != (b.time_kind, b.hours):
            changes.append(DayChange(day, a, b))
    return changes
