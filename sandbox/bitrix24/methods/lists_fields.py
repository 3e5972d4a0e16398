"""``lists.field.*``: the fields of a universal list (custom properties and system fields).

Owns field add/get/update/delete/type.get with the documented errors, including the quirks: a custom
field needs CODE, the type cannot change, ``lists.field.get`` with FIELD_ID keys the result by TYPE.
Sources: ../shared/reference/bitrix24-rest.md §5.5, §11.10; api-reference/lists/fields/*.md;
[S] Bitrix\\Lists\\Entity\\Field (messages where the docs are silent).
"""

from __future__ import annotations

from typing import Any

from sandbox.bitrix24.core import CallContext, RestError, method
from sandbox.bitrix24.methods.lists import missing, resolve_iblock
from sandbox.bitrix24.procs_common import as_int, as_list, empty, lock, upper, yes
from sandbox.bitrix24.procs_lists_model import FIELD_TYPES, SYSTEM_FIELDS, ListField, state


# -- fields -------------------------------------------------------------------------------------------
def _field_params(p: dict[str, Any]) -> dict[str, Any]:
    fields = p.get("FIELDS")
    if empty(fields) or not isinstance(fields, dict):
        raise missing("FIELDS")
    fields = upper(fields)
    for name in ("NAME", "TYPE"):
        if empty(fields.get(name)):
            raise missing(name)
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
        iblock = resolve_iblock(ctx, p, "X")
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
        iblock = resolve_iblock(ctx, p, "R")
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
        iblock = resolve_iblock(ctx, p, "X")
        if empty(p.get("FIELD_ID")):
            raise missing("FIELD_ID")
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
        iblock = resolve_iblock(ctx, p, "X")
        if empty(p.get("FIELD_ID")):
            raise missing("FIELD_ID")
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
        resolve_iblock(ctx, p, "R")
        return dict(FIELD_TYPES)
