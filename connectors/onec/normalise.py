"""1C's value conventions turned into plain Python values, and back for what the bridge sends.

Nothing after the connector sees them: the empty date ``0001-01-01T00:00:00`` and the all-zero GUID
become None, strings are trimmed (an empty one is None where the field is optional), ``None`` and an
empty wrapper both become an empty tuple, naive datetimes get the 1C server's time zone (from GetInfo),
refs are lower-case GUIDs. Inputs may be text (the lxml fast path) or what zeep built (datetime, bool,
Decimal, None): every function accepts both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.onec.errors import OneCProtocolError

EMPTY_REF = "00000000-0000-0000-0000-000000000000"
EMPTY_DATE_PREFIX = "0001-01-01"
EMPTY_DATE = "0001-01-01T00:00:00"
DEFAULT_TIME_ZONE = "Europe/Moscow"
ZERO = Decimal(0)
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


def text(value: Any) -> str | None:
    """A trimmed string, or None for nil/absent/blank."""
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def ref(value: Any) -> str | None:
    """A GUID ref in lower case, or None for nil and the empty ref."""
    value = text(value)
    if value is None or value == EMPTY_REF:
        return None
    return str(value).lower()


def required_ref(value: Any, name: str) -> str:
    result = ref(value)
    if result is None:
        raise OneCProtocolError(f"1C sent an empty reference in {name!r}, which the contract requires")
    return result


def to_date(value: Any) -> date | None:
    """A calendar date from ``xs:date``/``xs:dateTime`` text or objects; the empty date is None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return None if value.year == 1 else value.date()
    if isinstance(value, date):
        return None if value.year == 1 else value
    raw = str(value).strip()
    if not raw or raw.startswith(EMPTY_DATE_PREFIX):
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError as exc:
        raise OneCProtocolError(f"1C sent a date the contract cannot read ({raw[:32]!r})") from exc


def required_date(value: Any, name: str) -> date:
    result = to_date(value)
    if result is None:
        raise OneCProtocolError(f"1C sent an empty date in {name!r}, which the contract requires")
    return result


def to_datetime(value: Any, tz: tzinfo) -> datetime | None:
    """An aware datetime; a naive one (1C never sends an offset) is read in the server's zone ``tz``."""
    if value is None:
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        raw = str(value).strip()
        if not raw or raw.startswith(EMPTY_DATE_PREFIX):
            return None
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError as exc:
            raise OneCProtocolError(f"1C sent a timestamp the contract cannot read ({raw[:32]!r})") from exc
    if parsed.year == 1:
        return None
    return parsed.replace(tzinfo=tz) if parsed.tzinfo is None else parsed


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return text(value) in ("true", "1")


def to_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    raw = text(value)
    if raw is None:
        return None
    try:
        return Decimal(raw)
    except InvalidOperation as exc:
        raise OneCProtocolError(f"1C sent a number the contract cannot read ({raw[:32]!r})") from exc


def items(wrapper: Any) -> list[Any]:
    """The ``item`` children of a zeep list wrapper: None, an empty wrapper and nil all give []."""
    if wrapper is None:
        return []
    found = wrapper["item"] if not isinstance(wrapper, list) else wrapper
    return list(found or [])


def time_zone(name: str | None) -> tzinfo:
    """The 1C server's zone from GetInfo: an IANA name or an offset like ``UTC+03:00``; default Moscow."""
    raw = text(name) or DEFAULT_TIME_ZONE
    match = _OFFSET.match(raw)
    if match:
        sign, hours, minutes = match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        return timezone(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise OneCProtocolError(f"1C reported a time zone the bridge does not know ({raw[:40]!r})") from exc


# ---- outbound: what the bridge sends is written the way 1C expects it -------------------------------


def out_date(value: date | None) -> datetime | str:
    """A date as the naive midnight ``xs:dateTime`` of our contract; none is 1C's empty date, never nil."""
    return EMPTY_DATE if value is None else datetime(value.year, value.month, value.day)


def out_datetime(value: datetime | None, tz: tzinfo) -> datetime | None:
    """An aware datetime as the naive local time of the 1C server."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(tz)
    return value.replace(tzinfo=None, microsecond=0)


def out_ref(value: str | None) -> str:
    """A ref for 1C: the empty ref stands for 'none' (never nil, docs/onec-contract.md)."""
    return value.lower() if value else EMPTY_REF


def out_refs(values: Iterable[str]) -> list[str]:
    return [value.lower() for value in values]
