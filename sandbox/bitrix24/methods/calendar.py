"""``calendar.event.add`` / ``.get`` / ``.update`` / ``.delete``: calendar events, as used to show absences.

Owns the events and the default section of each calendar (``type`` + ``ownerId``), the documented
required-parameter errors (empty error code, text naming the parameter), the access rules the docs
state, and the row shape of ``calendar.event.get``.
Sources: api-reference/calendar/calendar-event/calendar-event-add.md, calendar-event-get.md,
calendar-event-update.md, calendar-event-delete.md (b24restdocs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sandbox.bitrix24.core import CallContext, RestError, method
from sandbox.bitrix24.procs_common import (
    as_int,
    as_list,
    display_date,
    display_datetime,
    is_admin,
    lock,
    now,
    slot,
)

TYPES = ("user", "group", "company_calendar")


@dataclass
class CalendarState:
    events: dict[int, dict[str, Any]] = field(default_factory=dict)
    sections: dict[tuple[str, int], int] = field(default_factory=dict)
    next_event: int = 1201
    next_section: int = 4


def _state(portal: Any) -> CalendarState:
    return slot(portal, "calendar", CalendarState)


def _fail(text: str) -> RestError:
    # calendar-event-add.md: every documented error comes with an empty code.
    return RestError("", text)


def _required(name: str) -> RestError:
    return _fail(f'The required parameter "{name}" for the method "calendar.event.add" is not set')


def _moment(value: Any, ts: Any, zone: str | None, skip_time: bool) -> float | None:
    """ISO with offset wins; a plain date-time uses ``timezone_from``/``_to`` (default UTC for the user)."""
    if ts not in (None, ""):
        return float(as_int(ts))
    text = str(value or "").strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if skip_time:
        parsed = datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC)
    elif parsed.tzinfo is None:
        try:
            parsed = parsed.replace(tzinfo=ZoneInfo(zone) if zone else UTC)
        except (ZoneInfoNotFoundError, ValueError):
            parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _can_write(ctx: CallContext, cal_type: str, owner: int) -> bool:
    if is_admin(ctx):
        return True
    if cal_type == "user":
        return owner == ctx.caller.user_id
    if cal_type == "group":
        group = ctx.portal.groups.get(owner)
        return group is not None and ctx.caller.user_id in group.members
    return False


def _section(st: CalendarState, cal_type: str, owner: int) -> int:
    key = (cal_type, owner)
    if key not in st.sections:
        st.sections[key] = st.next_section
        st.next_section += 1
    return st.sections[key]


@method("calendar.event.add", scope="calendar")
def event_add(ctx: CallContext, params: dict[str, Any]) -> int:
    """calendar-event-add.md: type*, ownerId*, name*, from*/from_ts, to*/to_ts, section (auto-detected)."""
    with lock(ctx.portal):
        for name in ("type", "ownerId", "name"):
            if params.get(name) in (None, "") and not (name == "ownerId" and params.get(name) == 0):
                raise _required(name)
        if not isinstance(params["name"], str):
            raise _fail('Invalid value for the parameter "name"')
        if "description" in params and not isinstance(params["description"], str):
            raise _fail('Invalid value for the parameter "description"')
        cal_type, owner = str(params["type"]), as_int(params["ownerId"], -1)
        skip = str(params.get("skip_time") or "N").upper() == "Y"
        zone_from = params.get("timezone_from")
        start = _moment(params.get("from"), params.get("from_ts"), zone_from, skip)
        if start is None:
            raise _required("from")
        end = _moment(params.get("to"), params.get("to_ts"), params.get("timezone_to") or zone_from, skip)
        if end is None:
            raise _required("to")
        if cal_type not in TYPES or not _can_write(ctx, cal_type, owner):
            raise _fail("Access denied")
        if "crm_fields" in params and not isinstance(params["crm_fields"], list):
            raise _fail("The list of event links to CRM must be an array")
        st = _state(ctx.portal)
        section = _section(st, cal_type, owner)
        auto = str(params.get("auto_detect_section") or "Y").upper() == "Y"
        explicit = "section" in params and params["section"] not in (None, "")
        if (explicit or not auto) and as_int(params.get("section"), -1) != section:
            raise _fail("You specified an invalid calendar section ID or the user does not have access to it")
        event_id = st.next_event
        st.next_event += 1
        st.events[event_id] = {
            "id": event_id,
            "type": cal_type,
            "owner": owner,
            "name": params["name"],
            "from": start,
            "to": end,
            "skip_time": skip,
            "section": section,
            "tz_from": zone_from or "UTC",
            "tz_to": params.get("timezone_to") or zone_from or "UTC",
            "description": params.get("description") or "",
            "accessibility": params.get("accessibility") or "busy",
            "importance": params.get("importance") or "normal",
            "private": params.get("private_event") or "",
            "is_meeting": params.get("is_meeting") == "Y",
            "attendees": [as_int(a) for a in as_list(params.get("attendees"))],
            "location": params.get("location") or "",
            "color": params.get("color") or "",
            "remind": as_list(params.get("remind")),
            "created_by": ctx.caller.user_id,
            "created": now(ctx.portal),
        }
        return event_id


def _row(e: dict[str, Any]) -> dict[str, Any]:
    """calendar-event-get.md row (dates in the portal's display format)."""
    show = display_date if e["skip_time"] else display_datetime
    attendees = e["attendees"] or ([e["owner"]] if e["type"] == "user" else [])
    return {
        "ID": str(e["id"]),
        "PARENT_ID": str(e["id"]),
        "DELETED": "N",
        "CAL_TYPE": e["type"],
        "OWNER_ID": str(e["owner"]),
        "NAME": e["name"],
        "DATE_FROM": show(e["from"]),
        "DATE_TO": show(e["to"]),
        "TZ_FROM": e["tz_from"],
        "TZ_TO": e["tz_to"],
        "DATE_FROM_TS_UTC": str(int(e["from"])),
        "DATE_TO_TS_UTC": str(int(e["to"])),
        "DT_SKIP_TIME": "Y" if e["skip_time"] else "N",
        "DT_LENGTH": int(e["to"] - e["from"]) + (86400 if e["skip_time"] else 0),
        "CREATED_BY": str(e["created_by"]),
        "DATE_CREATE": display_datetime(e["created"]),
        "TIMESTAMP_X": display_datetime(e["created"]),
        "DESCRIPTION": e["description"],
        "PRIVATE_EVENT": e["private"],
        "ACCESSIBILITY": e["accessibility"],
        "IMPORTANCE": e["importance"],
        "IS_MEETING": e["is_meeting"],
        "MEETING_HOST": str(e["created_by"]),
        "LOCATION": e["location"],
        "REMIND": e["remind"],
        "COLOR": e["color"],
        "SECTION_ID": str(e["section"]),
        "ATTENDEES_CODES": [f"U{a}" for a in attendees],
    }


@method("calendar.event.get", scope="calendar")
def event_get(ctx: CallContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    """calendar-event-get.md: type*, ownerId*, from (default −1 month), to (default +3 months), section[]."""
    with lock(ctx.portal):
        if params.get("type") in (None, ""):
            raise _fail('Required parameter "type" is not specified for method "calendar.event.get"')
        user = ctx.portal.user(ctx.caller.user_id)
        if user is not None and getattr(user, "extranet", False):
            raise _fail("Access denied")  # "Access to the method is prohibited for external users"
        moment = datetime.fromtimestamp(now(ctx.portal), UTC)
        low = _moment(params.get("from"), None, None, False) or (moment - timedelta(days=30)).timestamp()
        high = _moment(params.get("to"), None, None, False) or (moment + timedelta(days=90)).timestamp()
        sections = {as_int(s) for s in as_list(params.get("section"))}
        owner = as_int(params.get("ownerId"), -1)
        rows = [
            e
            for e in _state(ctx.portal).events.values()
            if e["type"] == params["type"]
            and e["owner"] == owner
            and e["from"] <= high
            and e["to"] >= low
            and (not sections or e["section"] in sections)
        ]
        return [_row(e) for e in sorted(rows, key=lambda e: (e["from"], e["id"]))]


def _update_required(name: str) -> RestError:
    # calendar-event-update.md "Possible Error Codes": empty code, the sentence ends with a period.
    return _fail(f'The required parameter "{name}" for the method "calendar.event.update" is not set.')


@method("calendar.event.update", scope="calendar")
def event_update(ctx: CallContext, params: dict[str, Any]) -> int:
    """calendar-event-update.md: id*, type*, ownerId*; any of name, from/from_ts, to/to_ts, skip_time,
    timezone_from/_to, description, accessibility, importance, section, ... Returns the event's id (a
    single event; recurring series are not modelled)."""
    with lock(ctx.portal):
        for name in ("id", "type", "ownerId"):
            if params.get(name) in (None, "") and not (name == "ownerId" and params.get(name) == 0):
                raise _update_required(name)
        if "name" in params and not isinstance(params["name"], str):
            raise _fail('Invalid value for the "name" parameter.')
        if "description" in params and not isinstance(params["description"], str):
            raise _fail('Invalid value for the "description" parameter.')
        cal_type, owner = str(params["type"]), as_int(params["ownerId"], -1)
        st = _state(ctx.portal)
        event = st.events.get(as_int(params["id"], -1))
        if cal_type not in TYPES or not _can_write(ctx, cal_type, owner):
            raise _fail("Access denied.")
        if event is None or (event["type"], event["owner"]) != (cal_type, owner):
            raise _fail("An error occurred while changing the event.")
        section = params.get("section")
        if section not in (None, "") and as_int(section, -1) != event["section"]:
            raise _fail(
                "You specified an invalid calendar section ID or the user does not have access to it."
            )
        if "crm_fields" in params and not isinstance(params["crm_fields"], list):
            raise _fail("The event's CRM links list must be an array.")
        skip = str(params.get("skip_time") or ("Y" if event["skip_time"] else "N")).upper() == "Y"
        zone_from = params.get("timezone_from") or event["tz_from"]
        start = _moment(params.get("from"), params.get("from_ts"), zone_from, skip)
        end = _moment(params.get("to"), params.get("to_ts"), params.get("timezone_to") or zone_from, skip)
        changes: dict[str, Any] = {"skip_time": skip}
        if start is not None:
            changes["from"] = start
        if end is not None:
            changes["to"] = end
        for key, param in (("name", "name"), ("description", "description"), ("location", "location"),
                           ("accessibility", "accessibility"), ("importance", "importance"),
                           ("private", "private_event"), ("color", "color")):  # fmt: skip
            if param in params:
                changes[key] = params[param]
        if "remind" in params:
            changes["remind"] = as_list(params["remind"])
        if "attendees" in params or params.get("is_meeting") == "Y":
            # The docs: is_meeting=Y without attendees clears the list; no is_meeting keeps it.
            changes["attendees"] = [as_int(a) for a in as_list(params.get("attendees"))]
        if "is_meeting" in params:
            changes["is_meeting"] = params["is_meeting"] == "Y"
        event.update(changes)
        return int(event["id"])


@method("calendar.event.delete", scope="calendar")
def event_delete(ctx: CallContext, params: dict[str, Any]) -> bool:
    """calendar-event-delete.md: id*; ``true``. An unknown event, or one the caller may not change, is the
    documented "An error occurred while deleting the event" (empty code) — so is deleting one twice."""
    with lock(ctx.portal):
        if params.get("id") in (None, "", 0, "0"):
            raise _fail("Event id not specified")
        st = _state(ctx.portal)
        event = st.events.get(as_int(params["id"], -1))
        if event is None or not _can_write(ctx, event["type"], event["owner"]):
            raise _fail("An error occurred while deleting the event")
        del st.events[event["id"]]
        return True
