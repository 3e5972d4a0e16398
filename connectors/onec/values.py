"""Text of a 1C element → a normalised Python value: the lxml fast path's version of normalise.py.

The same rules (trimmed strings, the all-zero GUID and the empty date ``0001-01-01`` as None, refs in
lower case), specialised to ``str | None`` because connectors/onec/records.py calls them about a million
times per 50,000-employee snapshot: each one does the cheap check first and strips only when it must.
"""

from __future__ import annotations

import sys
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from connectors.onec.errors import OneCProtocolError
from connectors.onec.normalise import EMPTY_DATE_PREFIX as _EMPTY_DATE
from connectors.onec.normalise import EMPTY_REF as _EMPTY_REF


def opt_text(v: str | None) -> str | None:
    if v is None:
        return None
    v = v.strip()
    return v or None


def opt_ref(v: str | None) -> str | None:
    if v is None:
        return None
    if len(v) != 36:  # a GUID is 36 characters: anything else may be padded
        v = v.strip()
        if not v:
            return None
    # Interned: the same org, department and position refs recur in every employment's history.
    return None if v == _EMPTY_REF else sys.intern(v.lower())


def req_ref(v: str | None, name: str) -> str:
    ref = opt_ref(v)
    if ref is None:
        raise OneCProtocolError(f"1C sent an empty reference in {name!r}, which the contract requires")
    return ref


@lru_cache(maxsize=65536)
def opt_day(v: str | None) -> date | None:
    """Cached: a snapshot repeats the same few thousand dates, and one date object each is enough."""
    if v is None or v.startswith(_EMPTY_DATE):
        return None
    try:
        return date.fromisoformat(v[:10])
    except ValueError:
        pass
    v = v.strip()
    if not v or v.startswith(_EMPTY_DATE):
        return None
    try:
        return date.fromisoformat(v[:10])
    except ValueError as exc:
        raise OneCProtocolError(f"1C sent a date the contract cannot read ({v[:32]!r})") from exc


def req_day(v: str | None, name: str) -> date:
    day = opt_day(v)
    if day is None:
        raise OneCProtocolError(f"1C sent an empty date in {name!r}, which the contract requires")
    return day


def flag(v: str | None) -> bool:
    return v == "true" or (v is not None and v.strip() in ("true", "1"))


def opt_decimal(v: str | None) -> Decimal | None:
    v = opt_text(v)
    if v is None:
        return None
    try:
        return Decimal(v)
    except InvalidOperation as exc:
        raise OneCProtocolError(f"1C sent a number the contract cannot read ({v[:32]!r})") from exc
