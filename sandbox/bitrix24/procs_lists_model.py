"""The universal lists' records: info blocks, fields, elements, and an element seen as a workflow document.

Owns the in-memory model behind ``lists.*`` and the "document" operations the workflow interpreter needs
(does the element exist, read a field, write a field). It must not know HTTP or REST parameters: the
handlers in methods/lists.py validate those and raise the documented errors.
Sources: ../shared/reference/bitrix24-rest.md §5.1–§5.5; api-reference/lists/** of bitrix24/b24restdocs.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
from dataclasses import dataclass, field
from typing import Any

from sandbox.bitrix24.core import RestError
from sandbox.bitrix24.procs_common import (
    as_int,
    as_list,
    display_date,
    display_datetime,
    empty,
    parse_datetime,
    slot,
)

# bitrix24-rest.md §5.1: the three info-block types.
IBLOCK_TYPES = ("lists", "bitrix_processes", "lists_socnet")
# lists-field-type-get.md: the field types a list offers (system fields first, as in the doc example).
FIELD_TYPES: dict[str, str] = {
    "SORT": "Sorting",
    "ACTIVE_FROM": "Start of activity",
    "ACTIVE_TO": "End of activity",
    "PREVIEW_PICTURE": "Preview image",
    "PREVIEW_TEXT": "Preview text",
    "DETAIL_PICTURE": "Detail image",
    "DETAIL_TEXT": "Detail text",
    "CREATED_BY": "Created by",
    "TIMESTAMP_X": "Modification date",
    "MODIFIED_BY": "Modified by",
    "S": "String",
    "N": "Number",
    "L": "List",
    "F": "File",
    "G": "Binding to sections",
    "E": "Binding to elements",
    "S:Date": "Date",
    "S:DateTime": "Date/Time",
    "S:HTML": "HTML/text",
    "E:EList": "Binding to elements as a list",
    "N:Sequence": "Counter",
    "S:ECrm": "Binding to CRM elements",
    "S:Money": "Money",
    "S:DiskFile": "File (Disk)",
    "S:employee": "Binding to employee",
}
SYSTEM_FIELDS = {
    "NAME",
    "SORT",
    "ACTIVE_FROM",
    "ACTIVE_TO",
    "PREVIEW_PICTURE",
    "PREVIEW_TEXT",
    "DETAIL_PICTURE",
    "DETAIL_TEXT",
    "DATE_CREATE",
    "CREATED_BY",
    "TIMESTAMP_X",
    "MODIFIED_BY",
}


@dataclass
class ListField:
    field_id: str
    """``NAME``, a system field code, or ``PROPERTY_<id>``."""
    name: str
    type: str
    prop_id: int | None = None
    code: str | None = None
    is_required: bool = False
    multiple: bool = False
    sort: int = 500
    default_value: Any = None
    settings: dict[str, str] = field(default_factory=dict)
    enum: dict[int, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self, iblock_id: int) -> dict[str, Any]:
        """lists-field-get.md: one field's description."""
        out: dict[str, Any] = {
            "FIELD_ID": self.field_id,
            "SORT": self.sort,
            "NAME": self.name,
            "IS_REQUIRED": "Y" if self.is_required else "N",
            "MULTIPLE": "Y" if self.multiple else "N",
            "DEFAULT_VALUE": self.default_value,
            "TYPE": self.type,
            "SETTINGS": self.settings,
        }
        if self.prop_id is not None:
            base, _, user_type = self.type.partition(":")
            out.update(
                {
                    "PROPERTY_TYPE": base,
                    "PROPERTY_USER_TYPE": user_type or False,
                    "CODE": self.code,
                    "ID": str(self.prop_id),
                    "IBLOCK_ID": str(iblock_id),
                    "LINK_IBLOCK_ID": self.extra.get("LINK_IBLOCK_ID"),
                    "ROW_COUNT": str(self.extra.get("ROW_COUNT", 1)),
                    "COL_COUNT": str(self.extra.get("COL_COUNT", 30)),
                    "USER_TYPE_SETTINGS": self.extra.get("USER_TYPE_SETTINGS"),
                }
            )
        if self.type == "L":
            out["DISPLAY_VALUES_FORM"] = {str(k): v for k, v in self.enum.items()}
        return out


