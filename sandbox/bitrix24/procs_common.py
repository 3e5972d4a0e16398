"""Helpers shared by the sandbox's process families (lists, bizproc, im, disk, timeman, calendar, placement).

Owns: the lock that serialises these families' state, access to their slots in ``portal.extensions``,
parameter-case folding, list filtering with Bitrix24's key-prefix operators, paging by 50, portal-clock
dates in the formats Bitrix24 writes, and the caller checks (admin, application context). It must not
hold any state itself: everything lives in the portal and is cleared by ``portal.reset``.
Sources: ../shared/reference/bitrix24-rest.md (cited per behaviour as §N.N).
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from sandbox.bitrix24 import envelope
from sandbox.bitrix24.core import CallContext, Page, RestError

T = TypeVar("T")
_LOCKS_GUARD = threading.Lock()


def lock(portal: Any) -> threading.RLock:
    """One re-entrant lock per portal for every process family (handlers run in a thread pool)."""
    with _LOCKS_GUARD:
        found = portal.extensions.get("procs.lock")
        if found is None:
            found = threading.RLock()
            portal.extensions["procs.lock"] = found
        return found  # type: ignore[no-any-return]


def slot(portal: Any, key: str, factory: Callable[[], T]) -> T:
    """This family's state in ``portal.extensions`` (created on first use, gone after a reset)."""
    found = portal.extensions.get(key)
    # A state file loaded by persist.py may hold plain JSON under our key: start afresh then.
    if found is None or (isinstance(factory, type) and not isinstance(found, factory)):
        found = factory()
        portal.extensions[key] = found
    return found  # type: ignore[no-any-return]


