"""``timeman.status/open/close/pause``: each user's workday on the portal clock.

Owns the workday records (status, start, finish, breaks) and the documented answers and errors.
Dates are the portal clock in UTC (TZ_OFFSET 0). ``set_workday`` is not offered: tests drive the
clock with ``/_sandbox/clock``.
Sources: ../shared/reference/bitrix24-rest.md §10.3; api-reference/timeman/base/timeman-*.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.bitrix24.core import CallContext, RestError, method
from sandbox.bitrix24.procs_common import as_int, empty, is_admin, iso, lock, now, parse_datetime, slot, upper


@dataclass
class Day:
    status: str = "CLOSED"
    start: float | None = None
    finish: float | None = None
    paused_at: float | None = None
    leaks: float = 0.0
    active: bool = True
    geo: dict[str, float] = field(
        default_factory=lambda: {"LAT_OPEN": 0, "LON_OPEN": 0, "LAT_CLOSE": 0, "LON_CLOSE": 0}
    )


def _days(portal: Any) -> dict[int, Day]:
    return slot(portal, "timeman", dict)


def _date(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).date().isoformat()


def _hms(seconds: float) -> str:
    total = max(int(seconds), 0)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def _user(ctx: CallContext, p: dict[str, Any]) -> int:
    """USER_ID defaults to the caller; someone else's day needs the right to edit it (§10.3).

    An extranet caller is refused with 403 ``allowed_only_intranet_user`` (b24pysdk
    tests/integration/errors/test_errors.py: timeman.status through an extranet user's webhook; the code
    as the intranet module's IntranetUser action filter and the crm docs spell it; the SDK compares it
    case-insensitively)."""
    me = ctx.portal.user(ctx.caller.user_id)
    if me is not None and me.extranet:
        raise RestError("allowed_only_intranet_user", "Action allowed only for intranet users", 403)
    uid = as_int(p.get("USER_ID"), ctx.caller.user_id) if not empty(p.get("USER_ID")) else ctx.caller.user_id
    if ctx.portal.user(uid) is None:
        raise RestError("", "User not found")  # timeman-*.md: empty code, "User not found"
    if uid != ctx.caller.user_id and not is_admin(ctx):
        raise RestError("ACCESS_DENIED", "Access denied", 403)
    return uid


def _state_of(portal: Any, day: Day) -> str:
    # timeman-status.md: EXPIRED = opened before the start of the current calendar day and not closed.
    if day.status in ("OPENED", "PAUSED") and day.start is not None and _date(day.start) < _date(now(portal)):
        return "EXPIRED"
    return day.status


def _view(portal: Any, day: Day) -> dict[str, Any]:
    """The workday object of timeman-status.md."""
    status = _state_of(portal, day)
    finished = day.status == "CLOSED" and day.start is not None and day.finish is not None
    out: dict[str, Any] = {
        "STATUS": status,
        "TIME_START": iso(day.start) if day.start is not None else None,
        "TIME_FINISH": iso(day.finish) if finished and day.finish is not None else None,
        "DURATION": _hms((day.finish or 0) - (day.start or 0) - day.leaks) if finished else "00:00:00",
        "TIME_LEAKS": _hms(day.leaks),
        "ACTIVE": day.active,
        "IP_OPEN": "",
        "IP_CLOSE": "",  # timeman-status.md example (bitrix24-rest.md §10.3): "" also while open
        **day.geo,
        "TZ_OFFSET": 0,
    }
    if status == "EXPIRED" and day.start is not None:
        out["TIME_FINISH_DEFAULT"] = iso(day.start + 9 * 3600)
    return out


def _time(p: dict[str, Any]) -> float | None:
    if empty(p.get("TIME")):
        return None
    moment = parse_datetime(p["TIME"])
    if moment is None:
        raise RestError("WRONG_DATETIME", "Wrong datetime format")
    if empty(p.get("REPORT")):
        # §10.3: REPORT is required with TIME (unless a flexible schedule, which the sandbox has not).
        # The error code is not documented; "REPORT" is the sandbox's guess.
        raise RestError("REPORT", "Report is required when the time is changed")
    return moment


@method("timeman.status", scope="timeman")
def status(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """timeman-status.md: the current workday of USER_ID (default: the caller)."""
    p = upper(params)
    with lock(ctx.portal):
        uid = _user(ctx, p)
        return _view(ctx.portal, _days(ctx.portal).get(uid) or Day())


@method("timeman.open", scope="timeman")
def open_day(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """timeman-open.md: start a day, or continue after a break or after closing it today."""
    p = upper(params)
    with lock(ctx.portal):
        uid = _user(ctx, p)
        days = _days(ctx.portal)
        day = days.setdefault(uid, Day())
        moment = now(ctx.portal)
        at = _time(p)
        reopen = day.status == "PAUSED" or (
            day.status == "CLOSED" and day.start is not None and _date(day.start) == _date(moment)
        )
        if at is not None:
            if reopen:
                # [S] CTimeManRestService::openDay: a REOPEN (paused, or closed today) takes no TIME.
                raise RestError("TIME", "Unable to set time, work day is paused")
            if day.status != "CLOSED" or _date(at) != _date(moment):
                raise RestError("WRONG_DATETIME", "Day open date should correspond to the current date")
        if day.status == "PAUSED":
            day.leaks += moment - (day.paused_at or moment)
            day.status, day.paused_at = "OPENED", None
        elif reopen:
            day.status, day.finish = "OPENED", None  # continue today's day after closing it
        elif day.status == "CLOSED":
            days[uid] = day = Day(status="OPENED", start=at if at is not None else moment, active=at is None)
        day.geo.update({"LAT_OPEN": float(p.get("LAT") or 0), "LON_OPEN": float(p.get("LON") or 0)})
        return _view(ctx.portal, day)


@method("timeman.close", scope="timeman")
def close_day(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """timeman-close.md: end the day; TIME must be on the day's opening date."""
    p = upper(params)
    with lock(ctx.portal):
        uid = _user(ctx, p)
        day = _days(ctx.portal).setdefault(uid, Day())
        if day.status == "CLOSED" or day.start is None:
            return _view(ctx.portal, day)
        at = _time(p)
        moment = at if at is not None else now(ctx.portal)
        if at is not None and _date(at) != _date(day.start):
            raise RestError("WRONG_DATETIME", "Day close date should correspond to the day open date")
        if day.status == "PAUSED":
            day.leaks += moment - (day.paused_at or moment)
        day.status, day.finish, day.paused_at = "CLOSED", moment, None
        day.active = day.active and at is None
        day.geo.update({"LAT_CLOSE": float(p.get("LAT") or 0), "LON_CLOSE": float(p.get("LON") or 0)})
        return _view(ctx.portal, day)


@method("timeman.pause", scope="timeman")
def pause_day(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    """timeman-pause.md: pause an open day; on a closed day it resumes it, counting the time since closing."""
    p = upper(params)
    with lock(ctx.portal):
        uid = _user(ctx, p)
        day = _days(ctx.portal).setdefault(uid, Day())
        moment = now(ctx.portal)
        if day.status == "OPENED":
            day.status, day.paused_at = "PAUSED", moment
        elif day.status == "CLOSED" and day.start is not None and _date(day.start) == _date(moment):
            day.status, day.finish, day.paused_at = "PAUSED", None, moment
        return _view(ctx.portal, day)
