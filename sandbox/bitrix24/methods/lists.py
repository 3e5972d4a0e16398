"""``lists.*``: universal lists and "processes in the feed" (IBLOCK_TYPE_ID ``bitrix_processes``).

Owns the REST surface: parameter checks, the documented errors, access rights per list, paging, and the
auto-start of the list's business processes when an element is added or updated. The records themselves
live in sandbox/bitrix24/procs_lists_model.py; workflows run in sandbox/bitrix24/bizproc_engine.py.
Sources: ../shared/reference/bitrix24-rest.md §5.1–§5.5, §11.10–§11.12; api-reference/lists/** (b24restdocs).
"""

from __future__ import annotations

from typing import Any

from sandbox.bitrix24 import bizproc_engine as engine
from sandbox.bitrix24.core import CallContext, Page, RestError, method
from sandbox.bitrix24.procs_common import (
    as_int,
    as_list,
    display_datetime,
    empty,
    filter_rows,
    is_admin,
    lock,
    now,
    order_rows,
    paged,
    upper,
    yes,
)
from sandbox.bitrix24.procs_lists_model import (
    IBLOCK_TYPES,
    Element,
    Iblock,
    ListField,
    externalize,
    find_element,
    internalize,
    state,
)

_RIGHTS = "DRESTUWX"  # lists-add.md RIGHTS letters, weakest to strongest.


def missing(name: str) -> RestError:
    # lists-*.md error tables: ERROR_REQUIRED_PARAMETERS_MISSING "Required parameter `X` is missing".
    return RestError("ERROR_REQUIRED_PARAMETERS_MISSING", f"Required parameter `{name}` is missing")


def _denied() -> RestError:
    return RestError("ACCESS_DENIED", "Access denied", 403)


def resolve_iblock(ctx: CallContext, p: dict[str, Any], right: str) -> Iblock:
    """Resolve IBLOCK_TYPE_ID + IBLOCK_ID|IBLOCK_CODE (lists-element-add.md: at least one of the two)."""
    if empty(p.get("IBLOCK_TYPE_ID")):
        raise missing("IBLOCK_TYPE_ID")
    if empty(p.get("IBLOCK_ID")) and empty(p.get("IBLOCK_CODE")):
        raise missing("IBLOCK_ID")
    st = state(ctx.portal)
    if not empty(p.get("IBLOCK_ID")):
        found = st.iblocks.get(as_int(p["IBLOCK_ID"], -1))
    else:
        found = next((b for b in st.iblocks.values() if b.code == str(p["IBLOCK_CODE"])), None)
    if found is None or found.type_id != str(p["IBLOCK_TYPE_ID"]):
        raise RestError("ERROR_IBLOCK_NOT_FOUND", "Iblock not found")
    if found.type_id == "lists_socnet" and as_int(p.get("SOCNET_GROUP_ID")) != found.socnet_group_id:
        # lists-get.md: SOCNET_GROUP_ID is required for group lists, "otherwise, an access error".
        raise _denied()
    _check_right(ctx, found, right)
    return found


def _check_right(ctx: CallContext, iblock: Iblock, needed: str) -> None:
    """lists-add.md RIGHTS: ``U<id>``/``*`` → a letter; admins pass; without RIGHTS the creator has X."""
    if is_admin(ctx):
        return
    uid = ctx.caller.user_id
    letters = [iblock.rights.get(code, "D") for code in (f"U{uid}", "*", "G2", "AU")]
    best = max(_RIGHTS.index(letter) if letter in _RIGHTS else 0 for letter in letters)
    if best < _RIGHTS.index(needed):
        raise _denied()


