"""Decoding Bitrix24's form posts: ``application/x-www-form-urlencoded`` with PHP bracket notation
(``auth[application_token]=…&data[FIELDS][ID]=5``), as events and activity callbacks arrive
(bitrix24-rest.md §6.2, §5.12)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

_PART = re.compile(r"\[([^\]]*)\]")


def parse_php_form(body: str) -> dict[str, Any]:
    """``a[b][c]=1&a[d][]=2`` → ``{"a": {"b": {"c": "1"}, "d": ["2"]}}``."""
    result: dict[str, Any] = {}
    for raw_key, value in parse_qsl(body, keep_blank_values=True):
        head, _, rest = raw_key.partition("[")
        parts = [head, *_PART.findall("[" + rest)] if rest else [head]
        node: Any = result
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if part == "":
                if not isinstance(node, list):
                    break
                if last:
                    node.append(value)
                else:
                    node.append({})
                    node = node[-1]
                continue
            if not isinstance(node, dict):
                break
            if last:
                node[part] = value
            else:
                following_is_list = parts[index + 1] == ""
                node = node.setdefault(part, [] if following_is_list else {})
    return result
