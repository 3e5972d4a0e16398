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
    FIELD_TYPES,
    IBLOCK_TYPES,
    SYSTEM_FIELDS,
    Element,
    Iblock,
    ListField,
    externalize,
    find_element,
    internalize,
    state,
)

_RIGHTS = "DRESTUWX"  # lists-add.md RIGHTS letters, weakest to strongest.


def _missing(name: str) -> RestError:
    # lists-*.md error tables: ERROR_REQUIRED_PARAMETERS_MISSING "Required parameter `X` is missing".
    return RestError("ERROR_REQUIRED_PARAMETERS_MISSING", f"Required parameter `{name}` is missing")


def _denied() -> RestError:
    return RestError("ACCESS_DENIED", "Access denied", 403)


def _iblock(ctx: CallContext, p: dict[str, Any], right: str) -> Iblock:
    """Resolve IBLOCK_TYPE_ID + IBLOCK_ID|IBLOCK_CODE (lists-element-add.md: at least one of the two)."""
    if empty(p.get("IBLOCK_TYPE_ID")):
        raise _missing("IBLOCK_TYPE_ID")
    if empty(p.get("IBLOCK_ID")) and empty(p.get("IBLOCK_CODE")):
        raise _missing("IBLOCK_ID")
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
                raise _missing(name)
        fields = upper(p["FIELDS"]) if isinstance(p["FIELDS"], dict) else {}
        if empty(fields.get("NAME")):
            raise _missing("NAME")
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


@method("lists.get", scope="lists", list_method=True)
def lists_get(ctx: CallContext, params: dict[str, Any]) -> Page:
    """lists-get.md: the lists of one type, or one list by IBLOCK_ID/IBLOCK_CODE."""
    p = upper(params)
    with lock(ctx.portal):
        if empty(p.get("IBLOCK_TYPE_ID")):
            raise _missing("IBLOCK_TYPE_ID")
        if not empty(p.get("IBLOCK_ID")) or not empty(p.get("IBLOCK_CODE")):
            try:
                rows = [_iblock(ctx, p, "R")]
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
        iblock = _iblock(ctx, p, "X")
        st = state(ctx.portal)
        for element in [e for e in st.elements.values() if e.iblock_id == iblock.id]:
            engine.document_deleted(ctx.portal, ["lists", iblock.document_type()[1], str(element.id)])
            del st.elements[element.id]
        del st.iblocks[iblock.id]
        return True


# -- fields -------------------------------------------------------------------------------------------
def _field_params(p: dict[str, Any]) -> dict[str, Any]:
    fields = p.get("FIELDS")
    if empty(fields) or not isinstance(fields, dict):
        raise _missing("FIELDS")
    fields = upper(fields)
    for name in ("NAME", "TYPE"):
        if empty(fields.get(name)):
            raise _missing(name)
    return fields


def _check_default(f: dict[str, Any], code: str) -> None:
    # [S] Bitrix\Lists\Entity\Field::validateFields: a read-only field needs a default value.
    settings = upper(f.get("SETTINGS") or {})
    if (
        yes(settings.get("ADD_READ_ONLY_FIELD"))
        and empty(f.get("DEFAULT_VALUE"))
        and empty(f.get("LIST_DEF"))
    ):
        raise RestError(code, f'The default value of the field "{f["NAME"]}" is required')


def _apply_field(st: Any, fld: ListField, f: dict[str, Any]) -> None:
    fld.name = str(f["NAME"])
    fld.is_required = yes(f.get("IS_REQUIRED"))
    fld.multiple = yes(f.get("MULTIPLE")) and fld.field_id.startswith("PROPERTY_")
    fld.sort = as_int(f.get("SORT"), fld.sort)
    fld.default_value = f.get("DEFAULT_VALUE")
    settings = {
        "SHOW_ADD_FORM": "Y",
        "SHOW_EDIT_FORM": "Y",
        "ADD_READ_ONLY_FIELD": "N",
        "EDIT_READ_ONLY_FIELD": "N",
        "SHOW_FIELD_PREVIEW": "N",
    }
    settings.update({str(k).upper(): str(v) for k, v in (f.get("SETTINGS") or {}).items()})
    fld.settings = settings
    for key in ("LINK_IBLOCK_ID", "ROW_COUNT", "COL_COUNT", "USER_TYPE_SETTINGS"):
        if key in f:
            fld.extra[key] = f[key]
    if fld.type == "L":
        texts = [line.strip() for line in str(f.get("LIST_TEXT_VALUES") or "").split("\n") if line.strip()]
        texts += [
            str(upper(v).get("VALUE", "")) if isinstance(v, dict) else str(v) for v in as_list(f.get("LIST"))
        ]
        for text in texts:
            if text and text not in fld.enum.values():
                fld.enum[st.next_enum] = text
                st.next_enum += 1


