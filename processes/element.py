"""A request's list element read from Bitrix24: who filed it and its form values by catalog field code.

``lists.element.get`` gives ``PROPERTY_<id>`` values keyed by value id and dates in the portal's display
format (bitrix24-rest.md §5.3); ``lists.field.get`` without FIELD_ID maps each ``PROPERTY_<id>`` to its
CODE and, for a list (``L``) field, value ids to labels (``DISPLAY_VALUES_FORM``, §5.5). The installer
gave every form field the CODE ``<code upper-cased>`` and a select's values the catalog labels
(docs/processes.md), so both map back to the catalog without any stored state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from connectors.bitrix24.port import Bitrix24Port
from processes.bpt import property_code
from processes.catalog import ProcessEntry
from processes.forms import form_values
from processes.portal_setup import IBLOCK_TYPE

_IBLOCK = re.compile(r"^iblock_([0-9]{1,10})$")


class ElementGone(LookupError):
    """The call-out names a list element Bitrix24 no longer has (deleted after the workflow started)."""


@dataclass(frozen=True, slots=True)
class RequestElement:
    element_id: int
    iblock_id: int
    created_by: int
    name: str
    values: dict[str, Any]


def iblock_of(document_id: list[str], document_type: list[str] | None) -> int | None:
    """The list id from ``document_type`` (``iblock_171``); older builds send no document_type."""
    match = _IBLOCK.fullmatch(str((document_type or ["", "", ""])[2]))
    return int(match.group(1)) if match else None


async def read_element(
    b24: Bitrix24Port, entry: ProcessEntry, element_id: int, iblock_id: int | None
) -> RequestElement:
    """The element and its form values; raises ``ElementGone`` when it is not there."""
    where: dict[str, Any] = {"IBLOCK_TYPE_ID": IBLOCK_TYPE}
    where |= {"IBLOCK_ID": iblock_id} if iblock_id is not None else {"IBLOCK_CODE": "eb_" + entry.code}
    rows = await b24.call("lists.element.get", {**where, "ELEMENT_ID": element_id})
    row = rows[0] if isinstance(rows, list) and rows else None
    if not isinstance(row, dict):
        raise ElementGone(f"list element {element_id} not found")
    fields = await b24.call("lists.field.get", where)
    fields = fields if isinstance(fields, dict) else {}
    by_code = {str(f.get("CODE") or ""): f for f in fields.values() if isinstance(f, dict)}
    property_ids: dict[str, str] = {}
    labels: dict[str, dict[str, str]] = {}
    for f in entry.fields:
        described = by_code.get(property_code(f.code))
        if described is None:
            continue
        property_ids[f.code] = str(described["FIELD_ID"])
        display = described.get("DISPLAY_VALUES_FORM")
        if f.type in ("select", "bool") and isinstance(display, dict):
            labels[f.code] = {str(k): str(v) for k, v in display.items()}
    values = form_values(entry, row, property_ids)
    for f in entry.fields:
        if f.code in values and f.code in labels:
            values[f.code] = _option(f.options, labels[f.code], values[f.code])
    return RequestElement(
        element_id=int(row["ID"]),
        iblock_id=iblock_id or 0,
        created_by=int(row.get("CREATED_BY") or 0),
        name=str(row.get("NAME") or ""),
        values=values,
    )


def _option(options: dict[str, str], labels: dict[str, str], value: Any) -> Any:
    """A list field's value id → the catalog option whose label it shows (or Y/N for a bool)."""
    if isinstance(value, list):
        return [_option(options, labels, v) for v in value]
    label = labels.get(str(value), str(value))
    if not options:
        return "Y" if label in ("Y", "Да", "Yes") else "N" if label in ("N", "Нет", "No") else label
    for option, text in options.items():
        if label in (text, option):
            return option
    return label
