"""How records look on the wire: a user row for user.get/user.current, and generic filter matching.

Owns output typing (``ID`` string, ``ACTIVE`` boolean, ``UF_DEPARTMENT`` integers, null keys omitted) and the
prefix-operator filter language. Sources: bitrix24-rest.md §2.3 (row value types, null fields omitted,
filter operators ``>= > <= < @ !@ % =% %= !% != !``…), §11.19.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sandbox.bitrix24.state import Portal, User

# §2.3: prefix operators; longest first so that ">=" is not read as ">".
OPERATORS = ("!=%", "!%=", ">=", "<=", "!@", "=%", "%=", "!%", "!=", "><", ">", "<", "@", "%", "=", "!", "?")
HIDDEN_PREFIX = "_"


def split_operator(key: str) -> tuple[str, str]:
    """``>=ID`` → (``>=``, ``ID``); ``NAME`` → (``""``, ``NAME``)."""
    for op in OPERATORS:
        if key.startswith(op) and len(key) > len(op):
            return op, key[len(op) :]
    return "", key


def _num(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _cmp(actual: Any, expected: Any) -> int:
    a, b = _num(actual), _num(expected)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    sa, sb = str(actual or ""), str(expected or "")
    return (sa > sb) - (sa < sb)


def _eq(actual: Any, expected: Any) -> bool:
    if isinstance(actual, list):
        return any(_eq(a, expected) for a in actual)
    if isinstance(expected, list):
        return any(_eq(actual, e) for e in expected)
    a, b = _num(actual), _num(expected)
    if a is not None and b is not None:
        return a == b
    return (
        str(actual if actual is not None else "").lower()
        == str(expected if expected is not None else "").lower()
    )


def _pattern(actual: Any, expected: Any) -> bool:
    """``%`` is a wildcard: "Iva%" starts with, "%mol" ends with, "%mol%" contains (user-get.md)."""
    regex = ".*".join(re.escape(part) for part in str(expected or "").lower().split("%"))
    return re.fullmatch(regex, str(actual or "").lower(), flags=re.S) is not None


def _like(actual: Any, expected: Any, mode: str) -> bool:
    if mode == "%":  # substring; the value carries no wildcard
        return str(expected or "").lower() in str(actual or "").lower()
    return _pattern(actual, expected)  # "=%" / "%=": the value carries the % wildcards


def matches(op: str, actual: Any, expected: Any) -> bool:
    """One filter condition (bitrix24-rest.md §2.3 / §4.2 operator tables)."""
    if op == "" and isinstance(expected, str) and "%" in expected and not isinstance(actual, list):
        # user-get.md example: {"filter": {"NAME": "Iva%"}} finds names starting with "Iva".
        return _pattern(actual, expected)
    if op in ("", "="):
        return _eq(actual, expected)
    if op in ("!", "!="):
        return not _eq(actual, expected)
    if op == "@":
        return _eq(actual, expected if isinstance(expected, list) else str(expected).split(","))
    if op == "!@":
        return not _eq(actual, expected if isinstance(expected, list) else str(expected).split(","))
    if op == ">":
        return actual not in (None, "") and _cmp(actual, expected) > 0
    if op == ">=":
        return actual not in (None, "") and _cmp(actual, expected) >= 0
    if op == "<":
        return actual not in (None, "") and _cmp(actual, expected) < 0
    if op == "<=":
        return actual not in (None, "") and _cmp(actual, expected) <= 0
    if op == "><" and isinstance(expected, list) and len(expected) == 2:
        return _cmp(actual, expected[0]) >= 0 and _cmp(actual, expected[1]) <= 0
    if op in ("%", "=%", "%=", "?"):
        return _like(actual, expected, "%" if op == "?" else op)
    if op in ("!%", "!=%", "!%="):
        return not _like(actual, expected, op[1:])
    return False


def select_fields(row: dict[str, Any], select: Any) -> dict[str, Any]:
    """``select`` list with ``*`` and ``UF_*`` masks; unknown names are skipped (§2.3)."""
    if not select:
        return row
    names = [select] if isinstance(select, str) else [str(s) for s in select]
    names = [n.upper() for n in names]
    if "*" in names:
        return row
    out: dict[str, Any] = {}
    for key, value in row.items():
        for name in names:
            if name == key or (name.endswith("*") and key.startswith(name[:-1])):
                out[key] = value
                break
    return out


def user_row(portal: Portal, user: User, select: Any) -> dict[str, Any]:
    """A user.get row: ``ID`` string, ``ACTIVE`` bool, ``UF_DEPARTMENT`` ints, null keys omitted (§2.3)."""
    row: dict[str, Any] = {"ID": str(user.id)}
    for key, value in user.fields.items():
        if value is None or key.startswith(HIDDEN_PREFIX):
            continue
        if key == "ACTIVE":
            row[key] = value == "Y"
        elif key == "UF_DEPARTMENT":
            if value:
                row[key] = [int(v) for v in value]
        else:
            row[key] = value
    row.setdefault("IS_ONLINE", "N")
    del portal
    return select_fields(row, select)


def filter_value(user: User, field: str) -> Any:
    """The value a user.get filter compares for ``field``."""
    if field == "ID":
        return user.id
    if field == "ACTIVE":
        return user.fields.get("ACTIVE", "Y")
    if field == "IS_ONLINE":
        return "N"
    return user.fields.get(field)


Predicate = Callable[[User], bool]
