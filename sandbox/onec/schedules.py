"""Work schedules (графики работы) and the planned hours they give per day.

Owns the few schedules the generated company uses and the Russian public holidays; GetWorkSchedule and
the timesheet checks read planned hours from here. Pure functions.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

# (name as in 1C, kind, hours per working day)
SCHEDULES: tuple[tuple[str, str, Decimal], ...] = (
    ("Пятидневка (40 ч)", "five", Decimal(8)),
    ("Пятидневка (20 ч)", "five", Decimal(4)),
    ("Сменный 2/2 (11 ч)", "shift", Decimal(11)),
    ("Шестидневка (36 ч)", "six", Decimal(6)),
)
FULL_TIME, HALF_TIME, SHIFT_2_2, SIX_DAY = range(4)

# Non-working public holidays (Labour Code art. 112); the yearly moved days are not modelled.
HOLIDAYS: frozenset[tuple[int, int]] = frozenset(
    [(1, d) for d in range(1, 9)] + [(2, 23), (3, 8), (5, 1), (5, 9), (6, 12), (11, 4)]
)
ZERO = Decimal(0)


def planned_hours(schedule: int, day: date, phase: int = 0) -> Decimal:
    """Planned hours of ``day`` under ``schedule``; ``phase`` shifts a 2/2 rota per employee."""
    _name, kind, hours = SCHEDULES[schedule]
    if kind == "shift":
        return hours if (day.toordinal() + phase) % 4 < 2 else ZERO
    if (day.month, day.day) in HOLIDAYS:
        return ZERO
    weekday = day.weekday()
    if kind == "six":
        return hours if weekday < 6 else ZERO
    return hours if weekday < 5 else ZERO


def phase_of(ref: str) -> int:
    """A stable 2/2 phase per employee, taken from its GUID."""
    return int(ref[:2], 16) % 4
