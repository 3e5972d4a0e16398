"""Decoding Bitrix24's form posts: ``application/x-www-form-urlencoded`` with PHP bracket notation
(``auth[application_token]=…&data[FIELDS][ID]=5``), as events and activity callbacks arrive
(bitrix24-rest.md §6.2, §5.12).

Strict: a body that PHP would read ambiguously (a name used both as a value and as a group, a list and
a map at once, a broken bracket, bytes that are not UTF-8, control characters) is a ``FormError`` with
the reason, which the service answers with 400. Limits follow PHP's defaults for the same input
(``max_input_vars`` 1000; nesting far below ``max_input_nesting_level`` 64, since Bitrix24 sends at most
four levels).
"""

from __future__ import annotations

import re
from itertools import chain
from typing import Any
from urllib.parse import unquote

MAX_FIELDS = 1000
MAX_DEPTH = 8

_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_PART = re.compile(r"\[([^\[\]]*)\]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class FormError(ValueError):
    """The body is not a well-formed PHP bracket form; the message says where."""


def parse_php_form(body: str | bytes) -> dict[str, Any]:
    """``a[b][c]=1&a[d][]=2`` → ``{"a": {"b": {"c": "1"}, "d": ["2"]}}``; raises ``FormError``."""
    pairs = form_pairs(body)
    if _CONTROL.search("".join(chain.from_iterable(pairs))):  # one search; then name the field
        _refuse_control_characters(pairs)
    result: dict[str, Any] = {}
    for raw_key, value in pairs:
        name, bracket, rest = raw_key.partition("[")
        if bracket and name and rest.find("]") == len(rest) - 1 > 0 and "[" not in rest and "]" not in name:
            _put_in_group(result, name, rest[:-1], value, raw_key)  # name[key], as most fields are
        else:
            _put(result, _parts(raw_key), value, raw_key)
    return result


def _put_in_group(result: dict[str, Any], name: str, key: str, value: str, raw_key: str) -> None:
    """``_put`` of ``name[key]=value``, the shape of nearly every field Bitrix24 sends, in fewer steps."""
    group = result.setdefault(name, {})
    if type(group) is not dict:
        raise FormError(f"field {_shown(raw_key)} is both a value and a group, or a list and a map")
    if isinstance(group.get(key), dict | list):
        raise FormError(f"field {_shown(raw_key)} is both a value and a group")
    group[key] = value


def _refuse_control_characters(pairs: list[tuple[str, str]]) -> None:
    for raw_key, value in pairs:
        if _CONTROL.search(raw_key):
            raise FormError("a field name holds control characters")
        if _CONTROL.search(value):
            raise FormError(f"field {_shown(raw_key)} holds control characters")


def form_pairs(body: str | bytes) -> list[tuple[str, str]]:
    """The (name, value) pairs of a form, read as ``urllib.parse.parse_qsl(body, keep_blank_values=True,
    errors="strict")`` reads them (an empty pair is skipped, a name without ``=`` has an empty value, ``+``
    is a space, escapes are UTF-8), with a ``FormError`` where it would raise. Faster on the call-out's
    names: the brackets and pipes PHP's ``http_build_query`` escapes are replaced without ``unquote``."""
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise FormError("the body is not UTF-8") from None
    if body.count("&") >= MAX_FIELDS:
        raise FormError(f"more than {MAX_FIELDS} fields")
    pairs = []
    for pair in body.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            pairs.append((_decoded(name), _decoded(value)))
    return pairs


def _decoded(text: str) -> str:
    if "+" in text:
        text = text.replace("+", " ")
    if "%" not in text:
        return text
    quick = text.replace("%5B", "[").replace("%5D", "]").replace("%7C", "|")
    if "%" not in quick:  # those were its only escapes
        return quick
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise FormError("a percent-encoded value is not UTF-8") from None


def _parts(raw_key: str) -> list[str]:
    if raw_key and "[" not in raw_key and "]" not in raw_key:  # a plain name: no need to take it apart
        return [raw_key]
    match = _KEY.fullmatch(raw_key)
    if match is None:
        raise FormError(f"malformed field name {_shown(raw_key)}")
    parts = [match.group(1), *_PART.findall(match.group(2))]
    if len(parts) > MAX_DEPTH:
        raise FormError(f"field {_shown(raw_key)} is nested deeper than {MAX_DEPTH} levels")
    return parts


def _put(result: dict[str, Any], parts: list[str], value: str, raw_key: str) -> None:
    node: dict[str, Any] | list[Any] = result
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        child: Any = value if last else ([] if parts[index + 1] == "" else {})
        if isinstance(node, list):
            if part != "":
                raise FormError(f"field {_shown(raw_key)} mixes a list and named keys")
            node.append(child)
        else:
            if part == "":
                raise FormError(f"field {_shown(raw_key)} mixes a list and named keys")
            if last:
                if isinstance(node.get(part), dict | list):
                    raise FormError(f"field {_shown(raw_key)} is both a value and a group")
                node[part] = value
                return
            existing = node.setdefault(part, child)
            if type(existing) is not type(child):
                raise FormError(f"field {_shown(raw_key)} is both a value and a group, or a list and a map")
            child = existing
        node = child


def _shown(raw_key: str) -> str:
    """The field name for a message: quoted, cut, never a value."""
    return repr(raw_key[:60] + ("…" if len(raw_key) > 60 else ""))
