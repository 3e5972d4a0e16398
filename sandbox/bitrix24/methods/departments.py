"""``department.*`` (REST v2): add/get/update/delete/fields over ID, NAME, SORT, PARENT, UF_HEAD.

Sources: bitrix24-rest.md §3 (api-reference/departments/*.md): read by any user, write needs the
"modify structure" right (the sandbox: portal admins); errors are ERROR_CORE with the documented texts;
department.get rows have ``ID``/``PARENT`` strings, ``SORT`` int, ``UF_HEAD`` only when set.
"""

from __future__ import annotations

from typing import Any

from sandbox.bitrix24.core import CallContext, Page, RestError, method
from sandbox.bitrix24.envelope import paged
from sandbox.bitrix24.params import upper_keys
from sandbox.bitrix24.presenters import matches, split_operator
from sandbox.bitrix24.state import Portal

NO_NAME = "Department name not provided.<br>"  # §3 (sic, with the HTML break)
ONE_ROOT = "There can only be one top-level department in the company structure"
NOT_FOUND = "Department not found"
DENIED = "Access denied"
FIELDS = {
    "ID": "ID",
    "NAME": "Department Name",
    "SORT": "Sort Order",
    "PARENT": "Parent Department",
    "UF_HEAD": "Manager",
}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _require_writer(ctx: CallContext) -> None:
    if not ctx.caller.is_admin:
        raise RestError("ERROR_CORE", DENIED)


def _row(dept: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"ID": str(dept["ID"]), "NAME": dept["NAME"], "SORT": int(dept["SORT"])}
    if dept.get("PARENT") is not None:
        row["PARENT"] = str(dept["PARENT"])
    if dept.get("UF_HEAD"):
        row["UF_HEAD"] = str(dept["UF_HEAD"])
    return row


def _root(portal: Portal) -> int | None:
    return next((d["ID"] for d in portal.departments.values() if d.get("PARENT") is None), None)


@method("department.add", scope="department")
def department_add(ctx: CallContext, params: dict[str, Any]) -> int:
    portal: Portal = ctx.portal
    _require_writer(ctx)
    p = upper_keys(params)
    name = str(p.get("NAME") or "").strip()
    if not name:
        raise RestError("ERROR_CORE", NO_NAME)
    parent = _int(p.get("PARENT"))
    if parent is None or parent == 0:
        if _root(portal) is not None:
            raise RestError("ERROR_CORE", ONE_ROOT)
        parent = None
    elif parent not in portal.departments:
        raise RestError("ERROR_CORE", NOT_FOUND)
    dept_id = portal.next_department_id
    portal.next_department_id += 1
    head = _int(p.get("UF_HEAD"))
    portal.departments[dept_id] = {
        "ID": dept_id,
        "NAME": name,
        "SORT": _int(p.get("SORT")) or 500,
        "PARENT": parent,
        "UF_HEAD": head or None,
    }
    return dept_id


@method("department.get", scope="department", list_method=True)
def department_get(ctx: CallContext, params: dict[str, Any]) -> Page:
    """Filters are top-level keys (ID, NAME exact, SORT, PARENT, UF_HEAD); sort/order; lowercase start."""
    portal: Portal = ctx.portal
    rows = list(portal.departments.values())
    # Lowercase `sort`/`order` name the ordering; upper-case keys (ID, NAME, SORT…) are filters (§3).
    for raw_key, value in params.items():
        op, field = split_operator(str(raw_key))
        if field in FIELDS:
            rows = [d for d in rows if matches(op, d.get(field), value)]
    sort = str(params.get("sort") or "ID").upper()
    sort = sort if sort in FIELDS else "ID"
    desc = str(params.get("order") or "ASC").upper() == "DESC"

    def key(d: dict[str, Any]) -> tuple[bool, Any]:
        value = d.get(sort)
        return (value is None, str(value) if sort == "NAME" else (value or 0))

    rows.sort(key=key, reverse=desc)
    return paged([_row(d) for d in rows], params.get("start"))


@method("department.update", scope="department")
def department_update(ctx: CallContext, params: dict[str, Any]) -> bool:
    portal: Portal = ctx.portal
    _require_writer(ctx)
    p = upper_keys(params)
    dept = portal.departments.get(_int(p.get("ID")) or 0)
    if dept is None:
        raise RestError("ERROR_CORE", NOT_FOUND)
    if "NAME" in p:
        name = str(p.get("NAME") or "").strip()
        if not name:
            raise RestError("ERROR_CORE", NO_NAME)
        dept["NAME"] = name
    if "PARENT" in p:
        parent = _int(p.get("PARENT"))
        if not parent:
            root = _root(portal)
            if root is not None and root != dept["ID"]:
                raise RestError("ERROR_CORE", ONE_ROOT)
            dept["PARENT"] = None
        elif parent not in portal.departments or parent == dept["ID"]:
            raise RestError("ERROR_CORE", NOT_FOUND)
        else:
            dept["PARENT"] = parent
    if "SORT" in p and _int(p.get("SORT")) is not None:
        dept["SORT"] = _int(p.get("SORT"))
    if "UF_HEAD" in p:
        dept["UF_HEAD"] = _int(p.get("UF_HEAD")) or None
    return True


@method("department.delete", scope="department")
def department_delete(ctx: CallContext, params: dict[str, Any]) -> bool:
    portal: Portal = ctx.portal
    _require_writer(ctx)
    dept_id = _int(upper_keys(params).get("ID")) or 0
    if dept_id not in portal.departments:
        raise RestError("ERROR_CORE", NOT_FOUND)
    gone = portal.departments.pop(dept_id)
    for child in portal.departments.values():
        if child.get("PARENT") == dept_id:
            child["PARENT"] = gone.get("PARENT")
    return True


@method("department.fields", scope="department")
def department_fields(ctx: CallContext, params: dict[str, Any]) -> dict[str, str]:
    return dict(FIELDS)