@method("lists.add", scope="lists")
def lists_add(ctx: CallContext, params: dict[str, Any]) -> int:
    """lists-add.md: administrator; IBLOCK_TYPE_ID*, IBLOCK_CODE*, FIELDS{NAME*}; result = new id."""
    p = upper(params)
    with lock(ctx.portal):
        if not is_admin(ctx):
            raise _denied()
        for name in ("IBLOCK_TYPE_ID", "IBLOCK_CODE", "FIELDS"):
            if empty(p.get(name)):
                raise missing(name)
        fields = upper(p["FIELDS"]) if isinstance(p["FIELDS"], dict) else {}
        if empty(fields.get("NAME")):
            raise missing("NAME")
        if str(p["IBLOCK_TYPE_ID"]) not in IBLOCK_TYPES:
            raise RestError("ERROR_ADD_IBLOCK", "Incorrect information block type")
        st = state(ctx.portal)
        if any(b.code == str(p["IBLOCK_CODE"]) for b in st.iblocks.values()):
            raise RestError("ERROR_IBLOCK_ALREADY_EXISTS", "Iblock already exists")
        iblock = Iblock(
            id=st.next_iblock,
            type_id=str(p["IBLOCK_TYPE_ID"]),
            code=str(p["IBLOCK_CODE"]),
            name=str(fields["NAME"]),
            description=str(fields.get("DESCRIPTION") or ""),
            sort=as_int(fields.get("SORT"), 500),
            # Feed processes always run business processes; other lists only with BIZPROC=Y.
            bizproc=p["IBLOCK_TYPE_ID"] == "bitrix_processes" or yes(fields.get("BIZPROC")),
            socnet_group_id=as_int(p.get("SOCNET_GROUP_ID")) or None,
            # lists-add.md: without RIGHTS the calling user gets full access.
            rights={str(k): str(v) for k, v in (p.get("RIGHTS") or {f"U{ctx.caller.user_id}": "X"}).items()},
            messages={str(k).upper(): str(v) for k, v in (p.get("MESSAGES") or {}).items()},
            modified_at=now(ctx.portal),
        )
        iblock.fields["NAME"] = ListField("NAME", "Name", "NAME", is_required=True, sort=10)
        st.next_iblock += 1
        st.iblocks[iblock.id] = iblock
        return iblock.id


@method("lists.update", scope="lists")
def lists_update(ctx: CallContext, params: dict[str, Any]) -> bool:
    """lists-update.md: IBLOCK_TYPE_ID*, IBLOCK_ID|IBLOCK_CODE*, FIELDS{NAME*, DESCRIPTION, SORT}, MESSAGES,
    RIGHTS; result true. The page's note: fields left out of FIELDS are reset, so they are written too."""
    p = upper(params)
    with lock(ctx.portal):
        iblock = resolve_iblock(ctx, p, "X")
        fields = upper(p["FIELDS"]) if isinstance(p.get("FIELDS"), dict) else {}
        if empty(fields.get("NAME")):
            raise missing("NAME")
        iblock.name = str(fields["NAME"])
        iblock.description = str(fields.get("DESCRIPTION") or "")
        iblock.sort = as_int(fields.get("SORT"), 500)
        if isinstance(p.get("RIGHTS"), dict):
            iblock.rights = {str(k): str(v) for k, v in p["RIGHTS"].items()}
        if isinstance(p.get("MESSAGES"), dict):
            iblock.messages = {str(k).upper(): str(v) for k, v in p["MESSAGES"].items()}
        iblock.modified_at = now(ctx.portal)
        return True


@method("lists.get", scope="lists", list_method=True)
def lists_get(ctx: CallContext, params: dict[str, Any]) -> Page:
    """lists-get.md: the lists of one type, or one list by IBLOCK_ID/IBLOCK_CODE."""
    p = upper(params)
    with lock(ctx.portal):
        if empty(p.get("IBLOCK_TYPE_ID")):
            raise missing("IBLOCK_TYPE_ID")
        if not empty(p.get("IBLOCK_ID")) or not empty(p.get("IBLOCK_CODE")):
            try:
                rows = [resolve_iblock(ctx, p, "R")]
            except RestError as err:
                if err.code != "ERROR_IBLOCK_NOT_FOUND":
                    raise
                rows = []
        else:
            rows = [b for b in state(ctx.portal).iblocks.values() if b.type_id == p["IBLOCK_TYPE_ID"]]
            if p["IBLOCK_TYPE_ID"] == "lists_socnet":
                rows = [b for b in rows if b.socnet_group_id == as_int(p.get("SOCNET_GROUP_ID"))]
        rows = order_rows(rows, p.get("IBLOCK_ORDER") or {"ID": "asc"}, lambda b, n: b.row().get(n))
        return paged([b.row() for b in rows], params.get("start"))


