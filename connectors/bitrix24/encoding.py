"""Parameter values as Bitrix24 expects them, for a JSON body and for a ``batch`` command string.

fast-bitrix24 writes batch commands with ``str(value)``: ``None`` becomes "None", ``True`` "True" and a
tuple its repr (libraries-and-peers.md §1.4 item 4). Everything the gateway sends passes ``encode_value``
first: booleans → ``"Y"``/``"N"`` (bitrix24-rest.md §11.2), tuples and sets → lists, ``None`` → ``""``
(an empty value clears a field), dates → ISO strings, Decimals → strings. A command string is then built
with the library's own ``http_build_query``, where an empty list or dict — which a query string cannot
carry — is sent as an empty value so that it still clears the field. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from fast_bitrix24.utils import http_build_query


def encode_value(value: Any) -> Any:
    """One value made safe for Bitrix24 (recursively); JSON-ready."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, Enum):
        return encode_value(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): encode_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [encode_value(item) for item in items]
    if isinstance(value, int | float | str):
        return value
    raise TypeError(f"cannot send a {type(value).__name__} to Bitrix24")


def encode_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Parameters for a JSON body (a single call): every value encoded."""
    return encode_value(dict(params or {}))  # type: ignore[no-any-return]


def _query_ready(value: Any) -> Any:
    """Encoded value where empty containers become "" (so they still reach PHP as an empty value)."""
    if isinstance(value, dict):
        return {key: _query_ready(item) for key, item in value.items()} if value else ""
    if isinstance(value, list):
        return [_query_ready(item) for item in value] if value else ""
    return value


def command(method: str, params: Mapping[str, Any] | None) -> str:
    """A ``batch`` command: ``method?FIELDS[NAME]=x&...`` (bitrix24-rest.md §7)."""
    ready = _query_ready(encode_params(params))
    query = http_build_query(ready) if ready else ""
    return f"{method}?{query.rstrip('&')}" if query else method
