"""``lists.element.get.file.url``: the download links of one File or File (Drive) property of an element.

Sources: api-reference/lists/elements/lists-element-get-file-url.md (b24restdocs): scope ``lists``, "a user
with Read access permission for the required list"; IBLOCK_TYPE_ID*, IBLOCK_ID|IBLOCK_CODE*,
ELEMENT_ID|ELEMENT_CODE*, FIELD_ID* (the property id without the ``PROPERTY_`` prefix); the result is an
array of links, empty when the property holds no file; errors ERROR_REQUIRED_PARAMETERS_MISSING,
ERROR_IBLOCK_NOT_FOUND, ERROR_ELEMENT_NOT_FOUND, ACCESS_DENIED. The links themselves are served by
sandbox/bitrix24/lists_download.py.
"""

from __future__ import annotations

from typing import Any

from sandbox.bitrix24.core import CallContext, RestError, method
from sandbox.bitrix24.methods.lists import missing, resolve_iblock
from sandbox.bitrix24.procs_common import as_int, empty, lock, upper
from sandbox.bitrix24.procs_lists_model import file_url, find_element, state

# The page's parameter table, in its order; each row needs one of its names.
_REQUIRED = (("IBLOCK_TYPE_ID",), ("IBLOCK_ID", "IBLOCK_CODE"), ("ELEMENT_ID", "ELEMENT_CODE"), ("FIELD_ID",))


@method("lists.element.get.file.url", scope="lists")
def element_file_url(ctx: CallContext, params: dict[str, Any]) -> list[str]:
    """The links of the property's files, in value order (relative to the portal, as the page shows)."""
    p = upper(params)
    with lock(ctx.portal):
        for names in _REQUIRED:
            if all(empty(p.get(name)) for name in names):
                raise missing(names[0])
        iblock = resolve_iblock(ctx, p, "R")
        element = find_element(state(ctx.portal), iblock, p.get("ELEMENT_ID"), p.get("ELEMENT_CODE"))
        if element is None:
            raise RestError("ERROR_ELEMENT_NOT_FOUND", "Element not found")
        field_id = f"PROPERTY_{as_int(p['FIELD_ID'], -1)}"
        fld = iblock.fields.get(field_id)
        # The page lists no error for a property that is not a file one (or a FIELD_ID given with its
        # PROPERTY_ prefix): the sandbox answers what it says of a property without files, an empty array.
        if fld is None or fld.type not in ("F", "S:DiskFile"):
            return []
        values = element.values.get(field_id, [])
        if fld.type == "S:DiskFile":
            # The page's "File (Drive)" example: a link through the attachment (not served by the sandbox).
            return [f"/bitrix/tools/disk/uf.php?attachedId={v}&action=download&ncc=1" for _vid, v in values]
        return [file_url(iblock, element, field_id, int(v)) for _vid, v in values]
