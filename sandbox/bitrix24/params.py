"""Decoding and encoding of request parameters the way Bitrix24's PHP front end sees them.

Owns: PHP bracket notation (``FIELDS[NAME]=x``, ``FILTER[>ID]=5``, ``ID[]=1``) in both directions, and the
merging of query string, form body and JSON body into one parameter dict. It must not interpret any
parameter: method handlers decide what a key means.
Sources: bitrix24-rest.md §1.1 (form posts with PHP bracket notation), §7 (batch ``cmd`` query strings),
§6.2 (events are POSTed form-encoded with bracket notation).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode


def _split_key(key: str) -> list[str]:
    """``FILTER[>ID]`` → ``["FILTER", ">ID"]``; ``ID[]`` → ``["ID", ""]``; a plain key → ``[key]``."""
    i = key.find("[")
    if i <= 0 or "]" not in key[i:]:
        return [key]
    parts = [key[:i]]
    rest = key[i:]
    while rest.startswith("["):
        j = rest.find("]")
        if j < 0:
            break
        parts.append(rest[1:j])
        rest = rest[j + 1 :]
    return parts


def _php_key(part: str) -> str | int:
    # PHP turns canonical decimal string keys into integer keys.
    if part.isdigit() and (part == "0" or not part.startswith("0")):
        return int(part)
    if part.startswith("-") and part[1:].isdigit() and not part[1:].startswith("0"):
        return int(part)
    return part


def _next_index(node: dict[Any, Any]) -> int:
    ints = [k for k in node if isinstance(k, int)]
    return max(ints) + 1 if ints else 0


def decode_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Build the nested structure PHP's ``$_REQUEST`` would hold for these ``key=value`` pairs."""
    root: dict[Any, Any] = {}
    for raw_key, value in pairs:
        parts = _split_key(raw_key)
        node = root
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            key: Any = _next_index(node) if part == "" and depth > 0 else _php_key(part)
            if last:
                node[key] = value
            else:
                child = node.get(key)
                if not isinstance(child, dict):
                    child = {}
                    node[key] = child
                node = child
    return {str(k): _finish(v) for k, v in root.items()}


def _finish(value: Any) -> Any:
    """PHP arrays keyed 0..n-1 are JSON lists; other arrays are objects with string keys."""
    if not isinstance(value, dict):
        return value
    items = {k: _finish(v) for k, v in value.items()}
    if items and all(isinstance(k, int) for k in items) and sorted(items) == list(range(len(items))):
        return [items[i] for i in range(len(items))]
    return {str(k): v for k, v in items.items()}


def parse_query(query: str) -> dict[str, Any]:
    """Decode a query string (or a form body) with PHP bracket notation."""
    return decode_pairs(parse_qsl(query, keep_blank_values=True))


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, Mapping):
        if not value and prefix:
            return
        for key, item in value.items():
            _flatten(f"{prefix}[{key}]" if prefix else str(key), item, out)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _flatten(f"{prefix}[{index}]", item, out)
    elif value is None:
        out.append((prefix, ""))
    elif isinstance(value, bool):
        # PHP's http_build_query writes booleans as 1 / 0.
        out.append((prefix, "1" if value else "0"))
    else:
        out.append((prefix, str(value)))


def encode_pairs(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Flatten nested data into PHP bracket pairs (what http_build_query produces)."""
    out: list[tuple[str, str]] = []
    _flatten("", data, out)
    return out


def encode_form(data: Mapping[str, Any]) -> str:
    """``application/x-www-form-urlencoded`` body with PHP bracket notation (bitrix24-rest.md §6.2)."""
    return urlencode(encode_pairs(data))


def upper_keys(params: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level keys upper-cased, as user.* and bizproc.* do (bitrix24-rest.md §1.4 [S])."""
    return {str(k).upper(): v for k, v in params.items()}


def lower_keys(params: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in params.items()}