@method("lists.field.add", scope="lists")
def field_add(ctx: CallContext, params: dict[str, Any]) -> str:
    """lists-field-add.md: result ``PROPERTY_<id>`` (or the system field's code)."""
    p = upper(params)
    with lock(ctx.portal):
        iblock = _iblock(ctx, p, "X")
        f = _field_params(p)
        ftype = str(f["TYPE"])
        if ftype not in FIELD_TYPES:
            raise RestError("ERROR_SAVE_FIELD", "Error saving the field")
        _check_default(f, "ERROR_SAVE_FIELD")
        st = state(ctx.portal)
        if ftype in SYSTEM_FIELDS:
            fld = iblock.fields.setdefault(ftype, ListField(ftype, str(f["NAME"]), ftype))
            _apply_field(st, fld, f)
            return ftype
        code = str(f.get("CODE") or "")
        if not code:
            # [S] + n8n field reports (§5.5): a custom field without CODE is refused.
            raise RestError("ERROR_SAVE_FIELD", "Please fill the code fields")
        if any(x.code == code for x in iblock.fields.values()):
            raise RestError("ERROR_SAVE_FIELD", "Property already exists")
        field_id = f"PROPERTY_{st.next_property}"
        fld = ListField(field_id, str(f["NAME"]), ftype, prop_id=st.next_property, code=code)
        st.next_property += 1
        _apply_field(st, fld, f)
        iblock.fields[field_id] = fld
        return field_id


@method("lists.field.get", scope="lists")
def field_get(ctx: CallContext, params: dict[str, Any]) -> Any:
    """lists-field-get.md + §11.10: with FIELD_ID the result is keyed by the field TYPE, else by field id."""
    p = upper(params)
    with lock(ctx.portal):
        iblock = _iblock(ctx, p, "R")
        if not empty(p.get("FIELD_ID")):
            fld = iblock.fields.get(str(p["FIELD_ID"]))
            return {fld.type: fld.describe(iblock.id)} if fld else []
        ordered = sorted(iblock.fields.values(), key=lambda x: x.sort)
        return {x.field_id: x.describe(iblock.id) for x in ordered}


@method("lists.field.update", scope="lists")
def field_update(ctx: CallContext, params: dict[str, Any]) -> bool:
    """lists-field-update.md: FIELD_ID*, FIELDS{NAME*, TYPE* — the same type as before}."""
    p = upper(params)
    with lock(ctx.portal):
        iblock = _iblock(ctx, p, "X")
        if empty(p.get("FIELD_ID")):
            raise _missing("FIELD_ID")
        f = _field_params(p)
        fld = iblock.fields.get(str(p["FIELD_ID"]))
        if fld is None:
            raise RestError("ERROR_UPDATE_FIELD", "Error update the field")
        if str(f["TYPE"]) != fld.type:
            # [S] Field::canChangeField: "Field type can not be changed".
            raise RestError("ERROR_UPDATE_FIELD", "Field type can not be changed")
        _check_default(f, "ERROR_UPDATE_FIELD")
        _apply_field(state(ctx.portal), fld, f)
        return True


@method("lists.field.delete", scope="lists")
def field_delete(ctx: CallContext, params: dict[str, Any]) -> bool:
    """lists-field-delete.md: FIELD_ID*; [S] returns true even for an unknown id."""
    p = upper(params)
    with lock(ctx.portal):
        iblock = _iblock(ctx, p, "X")
        if empty(p.get("FIELD_ID")):
            raise _missing("FIELD_ID")
        field_id = str(p["FIELD_ID"])
        if field_id != "NAME" and iblock.fields.pop(field_id, None) is not None:
            for element in state(ctx.portal).elements.values():
                element.values.pop(field_id, None)
        return True


@method("lists.field.type.get", scope="lists")
def field_type_get(ctx: CallContext, params: dict[str, Any]) -> dict[str, str]:
    """lists-field-type-get.md: type code → label."""
    p = upper(params)
    with lock(ctx.portal):
        _iblock(ctx, p, "R")
        return dict(FIELD_TYPES)


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
        raise _missing("FIELDS")
    fields = upper(p["FIELDS"])
    if empty(fields.get("NAME")):
        raise _missing("NAME")
    return fields


@method("lists.element.add", scope="lists")
def element_add(ctx: CallContext, params: dict[str, Any]) -> int:
    """lists-element-add.md + §5.2: ELEMENT_CODE* unique; auto-starts "on create" workflows."""
    p = upper(params)
    with lock(ctx.portal):
        iblock = _iblock(ctx, p, "E")
        if empty(p.get("ELEMENT_CODE")):
            raise _missing("ELEMENT_CODE")
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
        iblock = _iblock(ctx, p, "R")
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
        iblock = _iblock(ctx, p, "U")
        if empty(p.get("ELEMENT_ID")) and empty(p.get("ELEMENT_CODE")):
            raise _missing("ELEMENT_ID")
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
        iblock = _iblock(ctx, p, "W")
        if empty(p.get("ELEMENT_ID")) and empty(p.get("ELEMENT_CODE")):
            raise _missing("ELEMENT_ID")
        st = state(ctx.portal)
        element = find_element(st, iblock, p.get("ELEMENT_ID"), p.get("ELEMENT_CODE"))
        if element is None:
            raise RestError("ERROR_ELEMENT_NOT_FOUND", "Element not found")
        engine.document_deleted(ctx.portal, ["lists", iblock.document_type()[1], str(element.id)])
        del st.elements[element.id]
        return True