@dataclass
class Element:
    id: int
    iblock_id: int
    code: str
    name: str
    section_id: int
    created_by: int
    created_at: float
    modified_at: float
    values: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    """``PROPERTY_<id>`` → [(value id, stored value)]."""


@dataclass
class Iblock:
    id: int
    type_id: str
    code: str
    name: str
    description: str = ""
    sort: int = 500
    bizproc: bool = False
    socnet_group_id: int | None = None
    rights: dict[str, str] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    modified_at: float = 0.0
    fields: dict[str, ListField] = field(default_factory=dict)

    def document_type(self) -> list[str]:
        """bitrix24-rest.md §5.6/§5.11: feed processes vs. lists and group lists."""
        entity = (
            "BizprocDocument" if self.type_id == "bitrix_processes" else "Bitrix\\Lists\\BizprocDocumentLists"
        )
        return ["lists", entity, f"iblock_{self.id}"]

    def row(self) -> dict[str, Any]:
        """lists-get.md: the info-block row (the keys the bridge reads, as strings)."""
        return {
            "ID": str(self.id),
            "TIMESTAMP_X": display_datetime(self.modified_at),
            "IBLOCK_TYPE_ID": self.type_id,
            "LID": "s1",
            "CODE": self.code,
            "API_CODE": None,
            "NAME": self.name,
            "ACTIVE": "Y",
            "SORT": str(self.sort),
            "DESCRIPTION": self.description,
            "DESCRIPTION_TYPE": "text",
            "BIZPROC": "Y" if self.bizproc else "N",
            "WORKFLOW": "N",
            "SOCNET_GROUP_ID": str(self.socnet_group_id) if self.socnet_group_id else None,
            "ELEMENTS_NAME": self.messages.get("ELEMENTS_NAME", "Elements"),
            "ELEMENT_NAME": self.messages.get("ELEMENT_NAME", "Element"),
            "SECTIONS_NAME": self.messages.get("SECTIONS_NAME", "Sections"),
            "SECTION_NAME": self.messages.get("SECTION_NAME", "Section"),
        }


@dataclass
class ListsState:
    iblocks: dict[int, Iblock] = field(default_factory=dict)
    elements: dict[int, Element] = field(default_factory=dict)
    files: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_iblock: int = 101
    next_property: int = 1001
    next_value: int = 3001
    next_element: int = 5001
    next_enum: int = 1601
    next_file: int = 30001

    def value_id(self) -> int:
        self.next_value += 1
        return self.next_value - 1


def state(portal: Any) -> ListsState:
    return slot(portal, "lists", ListsState)


def find_element(st: ListsState, iblock: Iblock, element_id: Any = None, code: Any = None) -> Element | None:
    if not empty(element_id):
        found = st.elements.get(as_int(element_id, -1))
        return found if found is not None and found.iblock_id == iblock.id else None
    if not empty(code):
        return next(
            (e for e in st.elements.values() if e.iblock_id == iblock.id and e.code == str(code)), None
        )
    return None


# -- values ------------------------------------------------------------------------------------------
def _store_file(st: ListsState, value: Any, error: str) -> int:
    """lists-element-add.md: an F property takes base64 or ``[name, base64]``, never a file id."""
    items = as_list(value)
    if isinstance(value, list | dict) and len(items) == 2 and not str(items[0]).isdigit():
        name, content = str(items[0]), str(items[1])
    elif isinstance(value, str) and not value.strip().isdigit():
        name, content = "file", value
    else:
        # bitrix24-rest.md §5.2: a plain numeric file id → ERROR_ELEMENT_FIELD_VALUE.
        raise RestError("ERROR_ELEMENT_FIELD_VALUE", "Writing file values by ID is not supported")
    try:
        raw = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RestError(error, "Could not save file") from exc
    file_id = st.next_file
    st.next_file += 1
    # The bytes are kept so that lists.element.get.file.url's links can serve them (lists_download.py);
    # the type is guessed from the name as Bitrix's CFile does for an upload without one [S].
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    st.files[file_id] = {"name": name, "size": len(raw), "content": raw, "type": mime}
    return file_id


def file_url(iblock: Iblock, element: Element, field_id: str, file_id: int) -> str:
    """lists-element-get-file-url.md "Example Response for File Property Type": a link relative to the
    portal, ``/company/lists/<list>/file/<section>/<element>/PROPERTY_<id>/<file>/?ncc=y&download=y``
    (api-reference/files/how-to-download-files.md shows the same form)."""
    return (
        f"/company/lists/{iblock.id}/file/{element.section_id}/{element.id}/{field_id}/{file_id}/"
        "?ncc=y&download=y"
    )