@method("lists.delete", scope="lists")
def lists_delete(ctx: CallContext, params: dict[str, Any]) -> bool:
    """lists-delete.md: removes the list and its elements."""
    p = upper(params)
    with lock(ctx.portal):
        iblock = resolve_iblock(ctx, p, "X")
        st = state(ctx.portal)
        for element in [e for e in st.elements.values() if e.iblock_id == iblock.id]:
            engine.document_deleted(ctx.portal, ["lists", iblock.document_type()[1], str(element.id)])
            del st.elements[element.id]
        del st.iblocks[iblock.id]
        return True


# -- elements -----------------------------------------------------------------------------------------
def _values(ctx: CallContext, iblock: Iblock, fields: dict[str, Any], old: Element | None, code: str) -> Any:
    """FIELDS → stored values. Update overwrites every property except files (bitrix24-rest.md §5.4)."""
    st = state(ctx.portal)
    out: dict[str, list[tuple[int, Any]]] = {}
    for fld in iblock.fields.values():
        if fld.prop_id is None:
            continue
        given = fields.get(fld.field_id)
        if fld.type == "F" and old is not None:
            # how-to-update-files.md: existing files stay unless PROPERTY_<id>_DEL marks them.
            drop = {str(k) for k, v in (fields.get(f"{fld.field_id}_DEL") or {}).items() if yes(v)}
            kept = [(vid, v) for vid, v in old.values.get(fld.field_id, []) if str(vid) not in drop]
            new = [(st.value_id(), v) for v in internalize(st, fld, given, code)] if not empty(given) else []
            out[fld.field_id] = kept + new if fld.multiple else (new or kept)[:1]
        else:
            out[fld.field_id] = [(st.value_id(), v) for v in internalize(st, fld, given, code)]
        if fld.is_required and not out[fld.field_id]:
            raise RestError(code, f'The field "{fld.name}" is required')
    return out


def _row(iblock: Iblock, e: Element) -> dict[str, Any]:
    """lists-element-get.md: properties come back keyed by value id, even single ones (§5.3)."""
    row: dict[str, Any] = {
        "ID": str(e.id),
        "IBLOCK_ID": str(iblock.id),
        "NAME": e.name,
        "IBLOCK_SECTION_ID": str(e.section_id) if e.section_id else None,
        "CREATED_BY": str(e.created_by),
        "BP_PUBLISHED": "Y",
        "CODE": e.code,
        "DATE_CREATE": display_datetime(e.created_at),
        "TIMESTAMP_X": display_datetime(e.modified_at),
    }
    for field_id, values in e.values.items():
        fld = iblock.fields.get(field_id)
        if fld is not None and values:
            row[field_id] = {str(vid): externalize(fld, v) for vid, v in values}
    return row


def _element_fields(p: dict[str, Any]) -> dict[str, Any]:
    if empty(p.get("FIELDS")) or not isinstance(p["FIELDS"], dict):
        raise missing("FIELDS")
    fields = upper(p["FIELDS"])
    if empty(fields.get("NAME")):
        raise missing("NAME")
    return fields


@method("lists.element.add", scope="lists")
def element_add(ctx: CallContext, params: dict[str, Any]) -> int:
    """lists-element-add.md + §5.2: ELEMENT_CODE* unique; auto-starts "on create" workflows."""
    p = upper(params)
    with lock(ctx.portal):
        engine.tick(ctx.portal)  # time-outs due on the portal clock fire first
        iblock = resolve_iblock(ctx, p, "E")
        if empty(p.get("ELEMENT_CODE")):
            raise missing("ELEMENT_CODE")
        fields = _element_fields(p)
        st = state(ctx.portal)
        if find_element(st, iblock, code=p["ELEMENT_CODE"]) is not None:
            raise RestError("ERROR_ELEMENT_ALREADY_EXISTS", "Element already exists")
        values = _values(ctx, iblock, fields, None, "ERROR_ADD_ELEMENT")
        if iblock.bizproc:
            # §5.2 [S]: unconfigured constants of an auto-start template make the add fail.
            engine.check_autostart(ctx.portal, iblock.document_type(), engine.ON_CREATE, "ERROR_ADD_ELEMENT")
        moment = now(ctx.portal)
        element = Element(
            st.next_element,
            iblock.id,
            str(p["ELEMENT_CODE"]),
            str(fields["NAME"]),
            as_int(p.get("IBLOCK_SECTION_ID")),
            ctx.caller.user_id,
            moment,
            moment,
            values,
        )
        st.next_element += 1
        st.elements[element.id] = element
        if iblock.bizproc:
            # §5.2 [S] / §11.12: adding the element starts the "on create" templates as the caller.
            doc_id = ["lists", iblock.document_type()[1], str(element.id)]
            engine.autostart(ctx.portal, doc_id, iblock.document_type(), engine.ON_CREATE, ctx.caller.user_id)
        return element.id


