"""Who is working today: Bitrix24 time tracking joined with the 1C schedule (pure).

``timeman.status`` gives ``STATUS`` OPENED | PAUSED | CLOSED | EXPIRED and ``TIME_START`` (bitrix24-rest.md
§10.3); 1C's ``GetWorkSchedule`` says whether today is a working day. The shift start and the grace
minutes are the site's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

Presence = Literal["day_off", "scheduled", "clocked_in", "on_break", "clocked_out", "absent", "late"]
LABELS: dict[Presence, str] = {
    "day_off": "выходной",
    "scheduled": "по графику",
    "clocked_in": "на работе",
    "on_break": "перерыв",
    "clocked_out": "ушёл",
    "absent": "нет",
    "late": "опаздывает",
}


def presence(
    status: Mapping[str, Any] | None,
    planned_hours: Decimal,
    now: datetime,
    shift_start: time = time(9, 0),
    grace: timedelta = timedelta(minutes=15),
) -> Presence:
    """One word for today; ``now`` is in the site's time zone (aware)."""
    started = _started_today(status, now)
    state = str((status or {}).get("STATUS") or "")
    start = datetime.combine(now.date(), shift_start, now.tzinfo)
    if started is not None:
        if state == "PAUSED":
            return "on_break"
        if state in ("CLOSED", "EXPIRED"):
            return "clocked_out"
        return "late" if planned_hours > 0 and started > start + grace else "clocked_in"
    if planned_hours <= 0:
        return "day_off"
    if now < start + grace:
        return "scheduled"
    end = start + timedelta(hours=float(planned_hours)) + timedelta(hours=1)
    return "absent" if now >= end else "late"


def _started_today(status: Mapping[str, Any] | None, now: datetime) -> datetime | None:
    raw = (status or {}).get("TIME_START")
    if not raw:
        return None
    try:
        started = datetime.fromisoformat(str(raw))
    except ValueError:
        return None
    return started if started.astimezone(now.tzinfo).date() == now.date() else None