def _valid(fld: ListField, value: Any) -> bool:
    """List values must be one of the field's options; numbers parse; bindings are positive ids."""
    if fld.type == "L":
        return str(value) in {str(k) for k in fld.enum}
    if fld.type in ("N", "N:Sequence"):
        try:
            float(str(value).replace(",", "."))
        except ValueError:
            return False
        return True
    if fld.type in ("S:employee", "E", "G", "E:EList", "S:DiskFile"):
        return as_int(value, -1) > 0
    return True


def internalize(st: ListsState, fld: ListField, raw: Any, error: str) -> list[Any]:
    """REST value(s) → stored values; dates become timestamps (bitrix24-rest.md §5.2, ISO is converted)."""
    values = as_list(raw) if fld.type != "F" or isinstance(raw, dict) else [raw]
    if fld.type == "F" and isinstance(raw, list) and raw and isinstance(raw[0], list | dict):
        values = raw
    if fld.type == "F" and isinstance(raw, list) and len(raw) == 2 and not isinstance(raw[0], list | dict):
        values = [raw]
    out: list[Any] = []
    for value in values:
        if value in (None, ""):
            continue
        if fld.type in ("S:Date", "S:DateTime"):
            moment = parse_datetime(value)
            if moment is None:
                raise RestError(error, f'Invalid value of the field "{fld.name}"')
            out.append(moment)
        elif fld.type == "F":
            out.append(_store_file(st, value, error))
        elif not _valid(fld, value):
            raise RestError(error, f'Invalid value of the field "{fld.name}"')
        else:
            out.append(value)
    if not fld.multiple:
        out = out[:1]
    return out


def externalize(fld: ListField, stored: Any) -> Any:
    """Stored value → what lists.element.get shows: dates in the display format (bitrix24-rest.md §5.3)."""
    if fld.type == "S:DateTime":
        return display_datetime(stored)
    if fld.type == "S:Date":
        return display_date(stored)
    return str(stored)


def property_by_name(iblock: Iblock, name: str) -> ListField | None:
    """``PROPERTY_951`` or ``PROPERTY_<CODE>`` (workflow templates address properties by code)."""
    name = name.upper()
    if name in iblock.fields:
        return iblock.fields[name]
    if name.startswith("PROPERTY_"):
        code = name[len("PROPERTY_") :]
        return next((f for f in iblock.fields.values() if f.code and f.code.upper() == code), None)
    return None


# -- the element as a business-process document (bitrix24-rest.md §5.6 DOCUMENT_ID formats) ----------
def document_element(portal: Any, document_id: list[Any]) -> tuple[Iblock, Element] | None:
    if len(document_id) != 3 or document_id[0] != "lists":
        return None
    st = state(portal)
    element = st.elements.get(as_int(document_id[2], -1))
    if element is None:
        return None
    iblock = st.iblocks[element.iblock_id]
    if iblock.document_type()[1] != document_id[1]:
        return None
    return iblock, element


def read_field(portal: Any, document_id: list[Any], name: str) -> Any:
    """A field for ``{=Document:…}``: NAME, ID, CREATED_BY, CODE or a property (a value or a list)."""
    found = document_element(portal, document_id)
    if found is None:
        return None
    iblock, element = found
    simple = {"NAME": element.name, "ID": element.id, "CREATED_BY": element.created_by, "CODE": element.code}
    if name.upper() in simple:
        return simple[name.upper()]
    fld = property_by_name(iblock, name)
    if fld is None:
        return None
    values = [v for _, v in element.values.get(fld.field_id, [])]
    return values if fld.multiple else (values[0] if values else None)


def write_field(portal: Any, document_id: list[Any], name: str, value: Any) -> bool:
    """Set one document field (the "set field" workflow step); False when the field does not exist."""
    found = document_element(portal, document_id)
    if found is None:
        return False
    iblock, element = found
    if name.upper() == "NAME":
        element.name = str(value)
        return True
    fld = property_by_name(iblock, name)
    if fld is None:
        return False
    st = state(portal)
    element.values[fld.field_id] = [(st.value_id(), v) for v in internalize(st, fld, value, "ERROR_CORE")]
    return True