@method("lists.element.get", scope="lists", list_method=True)
def element_get(ctx: CallContext, params: dict[str, Any]) -> Page:
    """lists-element-get.md: one element (ELEMENT_ID/ELEMENT_CODE) or the filtered, ordered list."""
    p = upper(params)
    with lock(ctx.portal):
        engine.tick(ctx.portal)  # time-outs due on the portal clock fire first
        iblock = resolve_iblock(ctx, p, "R")
        st = state(ctx.portal)
        elements = [e for e in st.elements.values() if e.iblock_id == iblock.id]
        if not empty(p.get("ELEMENT_ID")) or not empty(p.get("ELEMENT_CODE")):
            one = find_element(st, iblock, p.get("ELEMENT_ID"), p.get("ELEMENT_CODE"))
            elements = [one] if one is not None else []
        rows = [_row(iblock, e) for e in elements]
        rows = filter_rows(rows, p.get("FILTER"), lambda r, n: _filter_value(r, n))
        rows = order_rows(rows, p.get("ELEMENT_ORDER") or {"ID": "asc"}, lambda r, n: _filter_value(r, n))
        select = [str(s).upper() for s in as_list(p.get("SELECT"))]
        if select:
            rows = [{k: v for k, v in r.items() if k in select or k == "ID"} for r in rows]
        return paged(rows, params.get("start"))


def _filter_value(row: dict[str, Any], name: str) -> Any:
    value = row.get(name)
    return list(value.values()) if isinstance(value, dict) else value


@method("lists.element.update", scope="lists")
def element_update(ctx: CallContext, params: dict[str, Any]) -> bool:
    """lists-element-update.md + §5.4: a full overwrite; auto-starts "on edit" workflows ([S])."""
    p = upper(params)
    with lock(ctx.portal):
        engine.tick(ctx.portal)  # time-outs due on the portal clock fire first
        iblock = resolve_iblock(ctx, p, "U")
        if empty(p.get("ELEMENT_ID")) and empty(p.get("ELEMENT_CODE")):
            raise missing("ELEMENT_ID")
        st = state(ctx.portal)
        element = find_element(st, iblock, p.get("ELEMENT_ID"), p.get("ELEMENT_CODE"))
        if element is None:
            raise RestError("ERROR_ELEMENT_NOT_FOUND", "Element not found")
        fields = _element_fields(p)
        values = _values(ctx, iblock, fields, element, "ERROR_UPDATE_ELEMENT")
        if iblock.bizproc:
            engine.check_autostart(ctx.portal, iblock.document_type(), engine.ON_EDIT, "ERROR_UPDATE_ELEMENT")
        element.name = str(fields["NAME"])
        element.values = values
        element.modified_at = now(ctx.portal)
        if "IBLOCK_SECTION_ID" in p:
            element.section_id = as_int(p.get("IBLOCK_SECTION_ID"))
        if iblock.bizproc:
            doc_id = ["lists", iblock.document_type()[1], str(element.id)]
            engine.autostart(ctx.portal, doc_id, iblock.document_type(), engine.ON_EDIT, ctx.caller.user_id)
        return True


@method("lists.element.delete", scope="lists")
def element_delete(ctx: CallContext, params: dict[str, Any]) -> bool:
    """lists-element-delete.md: ELEMENT_ID|ELEMENT_CODE*; the element's workflows go with it."""
    p = upper(params)
    with lock(ctx.portal):
        engine.tick(ctx.portal)  # time-outs due on the portal clock fire first
        iblock = resolve_iblock(ctx, p, "W")
        if empty(p.get("ELEMENT_ID")) and empty(p.get("ELEMENT_CODE")):
            raise missing("ELEMENT_ID")
        st = state(ctx.portal)
        element = find_element(st, iblock, p.get("ELEMENT_ID"), p.get("ELEMENT_CODE"))
        if element is None:
            raise RestError("ERROR_ELEMENT_NOT_FOUND", "Element not found")
        engine.document_deleted(ctx.portal, ["lists", iblock.document_type()[1], str(element.id)])
        del st.elements[element.id]
        return True