# -- parameters ---------------------------------------------------------------------------------------
def upper(params: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level keys upper-cased, as bizproc.* and lists.* read them (bitrix24-rest.md §1.4)."""
    return {str(k).upper(): v for k, v in params.items()}


def as_int(value: Any, default: int = 0) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def empty(value: Any) -> bool:
    """PHP's ``empty()``: None, "", "0", 0, False, [] and {} are empty."""
    return value in (None, "", "0", 0, False) or (isinstance(value, list | dict) and not value)


def as_list(value: Any) -> list[Any]:
    """A PHP array as a list: lists stay, objects give their values, scalars become one item."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return [value]


def yes(value: Any) -> bool:
    return str(value).upper() in ("Y", "1", "TRUE")


# -- callers ------------------------------------------------------------------------------------------
def is_admin(ctx: CallContext) -> bool:
    user = ctx.portal.user(ctx.caller.user_id) if hasattr(ctx.portal, "user") else None
    return bool(ctx.caller.is_admin or (user is not None and getattr(user, "is_admin", False)))


def is_app(ctx: CallContext) -> bool:
    """True when the call carries an OAuth application token (bitrix24-rest.md §9.1)."""
    return ctx.caller.via == "app" and bool(ctx.caller.client_id)


def require_app(ctx: CallContext, code: str, description: str, status: int) -> None:
    """Refuse an incoming-webhook caller with this family's documented error (bitrix24-rest.md §9.1)."""
    if not is_app(ctx):
        raise RestError(code, description, status)


def user_exists(portal: Any, user_id: Any) -> bool:
    return portal.user(user_id) is not None


# -- time ---------------------------------------------------------------------------------------------
def now(portal: Any) -> float:
    return float(portal.clock.now())


def iso(moment: float) -> str:
    """ATOM / ISO-8601 with offset, the REST format for dates (bitrix24-rest.md §1.2)."""
    return datetime.fromtimestamp(int(moment), UTC).isoformat()


def display_datetime(moment: float) -> str:
    """The portal's display format, e.g. ``12/31/2024 11:59:59 pm`` (bitrix24-rest.md §5.3)."""
    stamp = datetime.fromtimestamp(int(moment), UTC)
    return stamp.strftime("%m/%d/%Y %I:%M:%S ") + stamp.strftime("%p").lower()


def display_date(moment: float) -> str:
    return datetime.fromtimestamp(int(moment), UTC).strftime("%m/%d/%Y")


_DISPLAY = re.compile(r"^(\d{2})/(\d{2})/(\d{4})(?: (\d{1,2}):(\d{2})(?::(\d{2}))? ?([ap]m)?)?$", re.I)


def parse_datetime(value: Any) -> float | None:
    """Read ``2024-12-31 23:59:59``, ISO-8601 (with or without offset), a date, or the display format."""
    text = str(value or "").strip()
    if not text:
        return None
    match = _DISPLAY.match(text)
    if match:
        month, day, year, hour, minute, second, ampm = match.groups()
        h = int(hour or 0)
        if ampm:
            h = h % 12 + (12 if ampm.lower() == "pm" else 0)
        moment = datetime(int(year), int(month), int(day), h, int(minute or 0), int(second or 0), tzinfo=UTC)
        return moment.timestamp()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def uniq_id() -> str:
    """PHP ``uniqid('', true)`` shape, e.g. ``66e81a641752f8.56521481`` (bitrix24-rest.md §5.6)."""
    return f"{secrets.token_hex(7)}.{secrets.randbelow(10**8):08d}"


# -- lists: filter, order, page -----------------------------------------------------------------------
_OPS = ("!=%", "!@", "!%", "=%", "%=", ">=", "<=", "!=", "@", "%", ">", "<", "=", "!")


def split_filter_key(key: str, allowed: Iterable[str] = _OPS) -> tuple[str, str] | None:
    """``">=ID"`` → (">=", "ID"); None when the prefix is not one of ``allowed`` (then it is ignored)."""
    match = re.match(r"^([^A-Za-z_]*)(.*)$", key)
    if not match:
        return None
    op, name = match.group(1), match.group(2)
    if op not in set(allowed) | {""}:
        return None
    return op, name


def _num(value: Any) -> float | None:
    try:
        return float(str(value))
    except (TypeError, ValueError):
        return None


def _compare(left: Any, right: Any) -> int:
    a, b = _num(left), _num(right)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    x, y = str(left if left is not None else ""), str(right if right is not None else "")
    return (x > y) - (x < y)


def _like(pattern: str, text: str) -> bool:
    regex = "^" + ".*".join(re.escape(part) for part in pattern.split("%")) + "$"
    return re.match(regex, text, re.I | re.S) is not None


def match_one(actual: Any, op: str, wanted: Any) -> bool:
    """One filter condition; a multiple value matches when any of its values does."""
    values = actual if isinstance(actual, list) else [actual]
    if op in ("@", "!@"):
        pool = {str(v) for v in as_list(wanted)}
        hit = any(str(v) in pool for v in values)
        return hit if op == "@" else not hit
    if op in ("!", "!="):
        return not any(_compare(v, wanted) == 0 for v in values)
    if op in ("%", "!%"):
        hit = any(str(wanted).lower() in str(v or "").lower() for v in values)
        return hit if op == "%" else not hit
    if op in ("=%", "%=", "!=%"):
        hit = any(_like(str(wanted), str(v or "")) for v in values)
        return not hit if op == "!=%" else hit
    checks: dict[str, Callable[[int], bool]] = {
        "": lambda c: c == 0,
        "=": lambda c: c == 0,
        ">": lambda c: c > 0,
        ">=": lambda c: c >= 0,
        "<": lambda c: c < 0,
        "<=": lambda c: c <= 0,
    }
    if isinstance(wanted, list) and op in ("", "="):
        return any(str(v) in {str(w) for w in wanted} for v in values)
    return any(checks[op](_compare(v, wanted)) for v in values)


def filter_rows(
    rows: list[T],
    conditions: Mapping[str, Any] | None,
    getter: Callable[[T, str], Any],
    *,
    allowed_ops: Iterable[str] = _OPS,
    known: Callable[[str], bool] | None = None,
) -> list[T]:
    """Keep rows matching every condition; unknown fields and operators are ignored, as Bitrix24 does."""
    parsed: list[tuple[str, str, Any]] = []
    for key, wanted in (conditions or {}).items():
        split = split_filter_key(str(key), allowed_ops)
        if split is None:
            continue
        op, name = split
        name = name.upper()
        if known is not None and not known(name):
            continue
        parsed.append((op, name, wanted))
    return [row for row in rows if all(match_one(getter(row, n), op, w) for op, n, w in parsed)]


def order_rows(rows: list[T], order: Mapping[str, Any] | None, getter: Callable[[T, str], Any]) -> list[T]:
    """Sort by each ``FIELD: asc|desc`` in turn (the first key is the primary one)."""
    result = list(rows)
    for name, direction in reversed(list((order or {}).items())):
        field_name = str(name).upper()

        def key(row: T, n: str = field_name) -> _SortKey:
            return _SortKey(getter(row, n))

        result.sort(key=key, reverse=str(direction).lower() == "desc")
    return result


class _SortKey:
    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _SortKey) -> bool:
        return _compare(self.value, other.value) < 0


def paged(items: list[Any], start: Any) -> Page:
    """One page of 50 with ``total``/``next`` (bitrix24-rest.md §1.3) — the core envelope's rule."""
    return envelope.paged(items, start)


def stringify(value: Any) -> Any:
    """Bitrix24 returns most scalars of list rows as strings (bitrix24-rest.md §5.3, §5.9 examples)."""
    if value is None or isinstance(value, bool | str | list | dict):
        return value
    return str(value)
